import Foundation
import NIOHTTP1

/// Turns an error answer of any protocol family into an ``AWSServiceError``.
enum AWSErrorDecoder {
    static func decode(_ response: AWSResponse, service: AWSService, operation: String, format: AWSErrorFormat) -> AWSServiceError {
        let requestID = response.headers.first(name: "x-amzn-RequestId") ?? response.headers.first(name: "x-amz-request-id")
        var code: String?
        var message: String?
        // A gateway in front of a service (or moto's auth layer) may answer in another format than the service's.
        let firstByte = response.body.first(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) })
        let effective: AWSErrorFormat = firstByte == UInt8(ascii: "<") ? .xml : firstByte == UInt8(ascii: "{") ? .json : format
        switch effective {
        case .json, .restJSON:
            let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]  // a non-JSON error body: the code comes from the header or the status
            code = (response.headers.first(name: "x-amzn-ErrorType")) ?? (object["__type"] as? String)
                ?? (object["code"] as? String) ?? (object["ErrorCode"] as? String)
            message = (object["message"] as? String) ?? (object["Message"] as? String) ?? (object["errorMessage"] as? String)
        case .xml:
            if let root = XMLElement.parse(response.body), let error = root.find("Error") {
                code = error.string("Code")
                message = error.string("Message")
                if requestID == nil, let id = root.string("RequestID") ?? root.string("RequestId") ?? error.string("RequestId") {
                    return AWSServiceError(
                        service: service.signingName, operation: operation, code: normalize(code) ?? fallbackCode(response.status),
                        message: message ?? "", httpStatus: response.status, requestID: id)
                }
            }
        }
        return AWSServiceError(
            service: service.signingName, operation: operation, code: normalize(code) ?? fallbackCode(response.status),
            message: message ?? String(decoding: response.body.prefix(300), as: UTF8.self), httpStatus: response.status,
            requestID: requestID)
    }

    /// `com.amazonaws.ecs#ClusterNotFoundException` and `FileSystemNotFound:http://…` → the bare code.
    static func normalize(_ code: String?) -> String? {
        guard var code, !code.isEmpty else { return nil }
        if let colon = code.firstIndex(of: ":") { code = String(code[..<colon]) }
        if let hash = code.lastIndex(of: "#") { code = String(code[code.index(after: hash)...]) }
        return code
    }

    static func fallbackCode(_ status: Int) -> String {
        switch status {
        case 400: return "BadRequest"
        case 403: return "Forbidden"
        case 404: return "NotFound"
        case 429: return "TooManyRequestsException"
        case 500...599: return "InternalError"
        default: return "HTTP\(status)"
        }
    }
}
