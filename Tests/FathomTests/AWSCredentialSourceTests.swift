import AWS
import FathomProcess
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Testing

/// The credential sources AWS users have beyond keys: assumed roles, web identity, credential_process;
/// an explicit profile that must exist; clock skew; partitions; and which calls are repeated.
@Suite(.serialized)
struct AWSCredentialSourceTests {
    /// A config directory with `config` and a base environment pointing at it.
    static func files(config: String, credentials: String = "") throws -> (TemporaryDirectory, [String: String]) {
        let directory = TemporaryDirectory()
        try config.write(toFile: directory.file("config"), atomically: true, encoding: .utf8)
        try credentials.write(toFile: directory.file("credentials"), atomically: true, encoding: .utf8)
        return (directory, [
            "HOME": directory.path, "AWS_CONFIG_FILE": directory.file("config"), "AWS_SHARED_CREDENTIALS_FILE": directory.file("credentials"),
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "eu-west-1",
        ])
    }

    @Test func anAssumeRoleProfileGetsTheRolesCredentialsFromSTS() async throws {
        let moto = try await MotoServer()
        defer { Task { await moto.stop() } }
        let (directory, environment) = try Self.files(
            config: """
                [profile deploy]
                role_arn = arn:aws:iam::123456789012:role/fathom-agent
                source_profile = base
                role_session_name = fathom-test
                external_id = fathom-ext
                duration_seconds = 1800
                """,
            credentials: "[base]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = base-secret\n")
        try await moto.startRecording()
        let chain = CredentialChain.standard(environment: environment.merging(["AWS_PROFILE": "deploy", "AWS_ENDPOINT_URL_STS": moto.url]) { a, _ in a })
        let found = try await chain.resolve()
        defer { withExtendedLifetime(directory) {} }
        #expect(found.accessKeyID != "AKIAIOSFODNN7EXAMPLE")
        #expect(found.sessionToken?.isEmpty == false)
        #expect(found.expiration != nil)
        #expect(found.source.contains("assume-role (profile deploy, role arn:aws:iam::123456789012:role/fathom-agent"))
        // STS knows the new key as the assumed role's session.
        let client = AWSClient(configuration: try AWSConfiguration(environment: ["AWS_ENDPOINT_URL": moto.url], region: "eu-west-1"), credentials: chain)
        let identity = try await STSClient(client: client).getCallerIdentity()
        #expect(identity.arn == "arn:aws:sts::123456789012:assumed-role/fathom-agent/fathom-test")
        let validation = try await moto.validateRecording()
        #expect(validation.ok, "\(validation.report)")
        #expect(validation.checked >= 2)
    }

    @Test func credentialSourceEnvironmentSignsTheAssumeRoleCall() async throws {
        let moto = try await MotoServer()
        defer { Task { await moto.stop() } }
        let (directory, environment) = try Self.files(config: """
            [profile ops]
            role_arn = arn:aws:iam::123456789012:role/ops
            credential_source = Environment
            role_session_name = ops-session
            """)
        let provider = ProfileCredentialProvider(environment: environment.merging([
            "AWS_PROFILE": "ops", "AWS_ENDPOINT_URL_STS": moto.url, "AWS_ACCESS_KEY_ID": "AKIAENVENVENVENV", "AWS_SECRET_ACCESS_KEY": "e",
        ]) { a, _ in a })
        let found = try #require(try await provider.credentials())
        withExtendedLifetime(directory) {}
        #expect(found.source.contains("from environment"))
        #expect(found.accessKeyID != "AKIAENVENVENVENV")
    }

    @Test func webIdentityFromTheEnvironmentIsAnUnsignedCallWithTheToken() async throws {
        let seen = Locked<[(HTTPFields, String)]>([])
        let sts = try await LoopbackServer { request in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
            seen.withLock { $0.append((request.headers, body)) }
            return LoopbackServer.text("""
                <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>
                <Credentials><AccessKeyId>ASIAWEBIDENTITY</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>
                <Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>
                """)
        }
        defer { Task { await sts.stop() } }
        let (directory, environment) = try Self.files(config: "")
        try "eyJhbGciOiJSUzI1NiJ9.oidc-token\n".write(toFile: directory.file("token"), atomically: true, encoding: .utf8)
        let found = try await CredentialChain.standard(environment: environment.merging([
            "AWS_WEB_IDENTITY_TOKEN_FILE": directory.file("token"), "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/ci",
            "AWS_ROLE_SESSION_NAME": "ci-run", "AWS_ENDPOINT_URL_STS": sts.url,
        ]) { a, _ in a }).resolve()
        #expect(found.accessKeyID == "ASIAWEBIDENTITY")
        #expect(found.expiration == Date(timeIntervalSince1970: 4_070_908_800))
        let (headers, body) = try #require(seen.value.first)
        #expect(headers[.authorization] == nil, "AssumeRoleWithWebIdentity is not signed (botocore model: auth smithy.api#noAuth)")
        let form = Dictionary(uniqueKeysWithValues: body.split(separator: "&").map {
            let pair = $0.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
            return (pair[0], pair.count > 1 ? pair[1] : "")
        })
        #expect(form["Action"] == "AssumeRoleWithWebIdentity")
        #expect(form["RoleArn"] == "arn:aws:iam::123456789012:role/ci")
        #expect(form["RoleSessionName"] == "ci-run")
        #expect(form["WebIdentityToken"] == "eyJhbGciOiJSUzI1NiJ9.oidc-token")
    }

