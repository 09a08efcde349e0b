import FathomAPI
import FathomCore
import Foundation
import Hummingbird
import NIOCore

/// An error answer of the API: an HTTP status and a JSON ``APIErrorBody``.
/// The HTTP layer's own refusals (a malformed request, a missing token, a body too large); the
/// coordinator's rules answer with ``CoordinatorError``.
public struct APIError: HTTPResponseError, Sendable, CustomStringConvertible {
    /// The HTTP status it is answered with.
    public var status: HTTPResponse.Status
    /// The code, message, field and fix the client sees.
    public var body: APIErrorBody

    /// A refusal with `status`; `field` names the input at fault and `fix` says what to do instead.
    public init(_ status: HTTPResponse.Status, code: String, message: String, field: String? = nil, fix: String? = nil) {
        self.status = status
        self.body = APIErrorBody(code: code, message: message, field: field, fix: fix)
    }

    /// The message, for logs.
    public var description: String { body.error.message }

    static func notFound(_ what: String, _ id: String, fix: String) -> APIError {
        APIError(.notFound, code: "not_found", message: "\(what) '\(id)' does not exist. \(fix)", fix: fix)
    }

    static func runNotFound(_ id: String) -> APIError {
        notFound("flow run", id, fix: "List runs with 'fathom runs'.")
    }
}
