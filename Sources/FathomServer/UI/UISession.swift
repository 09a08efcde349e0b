import Crypto
import FathomWebUI
import Foundation
import HTTPTypes
import Hummingbird

/// Browser sessions for the web UI when the coordinator has a token.
///
/// Signing in with the token sets an HttpOnly, SameSite=Strict cookie holding HMAC-SHA256(token, label),
/// so the token itself never sits in the browser. Pages without a session redirect to `/login`.
struct UISession: Sendable {
    static let cookieName = "fathom_session"
    let token: String?

    /// Whether the UI asks for a session at all.
    var isRequired: Bool { !(token ?? "").isEmpty }

    /// The cookie value that proves a sign-in.
    var sessionValue: String? {
        guard let token, !token.isEmpty else { return nil }
        let mac = HMAC<SHA256>.authenticationCode(for: Data("fathom-ui-session-v1".utf8), using: SymmetricKey(data: Data(token.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `request` carries a valid session (always true without a token).
    func isSignedIn(_ request: Request) -> Bool {
        guard let expected = sessionValue else { return true }
        guard let given = request.cookies[Self.cookieName]?.value else { return false }
        return TokenMiddleware<BasicRequestContext>.constantTimeEqual(given, expected)
    }

    /// Whether `given` is the token.
    func accepts(token given: String) -> Bool {
        guard let token, !token.isEmpty else { return true }
        return TokenMiddleware<BasicRequestContext>.constantTimeEqual(given, token)
    }

    func signInCookie() -> String {
        "\(Self.cookieName)=\(sessionValue ?? ""); Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000"
    }

    static let signOutCookie = "\(cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
}

/// Guards the web UI: a session when a token is set, and same-origin form posts only.
struct UIGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let session: UISession
    let ui: WebUI

    /// Paths that need no session: the API (it has its own token check), health, sign-in and static files.
    static func isOpen(_ path: String) -> Bool {
        path.hasPrefix("/api/") || path == "/healthz" || path == "/readyz" || path == "/login" || path.hasPrefix("/ui/")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if request.method == .post, !path.hasPrefix("/api/"), !Self.isSameOrigin(request) {
            return HTMLResponse.page(
                ui, ErrorPage(heading: "Refused", message: "This form came from another site, so Fathom did not act on it."),
                status: .forbidden)
        }
        guard session.isRequired, !Self.isOpen(path), !session.isSignedIn(request) else {
            return try await next(request, context)
        }
        if path == "/metrics", let bearer = request.headers[.authorization], bearer.hasPrefix("Bearer "),
           session.accepts(token: String(bearer.dropFirst(7))) {
            return try await next(request, context)
        }
        if request.method == .get, path != "/metrics" {
            let back = request.uri.description.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "%2F"
            return Response(status: .seeOther, headers: [.location: "/login?next=" + back])
        }
        return HTMLResponse.page(
            ui, ErrorPage(heading: "Sign in first", message: "This coordinator requires its token: sign in at /login, or send Authorization: Bearer TOKEN."),
            status: .unauthorized)
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
