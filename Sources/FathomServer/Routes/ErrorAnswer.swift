import FathomAPI
import Foundation
import Hummingbird
import NIOCore

/// An error the HTTP layer answers with a status and the JSON ``APIErrorBody``: the coordinator's
/// refusals (``CoordinatorError``) and the HTTP layer's own (``APIError``).
protocol ErrorAnswer: HTTPResponseError {
    var body: APIErrorBody { get }
}

extension ErrorAnswer {
    /// The status with the JSON body.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = (try? APICoding.encode(body)) ?? Data()  // an error body that cannot be encoded still answers its status
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension APIError: ErrorAnswer {}

/// How each kind of the coordinator's refusal is answered over HTTP.
extension CoordinatorError: ErrorAnswer {
    /// malformed 400, invalid 422, notFound 404, conflict 409.
    public var status: HTTPResponse.Status {
        switch kind {
        case .malformed: .badRequest
        case .invalid: .unprocessableContent
        case .notFound: .notFound
        case .conflict: .conflict
        }
    }
}
