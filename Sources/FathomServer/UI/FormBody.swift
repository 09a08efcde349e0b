import FathomCore
import Foundation
import Hummingbird
import NIOCore

/// `application/x-www-form-urlencoded` request bodies: nothing a client sends can trap.
enum FormBody {
    static let maxSize = 1 << 20

    /// The form's fields, or a 400 naming what could not be read.
    static func fields(of request: Request) async throws -> [String: String] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxSize)
        } catch {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "the form is larger than 1 MiB", fix: "Send a smaller form.")
        }
        do {
            return try FormFields.parse(Array(buffer.readableBytesView))
        } catch {
            throw APIError(
                .badRequest, code: "malformed_form", message: "malformed form body: \(error.problem)",
                fix: "Send the form as a browser does (application/x-www-form-urlencoded, UTF-8).")
        }
    }
}
