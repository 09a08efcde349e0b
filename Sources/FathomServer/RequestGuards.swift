import FathomAPI
import Foundation
import HTTPTypes
import Hummingbird

/// Refuses paths that are not in their plain form (`//api/…`, `/./`, `/../`, encoded slashes), before any
/// authorization looks at them: a router that collapses them would otherwise serve a path the checks
/// did not see.
struct PlainPathMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard Self.isPlain(request.uri.path) else {
            throw APIError(
                .badRequest, code: "path_not_plain", message: "the path '\(request.uri.path.prefix(200))' has empty, '.' or '..' segments or an encoded slash",
                fix: "Send the plain path, e.g. /api/v1/flows.")
        }
        return try await next(request, context)
    }

    static func isPlain(_ path: String) -> Bool {
        guard path.hasPrefix("/") else { return path.isEmpty }
        let lowered = path.lowercased()
        if lowered.contains("%2f") || lowered.contains("%5c") || path.contains("\\") { return false }
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (index, segment) in segments.enumerated() {
            if segment == "." || segment == ".." { return false }
            if segment.isEmpty && index != segments.count - 1 { return false }  // only a trailing slash may be empty
        }
        return true
    }
}

/// A page on another site must not act through the API (CSRF): a state-changing `/api/` request is refused
/// when `Origin` or `Sec-Fetch-Site` says another site, and its body must be JSON (a bundle upload:
/// octet-stream), which a cross-site form cannot send without a CORS preflight Fathom never grants.
struct APIOriginMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path.hasPrefix("/api/"), ![.get, .head, .options].contains(request.method) else { return try await next(request, context) }
        guard UIGuardMiddleware<Context>.isSameOrigin(request) else {
            throw APIError(
                .forbidden, code: "cross_site_request", message: "this request came from a page of another site, so Fathom did not act on it",
                fix: "Call the API from a program (the CLI, curl, the SDK), or from Fathom's own pages.")
        }
        let hasBody = (request.headers[.contentLength].flatMap { Int($0) } ?? 0) > 0 || request.headers[.transferEncoding] != nil
        guard hasBody else { return try await next(request, context) }
        let expected = path.hasPrefix("/api/v1/bundles/") ? "application/octet-stream" : "application/json"
        let given = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard given == expected else {
            throw APIError(
                .unsupportedMediaType, code: "unsupported_media_type",
                message: "the body is \(given.map { "'\($0)'" } ?? "without a Content-Type"); this endpoint takes \(expected)",
                field: "Content-Type", fix: "Send Content-Type: \(expected).")
        }
        return try await next(request, context)
    }
}
