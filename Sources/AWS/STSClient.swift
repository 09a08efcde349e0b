import Foundation

/// STS, query protocol (version 2011-06-15).
public struct STSClient: Sendable {
    let caller: QueryProtocolCaller

    public init(client: AWSClient) {
        caller = QueryProtocolCaller(client: client, service: .sts, version: "2011-06-15")
    }

    /// Who the credentials belong to.
    public func getCallerIdentity() async throws -> CallerIdentity {
        let root = try await caller.call(AWSOperation(.sts, "GetCallerIdentity"), [])
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

/// What AssumeRole and AssumeRoleWithWebIdentity ask for.
public struct RoleRequest: Sendable, Equatable {
    public var roleARN: String
    public var sessionName: String
    /// `external_id` of a profile (AssumeRole only).
    public var externalID: String?
    /// `duration_seconds` of a profile: 900 to 43200; nil lets STS choose (one hour).
    public var durationSeconds: Int?

    public init(roleARN: String, sessionName: String, externalID: String? = nil, durationSeconds: Int? = nil) {
        self.roleARN = roleARN
        self.sessionName = sessionName
        self.externalID = externalID
        self.durationSeconds = durationSeconds
    }

    var parameters: [(String, String)] {
        var parameters = [("RoleArn", roleARN), ("RoleSessionName", sessionName)]
        if let externalID { parameters.append(("ExternalId", externalID)) }
        if let durationSeconds { parameters.append(("DurationSeconds", String(durationSeconds))) }
        return parameters
    }

    /// A session name STS accepts (`[\w+=,.@-]{2,64}`), from `fathom` and the time.
    public static func defaultSessionName(now: Date = Date()) -> String {
        "fathom-\(Int64(now.timeIntervalSince1970.rounded(.down)))"
    }
}

extension STSClient {
    /// Temporary credentials for a role, signed with the client's credentials.
    public func assumeRole(_ role: RoleRequest, source: String) async throws -> AWSCredentials {
        let root = try await caller.call(AWSOperation(.sts, "AssumeRole"), role.parameters)
        return try Self.credentials(in: root, result: "AssumeRoleResult", source: source)
    }

    /// Temporary credentials for a role, from an OIDC token; the call is not signed.
    public func assumeRoleWithWebIdentity(_ role: RoleRequest, token: String, source: String) async throws -> AWSCredentials {
        let root = try await caller.call(AWSOperation(.sts, "AssumeRoleWithWebIdentity"), role.parameters + [("WebIdentityToken", token)], signed: false)
        return try Self.credentials(in: root, result: "AssumeRoleWithWebIdentityResult", source: source)
    }

    static func credentials(in root: XMLElement, result: String, source: String) throws -> AWSCredentials {
        guard let credentials = root.find(result)?.child("Credentials"),
              let id = credentials.string("AccessKeyId"), let secret = credentials.string("SecretAccessKey")
        else {
            throw AWSError.malformedResponse(service: "sts", detail: "no \(result)/Credentials")
        }
        let expiration = credentials.string("Expiration").flatMap { try? Date.ISO8601FormatStyle(includingFractionalSeconds: $0.contains(".")).parse($0) }  // no parsable expiration: refreshed like credentials without one
        return AWSCredentials(
            accessKeyID: id, secretAccessKey: secret, sessionToken: credentials.string("SessionToken"), expiration: expiration, source: source)
    }
}
