import Foundation

/// STS, query protocol (version 2011-06-15).
public struct STSClient: Sendable {
    let caller: QueryProtocolCaller

    public init(client: AWSClient) {
        caller = QueryProtocolCaller(client: client, service: .sts, version: "2011-06-15")
    }

    /// Who the credentials belong to.
    public func getCallerIdentity() async throws -> CallerIdentity {
        let root = try await caller.call("GetCallerIdentity", [])
        guard let result = root.find("GetCallerIdentityResult") else {
            throw AWSError.malformedResponse(service: "sts", detail: "no GetCallerIdentityResult")
        }
        return CallerIdentity(
            account: result.string("Account") ?? "", arn: result.string("Arn") ?? "", userID: result.string("UserId") ?? "")
    }
}

public struct CallerIdentity: Sendable, Equatable {
    public var account: String
    public var arn: String
    public var userID: String
}
