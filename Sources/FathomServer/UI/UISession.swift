import Crypto
import FathomWebUI
import Foundation
import HTTPTypes
import Hummingbird
import FathomCore
import Synchronization

/// Browser sessions for the web UI when the coordinator has a token.
///
/// Signing in with the token makes a session: a random 256-bit id in an HttpOnly, SameSite=Strict cookie,
/// so the token itself never sits in the browser. The coordinator keeps each session's SHA-256 and its
/// expiry (``lifetime`` after sign-in); signing out revokes it, and a restart ends them all (sign in
/// again). A page asked for without a session answers 401 with the sign-in form, which comes back to it;
/// scripts may send `Authorization: Bearer TOKEN` instead.
final class UISession: Sendable {
    static let cookieName = "fathom_session"
    /// At most this many live sessions; the oldest goes first.
    static let maximumSessions = 10_000
    let token: String?
    let lifetime: Duration
    let clock: @Sendable () -> Date
    private let sessions = Mutex<[String: Date]>([:])

    init(token: String?, lifetime: Duration = .seconds(12 * 3600), clock: @escaping @Sendable () -> Date = Date.init) {
        self.token = token
        self.lifetime = lifetime
        self.clock = clock
    }

    /// Whether the UI asks for a session at all.
    var isRequired: Bool { !(token ?? "").isEmpty }

    /// Whether `request` carries a live session (always true without a token).
    func isSignedIn(_ request: Request) -> Bool {
        guard isRequired else { return true }
        guard let id = request.cookies[Self.cookieName]?.value, !id.isEmpty else { return false }
        let key = Self.digest(id)
        let now = clock()
        return sessions.withLock { sessions in
            guard let expiry = sessions[key] else { return false }
            guard expiry > now else {
                sessions[key] = nil
                return false
            }
            return true
        }
    }

    /// Whether `given` is the token.
    func accepts(token given: String) -> Bool {
        guard let token, !token.isEmpty else { return true }
        return TokenMiddleware<BasicRequestContext>.constantTimeEqual(given, token)
    }

    /// Starts a session; the `Set-Cookie` value that carries it.
    func signIn() -> String {
        var generator = SystemRandomNumberGenerator()
        let id = Hex.lowercase((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let now = clock()
        let expiry = now.addingTimeInterval(lifetime.inSeconds)
        sessions.withLock { sessions in
            sessions = sessions.filter { $0.value > now }
            while sessions.count >= Self.maximumSessions, let oldest = sessions.min(by: { $0.value < $1.value })?.key {
                sessions[oldest] = nil
            }
            sessions[Self.digest(id)] = expiry
        }
        return "\(Self.cookieName)=\(id); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(Int(saturating: lifetime.inSeconds))"
    }

    /// Ends the request's session, if any; the `Set-Cookie` value that clears it.
    func signOut(_ request: Request) -> String {
        if let id = request.cookies[Self.cookieName]?.value {
            _ = sessions.withLock { $0.removeValue(forKey: Self.digest(id)) }
        }
        return "\(Self.cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    }

    static func digest(_ id: String) -> String {
        Hex.lowercase(SHA256.hash(data: Data(id.utf8)))
    }
}

/// Guards the web UI: a session when a token is set, and same-origin form posts only.
struct UIGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let session: UISession
    let ui: WebUI

    /// Paths that need no session: the API (it has its own token check), health, signing in and out, static files.
    static func isOpen(_ path: String) -> Bool {
        path.hasPrefix("/api/") || path == "/healthz" || path == "/readyz" || path == "/login" || path == "/logout" || path.hasPrefix("/ui/")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if request.method == .post, !path.hasPrefix("/api/"), !Self.isSameOrigin(request) {
            return HTMLResponse.page(
                ui, ErrorPage(heading: "Refused", message: "This form came from another site, so Fathom did not act on it."),
                status: .forbidden)
        }
        guard session.isRequired, !Self.isOpen(path), !session.isSignedIn(request) else {
            return try await answerInHTML(request, context: context, next: next)
        }
        // Scripts (curl of a run's log.txt, Prometheus on /metrics) send the token itself; a browser never
        // attaches this header on its own, so it cannot be used across sites.
        if let bearer = request.headers[.authorization], bearer.hasPrefix("Bearer "), session.accepts(token: String(bearer.dropFirst(7))) {
            return try await answerInHTML(request, context: context, next: next)
        }
        var headers: HTTPFields = [.wwwAuthenticate: #"Bearer realm="fathom""#]
        if request.method == .get, path != "/metrics" {
            // The sign-in form in place, answered 401: signing in comes back to this page.
            headers[.cacheControl] = "no-store"
            return HTMLResponse.page(ui, LoginPage(next: request.uri.description), status: .unauthorized, headers: headers)
        }
        return HTMLResponse.page(
            ui, ErrorPage(heading: "Sign in first", message: "This coordinator requires its token: sign in at /login, or send Authorization: Bearer TOKEN."),
            status: .unauthorized, headers: headers)
    }

    /// A page's refusal (an unknown schedule, a malformed form) as an HTML page with the same status and
    /// message; the API's paths keep their JSON errors.
    func answerInHTML(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any ErrorAnswer where !request.uri.path.hasPrefix("/api/") {
            let body = error.body.error
            let heading = error.status.code == 404 ? "Not found" : "Refused"
            let fix = body.fix.flatMap { body.message.contains($0) ? nil : $0 }  // a not-found message carries its fix already
            return HTMLResponse.page(ui, ErrorPage(heading: heading, message: [body.message, fix].compactMap { $0 }.joined(separator: ". ")), status: error.status)
        }
    }

    /// A browser's form post from a page of this server: `Sec-Fetch-Site` and `Origin`, when sent, must agree.
    static func isSameOrigin(_ request: Request) -> Bool {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], !["same-origin", "none"].contains(site) { return false }
        guard let origin = request.headers[.origin] else { return true }
        guard let host = request.head.authority, let url = URL(string: origin), let originHost = url.host
        else { return false }
        let originAuthority = url.port.map { "\(originHost):\($0)" } ?? originHost
        return originAuthority == host
    }
}

/// HTML answers.
enum HTMLResponse {
    static func page<Page: WebPage>(
        _ ui: WebUI, _ page: Page, status: HTTPResponse.Status = .ok, signedIn: Bool = false, headers: HTTPFields = [:]
    ) -> Response {
        var fields = headers
        fields[.contentType] = "text/html; charset=utf-8"
        fields[.cacheControl] = "no-store"
        fields[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        fields[HTTPField.Name("X-Frame-Options")!] = "DENY"
        fields[.contentSecurityPolicy] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: ui.render(page, signedIn: signedIn))))
    }

    static func redirect(_ location: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.location] = location
        return Response(status: .seeOther, headers: fields)
    }
}
