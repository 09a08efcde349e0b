import AWS
import AsyncHTTPClient
import FathomProcess
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Testing

/// Each source of the credential chain, and refresh before expiry.
struct AWSCredentialTests {
    static let isoNow = Date.ISO8601FormatStyle()

    static func document(key: String, expiresIn seconds: TimeInterval) -> String {
        let expiration = Date().addingTimeInterval(seconds).formatted(isoNow)
        return #"{"AccessKeyId":"\#(key)","SecretAccessKey":"secret-\#(key)","Token":"token-\#(key)","Expiration":"\#(expiration)"}"#
    }

    @Test func environmentComesFirst() async throws {
        let directory = TemporaryDirectory()
        try "[default]\naws_access_key_id = FROMFILE\naws_secret_access_key = s\n".write(toFile: directory.file("credentials"), atomically: true, encoding: .utf8)
        let environment = [
            "AWS_ACCESS_KEY_ID": "FROMENV", "AWS_SECRET_ACCESS_KEY": "e", "AWS_SESSION_TOKEN": "t",
            "AWS_SHARED_CREDENTIALS_FILE": directory.file("credentials"), "AWS_EC2_METADATA_DISABLED": "true",
        ]
        let found = try await CredentialChain.standard(environment: environment).resolve()
        #expect(found.accessKeyID == "FROMENV")
        #expect(found.sessionToken == "t")
        #expect(found.source == "environment")
    }

    @Test func sharedFilesHonourTheProfile() async throws {
        let directory = TemporaryDirectory()
        try """
            [default]
            aws_access_key_id = DEFAULTKEY
            aws_secret_access_key = d
            # a comment
            [batch]
            aws_access_key_id = BATCHKEY
            aws_secret_access_key = b
            aws_session_token = bt
            """.write(toFile: directory.file("credentials"), atomically: true, encoding: .utf8)
        try "[profile batch]\nregion = eu-west-1\n[profile onlyconfig]\naws_access_key_id = CONFIGKEY\naws_secret_access_key = c\n"
            .write(toFile: directory.file("config"), atomically: true, encoding: .utf8)
        let base = [
            "AWS_SHARED_CREDENTIALS_FILE": directory.file("credentials"), "AWS_CONFIG_FILE": directory.file("config"),
            "AWS_EC2_METADATA_DISABLED": "true",
        ]
        let batch = try await CredentialChain.standard(environment: base.merging(["AWS_PROFILE": "batch"]) { a, _ in a }).resolve()
        #expect(batch.accessKeyID == "BATCHKEY")
        #expect(batch.sessionToken == "bt")
        #expect(batch.source.contains("profile batch"))
        let region = try AWSConfiguration(environment: base.merging(["AWS_PROFILE": "batch"]) { a, _ in a })
        #expect(region.region == "eu-west-1")
        #expect(region.regionSource == "profile batch")
        let fromConfig = try await CredentialChain.standard(environment: base.merging(["AWS_PROFILE": "onlyconfig"]) { a, _ in a }).resolve()
        #expect(fromConfig.accessKeyID == "CONFIGKEY")
        #expect(try await CredentialChain.standard(environment: base).resolve().accessKeyID == "DEFAULTKEY")
    }

    @Test func theECSContainerEndpointNeedsItsToken() async throws {
        let calls = Locked(0)
        let server = try await LoopbackServer { request in
            calls.withLock { $0 += 1 }
            guard request.headers[.authorization] == "Bearer task-token" else { return LoopbackServer.text("denied", status: .unauthorized) }
            return LoopbackServer.json(Self.document(key: "TASKROLE", expiresIn: 3600))
        }
        defer { Task { await server.stop() } }
        let directory = TemporaryDirectory()
        try "Bearer task-token\n".write(toFile: directory.file("token"), atomically: true, encoding: .utf8)
        let full = try await CredentialChain.standard(environment: [
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url + "/v2/credentials", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": directory.file("token"),
            "AWS_EC2_METADATA_DISABLED": "true", "HOME": directory.path,
        ]).resolve()
        #expect(full.accessKeyID == "TASKROLE")
        #expect(full.sessionToken == "token-TASKROLE")
        #expect(full.expiration != nil)
        #expect(full.source == "ecs-container")
        let relative = ContainerCredentialProvider(
            environment: ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer task-token"],
            relativeBase: server.url)
        #expect(try await relative.credentials()?.accessKeyID == "TASKROLE")
        let wrongToken = ContainerCredentialProvider(environment: [
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url + "/v2/credentials", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer wrong",
        ])
        await #expect(throws: AWSError.self) { _ = try await wrongToken.credentials() }
    }

