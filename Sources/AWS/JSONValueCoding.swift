import FathomCore
import Foundation

/// JSON helpers for the JSON protocols.
enum AWSJSON {
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data, service: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data.isEmpty ? Data("{}".utf8) : data)
        } catch {
            throw AWSError.malformedResponse(service: service, detail: "\(error)")
        }
    }
}

/// Calls a JSON 1.1 service: `POST /` with `X-Amz-Target: <prefix>.<Action>`.
struct JSONProtocolCaller: Sendable {
    let client: AWSClient
    let service: AWSService
    let targetPrefix: String

    func call<Output: Decodable>(_ operation: AWSOperation, _ input: some Encodable, idempotent: Bool = true) async throws -> Output {
        var request = AWSRequest(
            service: service, operation: "\(service.rawValue):\(operation.name)", method: .POST, path: "/",
            headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "\(targetPrefix).\(operation.name)")],
            body: .data(try AWSJSON.encode(input)))
        request.isIdempotent = idempotent
        let response = try await client.send(request, errors: .json)
        return try AWSJSON.decode(Output.self, from: response.body, service: service.rawValue)
    }
}

/// Calls a query-protocol service (EC2, STS): a form-encoded POST, an XML answer.
struct QueryProtocolCaller: Sendable {
    let client: AWSClient
    let service: AWSService
    let version: String

    /// `signed: false` for the few calls that carry their own proof (STS AssumeRoleWithWebIdentity); `idempotent:
    /// false` for a call that must not be sent twice (CloudFormation CreateStack); `timeout` for a call that may take
    /// longer than the client's usual limit.
    func call(
        _ operation: AWSOperation, _ parameters: [(String, String)], signed: Bool = true, idempotent: Bool = true, timeout: Duration? = nil
    ) async throws -> XMLElement {
        let action = operation.name
        // Spaces as '+', as botocore's urlencode writes them (a literal '+' is already %2B). AWS signs the raw
        // bytes either way; moto re-encodes the form when it checks a signature, and refuses %20.
        let form = AWSURI.canonicalQuery([("Action", action), ("Version", version)] + parameters).replacingOccurrences(of: "%20", with: "+")
        var request = AWSRequest(
            service: service, operation: "\(service.rawValue):\(action)", method: .POST, path: "/",
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")], body: .data(Data(form.utf8)))
        request.isSigned = signed
        request.isIdempotent = idempotent
        request.timeout = timeout
        let response = try await client.send(request, errors: .xml)
        guard let root = XMLElement.parse(response.body) else {
            throw AWSError.malformedResponse(service: service.rawValue, detail: "not XML: \(String(decoding: response.body.prefix(200), as: UTF8.self))")
        }
        return root
    }
}

extension Array where Element == String {
    /// `Name.1=a&Name.2=b`, the query protocol's list encoding.
    func queryList(_ name: String) -> [(String, String)] {
        enumerated().map { ("\(name).\($0.offset + 1)", $0.element) }
    }
}
