import AsyncHTTPClient
import Foundation
import NIOCore

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
public struct EnvironmentCredentialProvider: CredentialProvider {
    public let name = "environment"
    let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public func credentials() async throws -> AWSCredentials? {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty,
              let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty
        else { return nil }
        let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token, source: name)
    }
}

/// The JSON both the ECS container endpoint and IMDS answer with.
struct TemporaryCredentialsDocument: Decodable {
    var AccessKeyId: String
    var SecretAccessKey: String
    var Token: String?
    var Expiration: String?

    func credentials(source: String) -> AWSCredentials {
        let expiration = Expiration.flatMap { try? Date.ISO8601FormatStyle().parse($0) }  // no parsable expiration: the credentials are treated as not expiring, as the AWS SDKs do
        return AWSCredentials(
            accessKeyID: AccessKeyId, secretAccessKey: SecretAccessKey, sessionToken: Token, expiration: expiration,
            source: source)
    }
}

/// The ECS task role endpoint: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (on 169.254.170.2) or
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]`.
/// This is what a Fathom agent running as an ECS service uses.
public struct ContainerCredentialProvider: CredentialProvider {
    public let name = "ecs-container"
    let environment: [String: String]
    let relativeBase: String
    let httpClient: HTTPClient

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment, relativeBase: String = "http://169.254.170.2",
        httpClient: HTTPClient = AWSHTTP.sharedClient
    ) {
        self.environment = environment
        self.relativeBase = relativeBase
        self.httpClient = httpClient
    }

    public func credentials() async throws -> AWSCredentials? {
        let url: String
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            url = relativeBase + relative
        } else if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty {
            url = full
        } else {
            return nil
        }
        var request = HTTPClientRequest(url: url)
        if let tokenFile = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], !tokenFile.isEmpty {
            let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            request.headers.add(name: "Authorization", value: token)
        } else if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"], !token.isEmpty {
            request.headers.add(name: "Authorization", value: token)
        }
        let response = try await httpClient.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw AWSError.credentials("the ECS container credentials endpoint answered HTTP \(response.status.code)")
        }
        let document = try JSONDecoder().decode(TemporaryCredentialsDocument.self, from: Data(body.readableBytesView))
        return document.credentials(source: name)
    }
}

/// EC2 instance metadata (IMDSv2: a session token first). Skipped when `AWS_EC2_METADATA_DISABLED=true`;
/// the endpoint can be moved with `AWS_EC2_METADATA_SERVICE_ENDPOINT`, and the wait for its first answer
/// set with `AWS_METADATA_SERVICE_TIMEOUT` (seconds, default 1, as the AWS SDKs read it).
public struct InstanceMetadataCredentialProvider: CredentialProvider {
    public let name = "imds"
    let environment: [String: String]
    let httpClient: HTTPClient

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, httpClient: HTTPClient = AWSHTTP.sharedClient) {
        self.environment = environment
        self.httpClient = httpClient
    }

    public func credentials() async throws -> AWSCredentials? {
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" { return nil }
        var base = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? "http://169.254.169.254"
        if base.hasSuffix("/") { base.removeLast() }
        var tokenRequest = HTTPClientRequest(url: base + "/latest/api/token")
        tokenRequest.method = .PUT
        tokenRequest.headers.add(name: "X-aws-ec2-metadata-token-ttl-seconds", value: "21600")
        let token: String
        // AWS_METADATA_SERVICE_TIMEOUT bounds every call to the metadata service, as in botocore's fetcher (default 1 s).
        let seconds = environment["AWS_METADATA_SERVICE_TIMEOUT"].flatMap(Double.init).flatMap { $0.isFinite ? min(max($0, 0.1), 60) : nil } ?? 1
        let timeout = TimeAmount.milliseconds(Int64(seconds * 1000))
        do {
            let response = try await httpClient.execute(tokenRequest, timeout: timeout)
            guard response.status == .ok else { return nil }
            token = String(buffer: try await response.body.collect(upTo: 4096))
        } catch {
            return nil  // Not on EC2.
        }
        let roles = try await get(base + "/latest/meta-data/iam/security-credentials/", token: token, timeout: timeout)
        guard let role = roles.split(whereSeparator: \.isNewline).first.map(String.init) else { return nil }
        let document = try await get(base + "/latest/meta-data/iam/security-credentials/\(role)", token: token, timeout: timeout)
        return try JSONDecoder().decode(TemporaryCredentialsDocument.self, from: Data(document.utf8))
            .credentials(source: "\(name) (role \(role))")
    }

    func get(_ url: String, token: String, timeout: TimeAmount) async throws -> String {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "X-aws-ec2-metadata-token", value: token)
        let response = try await httpClient.execute(request, timeout: timeout)
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status == .ok else {
            throw AWSError.credentials("instance metadata answered HTTP \(response.status.code) for \(url)")
        }
        return body
    }
}

/// Tries each provider in AWS SDK order and caches what it found, refreshing temporary
/// credentials 5 minutes before they expire.
public actor CredentialChain: CredentialProvider {
    public nonisolated let name = "chain"
    let providers: [any CredentialProvider]
    let clock: @Sendable () -> Date
    private var cached: AWSCredentials?
    private var refreshing: Task<AWSCredentials, any Error>?

    public init(providers: [any CredentialProvider], clock: @escaping @Sendable () -> Date = Date.init) {
        self.providers = providers
        self.clock = clock
    }

    /// Environment, web identity, the shared files' profile (keys, assumed role, credential_process),
    /// ECS container endpoint, EC2 instance metadata: the AWS CLI's order.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> CredentialChain {
        CredentialChain(providers: [
            EnvironmentCredentialProvider(environment: environment),
            WebIdentityCredentialProvider(environment: environment),
            ProfileCredentialProvider(environment: environment),
            ContainerCredentialProvider(environment: environment),
            InstanceMetadataCredentialProvider(environment: environment),
        ])
    }

    public func credentials() async throws -> AWSCredentials? {
        try await resolve()
    }

    /// The current credentials, resolving or refreshing them when needed.
    public func resolve() async throws -> AWSCredentials {
        if let cached, !cached.expiresSoon(now: clock()) { return cached }
        if let refreshing { return try await refreshing.value }
        let task = Task { [providers] in
            var tried: [String] = []
            for provider in providers {
                tried.append(provider.name)
                if let found = try await provider.credentials() { return found }
            }
            throw NoCredentialsError(tried: tried)
        }
        refreshing = task
        defer { refreshing = nil }
        let found = try await task.value
        cached = found
        return found
    }
}
