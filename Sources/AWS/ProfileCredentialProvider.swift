import AsyncHTTPClient
import Foundation

/// The selected profile of the shared files, resolved as the AWS CLI does
/// (`docs.aws.amazon.com/cli/latest/userguide/cli-configure-role.html`, `…/cli-configure-sourcing-external.html`):
/// an assumed role (`role_arn` with `source_profile` or `credential_source`), web identity
/// (`role_arn` with `web_identity_token_file`), static keys, or `credential_process`.
///
/// A profile named by `AWS_PROFILE` must exist and give credentials: falling through to another
/// identity (an instance role, say) would act as someone the user did not choose.
public struct ProfileCredentialProvider: CredentialProvider {
    public let name = "shared-file"
    let environment: [String: String]
    let httpClient: HTTPClient
    let now: @Sendable () -> Date

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment, httpClient: HTTPClient = AWSHTTP.sharedClient,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.environment = environment
        self.httpClient = httpClient
        self.now = now
    }

    public func credentials() async throws -> AWSCredentials? {
        let files = SharedConfigFiles(environment: environment)
        let explicit = files.explicitProfileName
        guard let profile = files.profile(files.profileName) else {
            guard let explicit else { return nil }
            throw AWSError.credentials(
                "the profile '\(explicit)' (from AWS_PROFILE) is in neither \(files.credentialsPath) nor \(files.configPath). Fix AWS_PROFILE, or add the profile ('aws configure --profile \(explicit)').")
        }
        let found = try await resolve(profile, files: files, visited: [])
        if found == nil, let explicit {
            throw AWSError.credentials(
                "the profile '\(explicit)' (from AWS_PROFILE) has no credentials: it sets none of aws_access_key_id with aws_secret_access_key, role_arn, or credential_process. Add them to the profile, or unset AWS_PROFILE.")
        }
        return found
    }

    /// A profile's credentials; `visited` catches `source_profile` loops.
    func resolve(_ profile: SharedProfile, files: SharedConfigFiles, visited: [String]) async throws -> AWSCredentials? {
        let where_ = "\(files.credentialsPath) / \(files.configPath), profile \(profile.name)"
        if let roleARN = profile["role_arn"] {
            let role = try roleRequest(roleARN, profile: profile)
            if let tokenFile = profile["web_identity_token_file"] {
                return try await WebIdentity.assume(
                    role, tokenFile: tokenFile, client: stsClient(region: profile["region"], credentials: nil),
                    source: "web identity (profile \(profile.name), role \(roleARN))")
            }
            let base = try await sourceCredentials(of: profile, files: files, visited: visited + [profile.name])
            return try await STSClient(client: stsClient(region: profile["region"], credentials: base))
                .assumeRole(role, source: "assume-role (profile \(profile.name), role \(roleARN), from \(base.source))")
        }
        if let id = profile["aws_access_key_id"] {
            guard let secret = profile["aws_secret_access_key"] else {
                throw AWSError.credentials("\(where_) sets aws_access_key_id without aws_secret_access_key: add the secret key.")
            }
            return AWSCredentials(
                accessKeyID: id, secretAccessKey: secret, sessionToken: profile["aws_session_token"], source: "shared-file (profile \(profile.name))")
        }
        if let command = profile["credential_process"] {
            return try await CredentialProcess(commandLine: command, profile: profile.name).run()
        }
        return nil
    }

    /// The credentials that assume a profile's role: another profile's, or one named source.
    func sourceCredentials(of profile: SharedProfile, files: SharedConfigFiles, visited: [String]) async throws -> AWSCredentials {
        if let sourceName = profile["source_profile"] {
            if sourceName == profile.name {
                // A profile may name itself as its source when it holds the keys that assume its role.
                guard let id = profile["aws_access_key_id"], let secret = profile["aws_secret_access_key"] else {
                    throw AWSError.credentials("profile \(profile.name) is its own source_profile but holds no keys: add aws_access_key_id and aws_secret_access_key, or name another source_profile.")
                }
                return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: profile["aws_session_token"], source: "profile \(sourceName)")
            }
            guard !visited.contains(sourceName) else {
                throw AWSError.credentials("profile \(profile.name): source_profile makes a loop (\((visited + [sourceName]).joined(separator: " → "))). Point one of them at keys.")
            }
            guard let source = files.profile(sourceName) else {
                throw AWSError.credentials("profile \(profile.name): its source_profile '\(sourceName)' does not exist. Add it, or fix source_profile.")
            }
            guard let found = try await resolve(source, files: files, visited: visited) else {
                throw AWSError.credentials("profile \(profile.name): its source_profile '\(sourceName)' has no credentials.")
            }
            return found
        }
        guard let sourceName = profile["credential_source"] else {
            throw AWSError.credentials(
                "profile \(profile.name) sets role_arn without source_profile, credential_source or web_identity_token_file: add one, to say which credentials assume the role.")
        }
        let provider: any CredentialProvider
        switch sourceName {
        case "Environment": provider = EnvironmentCredentialProvider(environment: environment)
        case "EcsContainer": provider = ContainerCredentialProvider(environment: environment, httpClient: httpClient)
        case "Ec2InstanceMetadata": provider = InstanceMetadataCredentialProvider(environment: environment, httpClient: httpClient)
        default:
            throw AWSError.credentials(
                "profile \(profile.name): credential_source '\(sourceName)' is not one of Environment, EcsContainer, Ec2InstanceMetadata.")
        }
        guard let found = try await provider.credentials() else {
            throw AWSError.credentials("profile \(profile.name): credential_source \(sourceName) has no credentials here.")
        }
        return found
    }

    func roleRequest(_ roleARN: String, profile: SharedProfile) throws -> RoleRequest {
        var duration: Int?
        if let text = profile["duration_seconds"] {
            guard let value = Int(text), (900...43_200).contains(value) else {
                throw AWSError.credentials("profile \(profile.name): duration_seconds '\(text)' is not a whole number of seconds from 900 to 43200.")
            }
            duration = value
        }
        return RoleRequest(
            roleARN: roleARN, sessionName: profile["role_session_name"] ?? RoleRequest.defaultSessionName(now: now()),
            externalID: profile["external_id"], durationSeconds: duration)
    }

    func stsClient(region: String?, credentials: AWSCredentials?) throws -> AWSClient {
        try WebIdentity.stsClient(environment: environment, region: region, credentials: credentials, httpClient: httpClient)
    }
}

