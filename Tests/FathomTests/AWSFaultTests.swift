import AWS
import AsyncHTTPClient
import FathomProcess
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Testing

/// Faults moto cannot make (throttling, via a loopback proxy), and moto with signatures enforced.
@Suite(.serialized)
struct AWSFaultTests {
    /// Answers ThrottlingException to the first `throttle` calls, then forwards to moto.
    static func throttlingProxy(to moto: MotoServer, throttle: Int, seen: Locked<Int>) async throws -> LoopbackServer {
        try await LoopbackServer { request in
            let number = seen.withLock { $0 += 1; return $0 }
            if number <= throttle {
                return LoopbackServer.json(
                    #"{"__type":"ThrottlingException","message":"Rate exceeded"}"#, status: .badRequest,
                    headers: [HTTPField.Name("x-amzn-RequestId")!: "req-\(number)"])
            }
            return try await LoopbackServer.forward(request, body: try await request.body.collect(upTo: 16 << 20), to: moto.url).response
        }
    }

    func client(endpoint: String, key: String = "AKIAIOSFODNN7EXAMPLE", secret: String = "test") throws -> AWSClient {
        let configuration = try AWSConfiguration(environment: ["AWS_ENDPOINT_URL": endpoint], region: "eu-west-1")
        var client = AWSClient(
            configuration: configuration,
            credentials: CredentialChain(providers: [EnvironmentCredentialProvider(environment: [
                "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
            ])]))
        client.retry.baseDelay = .milliseconds(10)
        // An attempt moto answers slowly on a loaded machine is waited for, not retried: the tests count attempts.
        client.requestTimeout = .seconds(120)
        return client
    }

    @Test func throttlingIsRetriedWithBackoffAndClientErrorsAreNot() async throws {
        let moto = try await MotoServer()
        defer { Task { await moto.stop() } }
        // moto loads its ECS backend on the first ECS call, which takes long on a loaded machine: done before counting.
        _ = try await ECSClient(client: try client(endpoint: moto.url)).call("ListClusters", [:])
        let seen = Locked(0)
        let proxy = try await Self.throttlingProxy(to: moto, throttle: 3, seen: seen)
        defer { Task { await proxy.stop() } }
        let ecs = ECSClient(client: try client(endpoint: proxy.url))
        _ = try await ecs.call("CreateCluster", ["clusterName": "fathom"])
        #expect(seen.value == 4, "three throttled attempts, then success")

        seen.withLock { $0 = 100 }
        do {
            _ = try await ecs.describeTasks(cluster: "missing", tasks: ["x"])
            Issue.record("expected ClusterNotFoundException")
        } catch let error as AWSError {
            #expect(error.serviceError?.code == "ClusterNotFoundException")
        }
        #expect(seen.value == 101, "a client error is never retried")

        let alwaysThrottled = Locked(0)
        let stubborn = try await Self.throttlingProxy(to: moto, throttle: 1000, seen: alwaysThrottled)
        defer { Task { await stubborn.stop() } }
        var bounded = try client(endpoint: stubborn.url)
        bounded.retry.maxAttempts = 4
        do {
            _ = try await ECSClient(client: bounded).describeClusters(["fathom"])
            Issue.record("expected throttling to surface")
        } catch let error as AWSError {
            #expect(error.serviceError?.code == "ThrottlingException")
            #expect(error.serviceError?.requestID == "req-4")
        }
        #expect(alwaysThrottled.value == 4, "attempts are bounded")
    }

    @Test func unreachableEndpointsAreRetriedThenReported() async throws {
        var unreachable = try client(endpoint: "http://127.0.0.1:9")
        unreachable.retry.maxAttempts = 3
        do {
            _ = try await STSClient(client: unreachable).getCallerIdentity()
            Issue.record("expected unreachable")
        } catch let error as AWSError {
            guard case .unreachable(_, let endpoint, _) = error else { Issue.record("\(error)"); return }
            #expect(endpoint == "http://127.0.0.1:9")
        }
    }

    @Test func motoWithSignaturesEnforcedAcceptsOursAndRejectsAWrongSecret() async throws {
        let moto = try await MotoServer(environment: ["INITIAL_NO_AUTH_ACTION_COUNT": "3"])
        defer { Task { await moto.stop() } }
        let made = try await runCommand("/usr/bin/env", ["python3", PythonHelpers.path("moto_iam_user.py"), moto.url])
        #expect(made.exit.exitCode == 0, "\(made.output.suffix(5))")
        let keys = try #require(try JSONSerialization.jsonObject(with: Data((made.output.last ?? "").utf8)) as? [String: String])
        let good = try client(endpoint: moto.url, key: keys["key"]!, secret: keys["secret"]!)
        let identity = try await STSClient(client: good).getCallerIdentity()
        #expect(identity.arn.hasSuffix("user/fathom"))
        _ = try await ECSClient(client: good).call("CreateCluster", ["clusterName": "signed"])
        #expect(try await ECSClient(client: good).describeClusters(["signed"]).clusters?.count == 1)

        let bad = try client(endpoint: moto.url, key: keys["key"]!, secret: "not-the-secret")
        for call in [
            { _ = try await STSClient(client: bad).getCallerIdentity() },
            { _ = try await ECSClient(client: bad).describeClusters(["signed"]) },
        ] as [@Sendable () async throws -> Void] {
            do {
                try await call()
                Issue.record("a wrong secret must be rejected")
            } catch let error as AWSError {
                let code = error.serviceError?.code ?? ""
                #expect(["SignatureDoesNotMatch", "InvalidClientTokenId", "AccessDenied", "UnrecognizedClientException"].contains(code), "\(error)")
                #expect(error.serviceError?.httpStatus == 403 || error.serviceError?.httpStatus == 400)
            }
        }
    }

    @Test func whoamiPrintsWhereEverythingCameFromButNeverTheSecret() async throws {
        let moto = try await MotoServer()
        defer { Task { await moto.stop() } }
        let result = try await runCommand(TestPaths.fathom, ["aws", "whoami"], environment: [
            "AWS_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": "AKIAWHOAMIEXAMPLE", "AWS_SECRET_ACCESS_KEY": "very-secret-value",
            "AWS_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true",
        ])
        #expect(result.exit.exitCode == 0, "\(result.output)")
        let text = result.output.joined(separator: "\n")
        #expect(text.contains("account:     123456789012"))
        #expect(text.contains("region:      eu-west-1 (from AWS_REGION)"))
        #expect(text.contains("endpoint:    \(moto.url)"))
        #expect(text.contains("credentials: AKIAWHOAMIEXAMPLE from environment"))
        #expect(!text.contains("very-secret-value"))
    }
}
