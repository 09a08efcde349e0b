import FathomAPI
import FathomCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Gives every request an id (`X-Request-Id`: the client's, when it is a plain token, else a new one),
/// answers it in the same header, and makes every failure truthful: an unexpected error becomes a 500
/// with a JSON body carrying the id, and every 5xx is logged with the id, the request and the error.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    static var headerName: HTTPField.Name { HTTPField.Name("X-Request-Id")! }
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = request.headers[Self.headerName].flatMap(Self.acceptable) ?? Self.newID()
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            var answered = error
            answered.body.error.requestId = id
            if error.status.code >= 500 { log(error.description, request: request, id: id, status: error.status.code) }
            response = try answered.response(from: request, context: context)
        } catch let error as any HTTPResponseError where error.status.code < 500 {
            response = try error.response(from: request, context: context)
        } catch {
            log("\(error)", request: request, id: id, status: 500)
            var body = APIErrorBody(
                code: "internal_error", message: "the coordinator failed on this request (id \(id)); its log has the cause",
                fix: "Look for request id \(id) in the coordinator's log; /readyz says whether the database and storage work.")
            body.error.requestId = id
            response = Response(
                status: .internalServerError, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: (try? APICoding.encode(body)) ?? Data())))  // cannot fail for this fixed shape; an empty body still carries the 500
        }
        if response.status.code >= 500, response.headers[Self.headerName] == nil, response.headers[.contentType] != "application/json" {
            log("answered \(response.status.code)", request: request, id: id, status: response.status.code)
        }
        response.headers[Self.headerName] = id
        return response
    }

    private func log(_ message: String, request: Request, id: String, status: Int) {
        logger.error("request failed", metadata: [
            "request_id": "\(id)", "method": "\(request.method.rawValue)", "path": "\(request.uri.path.prefix(200))",
            "status": "\(status)", "error": "\(message.prefix(2000))",
        ])
    }

    /// A client's id is kept when it is 1 to 64 letters, digits, `-` or `_`.
    static func acceptable(_ given: String) -> String? {
        guard (1...64).contains(given.utf8.count), given.utf8.allSatisfy({ $0 == 0x2D || $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) })
        else { return nil }
        return given
    }

    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.lowercase((0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