/// `AWS_WEB_IDENTITY_TOKEN_FILE` with `AWS_ROLE_ARN` (and `AWS_ROLE_SESSION_NAME`): EKS pods and CI systems
/// with OIDC federation get their role this way.
public struct WebIdentityCredentialProvider: CredentialProvider {
    public let name = "web-identity"
    let environment: [String: String]
    let httpClient: HTTPClient

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, httpClient: HTTPClient = AWSHTTP.sharedClient) {
        self.environment = environment
        self.httpClient = httpClient
    }

    public func credentials() async throws -> AWSCredentials? {
        guard let tokenFile = environment["AWS_WEB_IDENTITY_TOKEN_FILE"], !tokenFile.isEmpty else { return nil }
        guard let roleARN = environment["AWS_ROLE_ARN"], !roleARN.isEmpty else {
            throw AWSError.credentials("AWS_WEB_IDENTITY_TOKEN_FILE is set without AWS_ROLE_ARN: set the role to assume.")
        }
        let session = environment["AWS_ROLE_SESSION_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? RoleRequest.defaultSessionName()
        let client = try WebIdentity.stsClient(environment: environment, region: nil, credentials: nil, httpClient: httpClient)
        return try await WebIdentity.assume(
            RoleRequest(roleARN: roleARN, sessionName: session), tokenFile: tokenFile, client: client, source: "web identity (role \(roleARN))")
    }
}

/// What web identity and assumed roles share.
enum WebIdentity {
    static func assume(_ role: RoleRequest, tokenFile: String, client: AWSClient, source: String) async throws -> AWSCredentials {
        let token: String
        do {
            token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw AWSError.credentials("cannot read the web identity token file \(tokenFile): \(error.localizedDescription)")
        }
        guard !token.isEmpty else { throw AWSError.credentials("the web identity token file \(tokenFile) is empty") }
        return try await STSClient(client: client).assumeRoleWithWebIdentity(role, token: token, source: source)
    }

    /// An STS client in the profile's or environment's region (us-east-1 when none is set, as STS's
    /// global endpoint is), signing with `credentials` (nil: unsigned calls only).
    static func stsClient(environment: [String: String], region: String?, credentials: AWSCredentials?, httpClient: HTTPClient) throws -> AWSClient {
        let configuration: AWSConfiguration
        if let resolved = try? AWSConfiguration(environment: environment, region: region) {  // no region configured: STS's global endpoint, below
            configuration = resolved
        } else {
            configuration = try AWSConfiguration(environment: environment, region: "us-east-1")
        }
        return AWSClient(
            configuration: configuration, credentials: StaticCredentialProvider(credentials), httpClient: httpClient,
            logger: .init(label: "fathom.aws.sts"))
    }
}

/// Credentials fixed in advance (the source of an assumed role).
public struct StaticCredentialProvider: CredentialProvider {
    public let name = "static"
    let fixed: AWSCredentials?

    public init(_ credentials: AWSCredentials?) {
        fixed = credentials
    }

    public func credentials() async throws -> AWSCredentials? { fixed }
}
