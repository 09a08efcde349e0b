import FathomAPI
import Foundation
import Hummingbird

/// Requires `Authorization: Bearer <token>` on every `/api/` request when a token is set.
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/api/") else { return try await next(request, context) }
        let given = request.headers[.authorization].flatMap { value -> String? in
            value.hasPrefix("Bearer ") ? String(value.dropFirst(7)) : nil
        }
        guard let given, Self.constantTimeEqual(given, token) else {
            throw APIError(
                .unauthorized, code: "unauthorized",
                message: given == nil ? "this coordinator requires an API token" : "the API token is wrong",
                fix: "Pass --token or set FATHOM_TOKEN to the coordinator's token.")
        }
        return try await next(request, context)
    }

    /// Compares without an early exit, so timing does not reveal the token.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0
    }
}