    @Test func webIdentityAgainstMoto() async throws {
        let moto = try await MotoServer()
        defer { Task { await moto.stop() } }
        let (directory, environment) = try Self.files(config: "[profile federated]\nrole_arn = arn:aws:iam::123456789012:role/flows\nweb_identity_token_file = \(TemporaryDirectory().path)/none\n")
        try "token".write(toFile: directory.file("token"), atomically: true, encoding: .utf8)
        let found = try await CredentialChain.standard(environment: environment.merging([
            "AWS_WEB_IDENTITY_TOKEN_FILE": directory.file("token"), "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/flows",
            "AWS_ENDPOINT_URL_STS": moto.url,
        ]) { a, _ in a }).resolve()
        #expect(found.source == "web identity (role arn:aws:iam::123456789012:role/flows)")
        #expect(found.sessionToken?.isEmpty == false)
        // The profile form reads its own token file; a missing one is named.
        do {
            _ = try await ProfileCredentialProvider(environment: environment.merging(["AWS_PROFILE": "federated", "AWS_ENDPOINT_URL_STS": moto.url]) { a, _ in a }).credentials()
            Issue.record("a missing token file must fail")
        } catch let error as AWSError {
            #expect("\(error)".contains("cannot read the web identity token file"))
        }
    }

    @Test func credentialProcessOutputBecomesTheCredentials() async throws {
        let (directory, environment) = try Self.files(config: "")
        let script = directory.file("issue creds.sh")
        try """
            #!/bin/sh
            printf '%s\\n' "$@" > "\(directory.file("args"))"
            [ "$1" = fail ] && { echo "sso session expired; run aws sso login" >&2; exit 3; }
            echo '{"Version": 1, "AccessKeyId": "ASIAPROCESS", "SecretAccessKey": "p",'
            echo ' "SessionToken": "pt", "Expiration": "2099-01-01T00:00:00Z"}'
            """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        try """
            [profile tool]
            credential_process = "\(script)" --role 'ops team' plain\\ word
            [profile broken]
            credential_process = "\(script)" fail
            """.write(toFile: directory.file("config"), atomically: true, encoding: .utf8)
        let found = try #require(try await ProfileCredentialProvider(environment: environment.merging(["AWS_PROFILE": "tool"]) { a, _ in a }).credentials())
        #expect(found.accessKeyID == "ASIAPROCESS")
        #expect(found.sessionToken == "pt")
        #expect(found.source == "credential_process (profile tool)")
        #expect(try String(contentsOfFile: directory.file("args"), encoding: .utf8) == "--role\nops team\nplain word\n")
        do {
            _ = try await ProfileCredentialProvider(environment: environment.merging(["AWS_PROFILE": "broken"]) { a, _ in a }).credentials()
            Issue.record("a failing credential_process must fail")
        } catch let error as AWSError {
            #expect("\(error)".contains("exited with status 3"))
            #expect("\(error)".contains("sso session expired; run aws sso login"))
        }
    }

    @Test func anExplicitProfileWithoutCredentialsIsAnErrorNotAnotherIdentity() async throws {
        let imdsCalls = Locked(0)
        let imds = try await LoopbackServer { _ in
            imdsCalls.withLock { $0 += 1 }
            return LoopbackServer.text("instance-role")
        }
        defer { Task { await imds.stop() } }
        let (directory, base) = try Self.files(config: "[profile regiononly]\nregion = eu-west-1\n[profile loop]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = loop2\n[profile loop2]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = loop\n")
        var environment = base
        environment["AWS_EC2_METADATA_DISABLED"] = nil
        environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.url
        for (profile, expected) in [
            ("typo", "the profile 'typo' (from AWS_PROFILE) is in neither"),
            ("regiononly", "the profile 'regiononly' (from AWS_PROFILE) has no credentials"),
            ("loop", "source_profile makes a loop (loop → loop2 → loop)"),
        ] {
            do {
                let found = try await CredentialChain.standard(environment: environment.merging(["AWS_PROFILE": profile]) { a, _ in a }).resolve()
                Issue.record("profile \(profile) resolved to \(found)")
            } catch let error as AWSError {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
        withExtendedLifetime(directory) {}
        #expect(imdsCalls.value == 0, "no fall-through to the instance role")
    }

    @Test func aSkewedClockIsCorrectedFromTheServersDate() async throws {
        // STS refuses a signature more than 15 minutes from its clock, with the server's Date header
        // (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html: "Signature expired").
        let requests = Locked(0)
        let sts = try await LoopbackServer { request in
            requests.withLock { $0 += 1 }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
            let signed = request.headers[HTTPField.Name("X-Amz-Date")!].flatMap { formatter.date(from: $0) } ?? .distantPast
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            var headers = HTTPFields()
            headers[.date] = formatter.string(from: Date())
            headers[.contentType] = "text/xml"
            if abs(signed.timeIntervalSinceNow) > 15 * 60 {
                return Response(status: .forbidden, headers: headers, body: .init(byteBuffer: ByteBuffer(string: """
                    <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>
                    <Message>Signature expired: 20261130T120000Z is now earlier than 20261130T123500Z (20261130T125000Z - 15 min.)</Message></Error>
                    <RequestId>1</RequestId></ErrorResponse>
                    """)))
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: """
                <GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/u</Arn><UserId>U</UserId>
                <Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>
                """)))
        }
        defer { Task { await sts.stop() } }
        let skew = AWSClockSkew()
        let client = AWSClient(
            configuration: try AWSConfiguration(environment: ["AWS_ENDPOINT_URL": sts.url], region: "eu-west-1"),
            credentials: StaticCredentialProvider(AWSCredentials(accessKeyID: "AKIA", secretAccessKey: "s", source: "test")),
            clockSkew: skew, now: { Date().addingTimeInterval(-40 * 60) })
        let identity = try await STSClient(client: client).getCallerIdentity()
        #expect(identity.account == "123456789012")
        #expect(requests.value == 2, "one refusal, then a signature with the corrected time")
        #expect(abs(skew.seconds - 40 * 60) < 5)
        _ = try await STSClient(client: client).getCallerIdentity()
        #expect(requests.value == 3, "the correction is kept")
    }

