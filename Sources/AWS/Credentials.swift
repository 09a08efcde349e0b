import Foundation

/// AWS credentials, with where they came from (never the secret, in descriptions).
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When temporary credentials stop working.
    public var expiration: Date?
    /// Which source of the chain supplied them: `environment`, `shared-file (profile x)`, `ecs-container`, `imds`.
    public var source: String

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil, source: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    /// Safe to print: the key id and source, never the secret or token.
    public var description: String {
        "AWSCredentials(\(accessKeyID), from \(source)\(expiration.map { ", expires \($0.formatted(.iso8601))" } ?? ""))"
    }

    /// Whether they expire within `margin` of `now`.
    public func expiresSoon(now: Date, margin: TimeInterval = 300) -> Bool {
        guard let expiration else { return false }
        return expiration.timeIntervalSince(now) < margin
    }
}

/// A source of credentials.
public protocol CredentialProvider: Sendable {
    /// A name for messages: `environment`, `shared-file`, …
    var name: String { get }
    /// The credentials, or nil when this source has none (so the chain tries the next).
    func credentials() async throws -> AWSCredentials?
}

/// No source of the chain had credentials.
public struct NoCredentialsError: Error, CustomStringConvertible {
    public var tried: [String]

    public var description: String {
        "no AWS credentials found (tried: \(tried.joined(separator: ", "))). Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, configure ~/.aws/credentials (AWS_PROFILE), or run where an ECS task role or EC2 instance profile is available."
    }
}
