import FathomAPI
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// A path the server has, asked with a method it does not serve, answers 405 with `Allow` (RFC 9110 §15.5.6)
/// instead of the router's 404 (or an authorization failure).
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The routes, known once every route is registered.
    final class Table: Sendable {
        private let routes = Mutex<[(segments: [Substring], method: HTTPRequest.Method)]>([])

        /// The router's routes: each path template (`/api/v1/flow-runs/{id}`) with one method.
        func load(_ descriptions: [(path: String, method: HTTPRequest.Method)]) {
            routes.withLock { routes in
                routes = descriptions.map { ($0.path.split(separator: "/"), $0.method) }
            }
        }

        /// The methods served at `path`; empty when no route matches it.
        func methods(at path: String) -> [HTTPRequest.Method] {
            let given = path.split(separator: "/")
            return routes.withLock { routes in
                routes.filter { route in
                    route.segments.count == given.count
                        && zip(route.segments, given).allSatisfy { template, segment in
                            (template.hasPrefix("{") && template.hasSuffix("}")) || template.hasPrefix(":") || template == segment
                        }
                }.map(\.method)
            }
        }
    }

    let table: Table

    /// Answered before authorization: which methods a path serves is public (docs/openapi.yaml), and a
    /// client that sends the wrong one learns that first.
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var methods = table.methods(at: request.uri.path)
        if methods.contains(.get), !methods.contains(.head) { methods.append(.head) }
        guard !methods.isEmpty, !methods.contains(request.method) else { return try await next(request, context) }
        let allow = methods.map(\.rawValue).sorted().joined(separator: ", ")
        var answer = APIError(
            .methodNotAllowed, code: "method_not_allowed", message: "\(request.method.rawValue) is not served at \(request.uri.path.prefix(200))",
            fix: "Use \(allow).")
        answer.body.error.field = nil
        var response = try answer.response(from: request, context: context)
        response.headers[.allow] = allow
        return response
    }
}
