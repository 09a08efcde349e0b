import Foundation
import Hummingbird

/// Times every request into `fathom_http_request_duration_seconds{method, route, status}`.
/// The route is the matched pattern (`/api/v1/flow-runs/{id}`), so ids do not multiply the series.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let method = request.method.rawValue
        do {
            let response = try await next(request, context)
            metrics.request(
                method: method, route: context.endpointPath ?? "unmatched", status: Int(response.status.code),
                seconds: (ContinuousClock.now - start).inSeconds)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.request(
                method: method, route: context.endpointPath ?? "unmatched", status: Int(status),
                seconds: (ContinuousClock.now - start).inSeconds)
            throw error
        }
    }
}