    @Test func instanceMetadataUsesAnIMDSv2SessionToken() async throws {
        let server = try await LoopbackServer { request in
            if request.method == .put && request.uri.path == "/latest/api/token" {
                guard request.headers[HTTPField.Name("X-aws-ec2-metadata-token-ttl-seconds")!] != nil else {
                    return LoopbackServer.text("", status: .badRequest)
                }
                return LoopbackServer.text("imds-session")
            }
            guard request.headers[HTTPField.Name("X-aws-ec2-metadata-token")!] == "imds-session" else {
                return LoopbackServer.text("", status: .unauthorized)
            }
            switch request.uri.path {
            case "/latest/meta-data/iam/security-credentials/": return LoopbackServer.text("batch-role")
            case "/latest/meta-data/iam/security-credentials/batch-role": return LoopbackServer.json(Self.document(key: "INSTANCE", expiresIn: 3600))
            default: return LoopbackServer.text("", status: .notFound)
            }
        }
        defer { Task { await server.stop() } }
        let directory = TemporaryDirectory()
        // The SDKs' 1 s default wait for the metadata service is short for a loaded test machine.
        let found = try await CredentialChain.standard(environment: [
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.url, "HOME": directory.path, "AWS_METADATA_SERVICE_TIMEOUT": "10",
        ]).resolve()
        #expect(found.accessKeyID == "INSTANCE")
        #expect(found.source == "imds (role batch-role)")
    }

    @Test func temporaryCredentialsAreRefreshedBeforeTheyExpire() async throws {
        let issued = Locked(0)
        let server = try await LoopbackServer { _ in
            let number = issued.withLock { $0 += 1; return $0 }
            return LoopbackServer.json(Self.document(key: "KEY\(number)", expiresIn: 3600))
        }
        defer { Task { await server.stop() } }
        let now = Locked(Date())
        let chain = CredentialChain(
            providers: [ContainerCredentialProvider(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url])],
            clock: { now.value })
        #expect(try await chain.resolve().accessKeyID == "KEY1")
        #expect(try await chain.resolve().accessKeyID == "KEY1", "cached while far from expiry")
        now.withLock { $0 = $0.addingTimeInterval(3600 - 240) }
        #expect(try await chain.resolve().accessKeyID == "KEY2", "refreshed 4 minutes before expiry")
        #expect(issued.value == 2)
    }

    @Test func noCredentialsSaysWhatWasTried() async throws {
        let directory = TemporaryDirectory()
        do {
            _ = try await CredentialChain.standard(environment: ["HOME": directory.path, "AWS_EC2_METADATA_DISABLED": "true"]).resolve()
            Issue.record("expected NoCredentialsError")
        } catch let error as NoCredentialsError {
            #expect(error.tried == ["environment", "web-identity", "shared-file", "ecs-container", "imds"])
            #expect(error.description.contains("AWS_ACCESS_KEY_ID"))
        }
    }

    @Test func endpointsAndRegionsResolveLikeTheAWSCLI() throws {
        let configuration = try AWSConfiguration(environment: [
            "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000/",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": "http://127.0.0.1:7000",
        ])
        #expect(configuration.region == "eu-west-1")
        #expect(configuration.regionSource == "AWS_REGION")
        #expect(configuration.endpoint(for: .s3) == "http://127.0.0.1:9000")
        #expect(configuration.endpoint(for: .logs) == "http://127.0.0.1:7000")
        #expect(configuration.endpoint(for: .ecs) == "http://127.0.0.1:5000")
        let aws = try AWSConfiguration(environment: ["AWS_DEFAULT_REGION": "us-east-1"])
        #expect(aws.endpoint(for: .efs) == "https://elasticfilesystem.us-east-1.amazonaws.com")
        #expect(!aws.hasCustomEndpoint(for: .s3))
        #expect(throws: AWSError.self) { try AWSConfiguration(environment: ["HOME": "/nonexistent"]) }
    }
}
