import FathomAPI
import FathomCore
import Foundation
import Hummingbird
import NIOCore

/// JSON in and out of route handlers, with Fathom's coders and clear 400s for bad bodies.
enum HTTPJSON {
    static let maxBodySize = 32 << 20

    /// Encodes `value` as a JSON response.
    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try APICoding.encode(value))))
    }

    /// Decodes the request's JSON body, answering 400 with the decoding problem when it is malformed.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        try decode(type, from: try await collect(request))
    }

    /// Decodes the request's JSON body when it has one; nil for an empty body.
    static func decodeIfPresent<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T? {
        let buffer = try await collect(request)
        return buffer.readableBytes == 0 ? nil : try decode(type, from: buffer)
    }

    private static func collect(_ request: Request) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: maxBodySize)
        } catch {
            throw APIError(
                .contentTooLarge, code: "body_too_large", message: "the request body is larger than \(maxBodySize >> 20) MiB",
                fix: "Send smaller batches.")
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        do {
            return try APICoding.makeDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            let (field, problem) = describe(error)
            throw APIError(
                .badRequest, code: "malformed_json", message: "malformed request body: \(field.isEmpty ? "" : field + ": ")\(problem)",
                field: field.isEmpty ? nil : field, fix: "Send a JSON body of the documented shape (see docs/openapi.yaml).")
        } catch {
            throw APIError(.badRequest, code: "malformed_json", message: "malformed request body: \(error)")
        }
    }

    static func describe(_ error: DecodingError) -> (field: String, problem: String) {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return (path(context.codingPath + [key]), "is required but missing")
        case .typeMismatch(let type, let context):
            return (path(context.codingPath), "expected \(type)")
        case .valueNotFound(let type, let context):
            return (path(context.codingPath), "expected \(type), got null")
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo["NSDebugDescription"] as? String
            return (path(context.codingPath), underlying ?? context.debugDescription)
        @unknown default:
            return ("", "\(error)")
        }
    }
}

extension Request {
    /// A query parameter parsed as `T`, or a 400 that names it.
    func query<T: LosslessStringConvertible>(_ name: String, as type: T.Type) throws -> T? {
        let given = uri.queryParameters.getAll(name)
        guard let text = given.first else { return nil }
        guard given.count == 1 else {
            throw APIError(
                .badRequest, code: "invalid_query", message: "query parameter '\(name)' is given \(given.count) times", field: name,
                fix: "Give it once.")
        }
        guard let value = T(text) else {
            throw APIError(
                .badRequest, code: "invalid_query", message: "query parameter '\(name)' has an invalid value '\(text)'",
                field: name, fix: "Pass a \(T.self).")
        }
        return value
    }

    /// A whole-number query parameter inside `range` (the default when absent), or a 400 that names it and the range.
    func query(_ name: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        let value = try query(name, as: Int.self) ?? fallback
        return try checked { try NumberCheck.count(value, field: name, in: range) }
    }

    /// A query parameter in seconds inside `range` (zero when absent), or a 400 that names it and the range.
    func query(seconds name: String, in range: ClosedRange<Double>) throws -> Duration {
        guard let value = try query(name, as: Double.self) else { return .zero }
        return try checked { try NumberCheck.seconds(value, field: name, in: range) }
    }
}