    @Test func callsThatAreNotIdempotentAreRepeatedOnlyWhenThrottled() async throws {
        // ECS answers a server fault with ServerException (HTTP 500) and throttling with ThrottlingException (HTTP 400).
        let calls = Locked<[String: Int]>([:])
        let started = Locked<[String: [ContinuousClock.Instant]]>([:])
        let ecs = try await LoopbackServer { request in
            let target = request.headers[HTTPField.Name("X-Amz-Target")!]?.split(separator: ".").last.map(String.init) ?? ""
            let count = calls.withLock { $0[target, default: 0] += 1; return $0[target]! }
            started.withLock { $0[target, default: []].append(.now) }
            switch (target, count) {
            case ("RegisterTaskDefinition", _):
                return LoopbackServer.json(#"{"__type":"ServerException","message":"Service Unavailable. Please try again later."}"#, status: .internalServerError)
            case ("DeregisterTaskDefinition", 1):
                return LoopbackServer.json(#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#, status: .badRequest)
            case ("DescribeTasks", 1):
                return LoopbackServer.json(#"{"__type":"ServerException","message":"busy"}"#, status: .serviceUnavailable, headers: [.retryAfter: "1"])
            default:
                return LoopbackServer.json(#"{"tasks":[],"failures":[],"taskDefinition":{"family":"f","revision":1}}"#)
            }
        }
        defer { Task { await ecs.stop() } }
        var client = AWSClient(
            configuration: try AWSConfiguration(environment: ["AWS_ENDPOINT_URL": ecs.url], region: "eu-west-1"),
            credentials: StaticCredentialProvider(AWSCredentials(accessKeyID: "AKIA", secretAccessKey: "s", source: "test")), clockSkew: AWSClockSkew())
        client.retry.baseDelay = .milliseconds(10)
        let ecsClient = ECSClient(client: client)
        await #expect(throws: AWSError.self) { _ = try await ecsClient.registerTaskDefinition(["family": "f"]) }
        #expect(calls.value["RegisterTaskDefinition"] == 1, "a server fault may have made the revision: not sent again")
        _ = try await ecsClient.deregisterTaskDefinition("f:1")
        #expect(calls.value["DeregisterTaskDefinition"] == 2, "throttled: AWS did nothing, so it is sent again")
        _ = try await ecsClient.describeTasks(cluster: "c", tasks: ["arn:aws:ecs:eu-west-1:1:task/c/1"])
        let times = try #require(started.value["DescribeTasks"])
        #expect(times.count == 2)
        #expect(times[1] - times[0] >= .milliseconds(950), "Retry-After: 1 is honoured")
    }

    @Test func regionsOfOtherPartitionsGetTheirEndpoints() throws {
        let china = try AWSConfiguration(environment: [:], region: "cn-north-1")
        #expect(china.endpoint(for: .ecs) == "https://ecs.cn-north-1.amazonaws.com.cn")
        #expect(china.endpoint(for: .efs) == "https://elasticfilesystem.cn-north-1.amazonaws.com.cn")
        #expect(china.partition.name == "aws-cn")
        #expect(!china.hasCustomEndpoint(for: .s3))
        let gov = try AWSConfiguration(environment: [:], region: "us-gov-west-1")
        #expect(gov.endpoint(for: .logs) == "https://logs.us-gov-west-1.amazonaws.com")
        #expect(gov.partition.name == "aws-us-gov")
        #expect(try AWSConfiguration(environment: [:], region: "us-iso-east-1").endpoint(for: .sts) == "https://sts.us-iso-east-1.c2s.ic.gov")
        #expect(try AWSConfiguration(environment: [:], region: "eu-west-1").partition.name == "aws")
    }
}
