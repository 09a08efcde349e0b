import AWS
import AsyncHTTPClient
import FathomAPI
import FathomAgent
import FathomCLI
import FathomClient
import FathomCore
import FathomInfra
import FathomServer
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Testing

/// The template deployed into moto's CloudFormation: every resource moto supports reaches CREATE_COMPLETE;
/// `fathom infra run-config` reads the stack's outputs into a run config `fathom ecs validate` and `fathom ecs check`
/// accept; a hello run through it completes (the harness plays the container) and writes on the volume; and the agent
/// sends exactly the operations its IAM policy was made from.
@Suite(.serialized) struct InfraStackTests {
    /// Resource types moto 5.2's CloudFormation lacks (it skips them with "No Moto CloudFormation support"), left out
    /// in these tests only; docs/infra.md lists them. moto's RDS instance has no `MasterUserSecret` attribute, so with
    /// the coordinator the database is left out too.
    static let motoLacks: Set<String> = [
        "AWS::S3::BucketPolicy", "AWS::SecretsManager::Secret", "AWS::ServiceDiscovery::PrivateDnsNamespace", "AWS::ServiceDiscovery::Service",
    ]
    static let agentKey = "AKIAFATHOMAGENT00001"
    static let userKey = "AKIAFATHOMUSER000001"

    /// moto with the token secret made, and the environment the CLI runs with as `key`.
    struct Account {
        let moto: MotoServer
        let aws: AWSClient
        let tokenSecret: String

        init() async throws {
            moto = try await MotoServer()
            try await moto.api(
                "POST", "/moto-api/state-manager/set-transition",
                json: #"{"model_name":"ecs::task","transition":{"progression":"manual","times":1000000}}"#)
            aws = try moto.client()
            let made = try await runCommand("/usr/bin/env", ["python3", "-c", """
                import boto3
                sm = boto3.client("secretsmanager", endpoint_url="\(moto.url)", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
                print(sm.create_secret(Name="fathom-token", SecretString="t" * 48)["ARN"])
                """])
            tokenSecret = try #require(made.output.last, "\(made.output)")
        }

        func environment(_ key: String) -> [String: String] {
            [
                "AWS_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "eu-west-1",
                "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent",
            ]
        }

        /// Creates the stack through CloudFormation's API and waits for it to finish.
        func deploy(_ template: InfraTemplate, name: String, parameters: [String: String]) async throws -> CloudFormationStack {
            let cloudFormation = CloudFormationClient(client: aws)
            var query: [(String, String)] = [("StackName", name), ("TemplateBody", try template.yaml()), ("Capabilities.member.1", "CAPABILITY_IAM")]
            for (index, (key, value)) in parameters.sorted(by: { $0.key < $1.key }).enumerated() {
                query += [("Parameters.member.\(index + 1).ParameterKey", key), ("Parameters.member.\(index + 1).ParameterValue", value)]
            }
            // moto makes every resource inside the CreateStack call: minutes with every suite at once on two cores.
            _ = try await cloudFormation.call("CreateStack", query, idempotent: false, timeout: .seconds(600))
            var stack: CloudFormationStack?
            _ = await eventually(timeout: .seconds(300), every: .milliseconds(200)) {
                stack = try? await cloudFormation.describeStack(name)
                return stack.map { !$0.status.hasSuffix("_IN_PROGRESS") } ?? false
            }
            return try #require(stack)
        }

        /// Each resource of the stack: logical id → (type, status, physical id).
        func resources(_ stack: String) async throws -> [String: (type: String, status: String, id: String)] {
            let answer = try await CloudFormationClient(client: aws).call("ListStackResources", [("StackName", stack)])
            var resources: [String: (String, String, String)] = [:]
            for member in answer.find("StackResourceSummaries")?.all("member") ?? [] {
                resources[member.string("LogicalResourceId") ?? ""] = (
                    member.string("ResourceType") ?? "", member.string("ResourceStatus") ?? "", member.string("PhysicalResourceId") ?? ""
                )
            }
            return resources
        }

        /// What CloudFormation does on AWS and moto 5.2's CloudFormation leaves undone, done through the EC2 API:
        /// a VPC's `EnableDnsHostnames: true` (AWS::EC2::VPC) and each `AWS::EC2::SubnetRouteTableAssociation`
        /// (moto makes neither visible to DescribeVpcAttribute and DescribeRouteTables).
        func finishNetworkAsCloudFormationDoes(_ resources: [String: (type: String, status: String, id: String)]) async throws {
            let ec2 = EC2Client(client: aws)
            for (_, resource) in resources where resource.type == "AWS::EC2::VPC" {
                _ = try await ec2.call("ModifyVpcAttribute", [("VpcId", resource.id), ("EnableDnsHostnames.Value", "true")])
            }
            let routeTable = try #require(resources["PublicRouteTable"]?.id)
            for (id, resource) in resources where resource.type == "AWS::EC2::Subnet" {
                _ = try await ec2.call("AssociateRouteTable", [("RouteTableId", routeTable), ("SubnetId", try #require(resources[id]?.id))])
            }
        }
    }

    /// A loopback proxy in front of moto's CloudFormation that answers `Ref` of an `AWS::EFS::AccessPoint` output as
    /// AWS does, with the access point's id ("Ref returns the access point ID", CloudFormation User Guide,
    /// AWS::EFS::AccessPoint, Return values): moto 5.2 writes the Python object's repr there, and its `Fn::GetAtt`
    /// AccessPointId fails outright.
    static func accessPointOutputProxy(moto: MotoServer, accessPointID: String) async throws -> LoopbackServer {
        try await LoopbackServer { request in
            var answer = try await LoopbackServer.forward(request, body: try await request.body.collect(upTo: 1 << 20), to: moto.url)
            let text = String(buffer: answer.body).replacingOccurrences(
                of: #"&lt;moto\.efs\.models\.AccessPoint object at 0x[0-9a-f]+&gt;"#, with: accessPointID, options: .regularExpression)
            answer.body = ByteBuffer(string: text)
            return answer.response
        }
    }

    /// The types a template declares, by logical id.
    static func declaredTypes(_ template: InfraTemplate) -> [String: String] {
        Dictionary(uniqueKeysWithValues: (template.template["Resources"]?.pairs ?? []).map { ($0.0, $0.1["Type"]?.strings.first ?? "") })
    }

    @Test func withTheCoordinatorEveryResourceMotoSupportsIsCreated() async throws {
        let account = try await Account()
        defer { Task { await account.moto.stop() } }
        var options = InfraOptions()
        options.coordinator = true
        options.prefix = "fathomc"
        options.leaveOut = Self.motoLacks.union(["AWS::RDS::DBInstance"])
        let template = try InfraTemplate(options: options)
        let stack = try await account.deploy(template, name: "fathomc", parameters: ["Image": "fathom-runner:test"])
        #expect(stack.status == "CREATE_COMPLETE", "\(stack.statusReason ?? "")")
        let created = try await account.resources("fathomc")
        let declared = Self.declaredTypes(template)
        #expect(Set(created.keys) == Set(declared.keys), "every resource in the template was made")
        for (id, resource) in created { #expect(resource.status == "CREATE_COMPLETE" && resource.type == declared[id], "\(id): \(resource)") }
        #expect(declared.values.contains("AWS::ElasticLoadBalancingV2::LoadBalancer") && declared.values.contains("AWS::ECS::Service"))
        #expect(stack.outputs["RunnerURL"] == "http://coordinator.fathomc.internal:4200", "\(stack.outputs)")
        #expect(stack.outputs["CoordinatorURL"]?.hasPrefix("http://") == true)
    }

    @Test func aStackFromTheTemplateRunsHelloOnItsVolumeAndTheAgentCallsExactlyWhatItsPolicyAllows() async throws {
        let account = try await Account()
        defer { Task { await account.moto.stop() } }
        let work = TemporaryDirectory("fathom-infra")
        let efs = TemporaryDirectory("fathom-infra-efs"), cache = TemporaryDirectory("fathom-infra-cache"), data = TemporaryDirectory("fathom-infra-data")

        // 1. The template, as `fathom infra template` prints it, deployed.
        let printed = try await runCommand(TestPaths.fathom, ["infra", "template", "--token-secret", account.tokenSecret, "--output", work.path + "/fathom.yaml"])
        #expect(printed.exit.exitCode == 0, "\(printed.output)")
        var options = InfraOptions()
        options.tokenSecretARN = account.tokenSecret
        #expect(try String(contentsOfFile: work.path + "/fathom.yaml", encoding: .utf8) == InfraTemplate(options: options).yaml())
        options.leaveOut = Self.motoLacks
        let template = try InfraTemplate(options: options)
        let runnerURL = "http://fathom-coordinator.internal:4200"
        let stack = try await account.deploy(template, name: "fathom", parameters: ["Image": "fathom-runner:test", "CoordinatorURL": runnerURL])
        #expect(stack.status == "CREATE_COMPLETE", "\(stack.statusReason ?? "")")
        let created = try await account.resources("fathom")
        let declared = Self.declaredTypes(template)
        #expect(Set(created.keys) == Set(declared.keys))
        for (id, resource) in created { #expect(resource.status == "CREATE_COMPLETE", "\(id): \(resource)") }
        try await account.finishNetworkAsCloudFormationDoes(created)

        // 2. The run config from the stack's outputs; validate and check accept it.
        let accessPoints = try await EFSClient(client: account.aws).describeAccessPoints(fileSystemID: try #require(stack.outputs["FileSystem"]))
        let accessPointID = try #require(accessPoints.first?.AccessPointId)
        let proxy = try await Self.accessPointOutputProxy(moto: account.moto, accessPointID: accessPointID)
        defer { Task { await proxy.stop() } }
        try await account.moto.startRecording()
        var userEnvironment = account.environment(Self.userKey)
        userEnvironment["AWS_ENDPOINT_URL_CLOUDFORMATION"] = proxy.url
        let written = try await runCommand(
            TestPaths.fathom, ["infra", "run-config", "fathom", "--output", work.path + "/ecs.yaml", "--env"], environment: userEnvironment)
        #expect(written.exit.exitCode == 0, "\(written.output) \(written.exit.stderrTail)")
        #expect(written.output.filter { !$0.hasPrefix("wrote ") } == ["export FATHOM_API_URL='\(runnerURL)'", "export FATHOM_TOKEN='\(String(repeating: "t", count: 48))'"], "for eval: the coordinator and its token")
        let validated = try await runCommand(TestPaths.fathom, ["ecs", "validate", work.path + "/ecs.yaml"])
        #expect(validated.output == ["ok"], "\(validated.output)")
        let agentEnvironment = account.environment(Self.agentKey)
        let checked = try await runCommand(TestPaths.fathom, ["ecs", "check", work.path + "/ecs.yaml", "--runner-api-url", runnerURL], environment: agentEnvironment)
        #expect(checked.exit.exitCode == 0, "\(checked.output.joined(separator: "\n"))")
        #expect(checked.output.last?.hasPrefix("ok: ") == true, "\(checked.output.joined(separator: "\n"))")
        let missing = try await runCommand(TestPaths.fathom, ["infra", "run-config", "no-such-stack"], environment: userEnvironment)
        #expect(missing.exit.exitCode != 0 && missing.output.joined().contains("stack no-such-stack does not exist"), "\(missing.output)")

        // 3. A coordinator, the examples registered with that run config, an ECS agent, the harness as the container.
        var configuration = ServerConfiguration(dataDirectory: data.path)
        configuration.port = 0
        configuration.reaperInterval = .milliseconds(200)
        var logger = Logger(label: "test.infra")
        logger.logLevel = .error
        let coordinator = try await EmbeddedCoordinator.start(configuration: configuration, logger: logger)
        let api = APIClient(baseURL: coordinator.url)
        // moto 5.2's RunTask fails (HTTP 500) on a container without its own memory, which AWS allows on Fargate
        // ("If using the Fargate launch type, this parameter is optional", botocore's ECS model, ContainerDefinition
        // memory): the hello runs use the generated config with the container's memory set to the task's.
        var runConfig = try RunConfigFile.load(work.path + "/ecs.yaml")
        var ecsSettings = try #require(runConfig.settings.objectValue)
        var flowDefinition = try #require(ecsSettings["taskDefinition"]?.objectValue)
        flowDefinition["containerDefinitions"] = .array((flowDefinition["containerDefinitions"]?.arrayValue ?? []).map { container in
            var container = container.objectValue ?? [:]
            container["memory"] = ecsSettings["memory"]
            return .object(container)
        })
        ecsSettings["taskDefinition"] = .object(flowDefinition)
        runConfig.settings = .object(ecsSettings)
        for bundle in [TestPaths.examples, TestPaths.testFlows] {
            let description = try await BundleRegistrar.describe(bundleAt: bundle)
            let (sha, size) = try FathomStorageHash.of(bundle)
            _ = try await api.uploadBundle(at: bundle, sha256: sha, size: size)
            _ = try await api.registerFlows(RegisterFlowsRequest(bundleSHA256: sha, flows: description.flows, runConfig: runConfig))
        }
        let harness = ECSContainerHarness(
            client: account.aws, cluster: "fathom", coordinatorURL: coordinator.url, efsDirectory: efs.path, cacheDirectory: cache.path,
            logGroup: "/fathom/fathom", logPrefix: "flows")
        var settings = AgentConfiguration(name: "fathom-agent")
        settings.claimWait = .seconds(2)
        let agentConfiguration = settings, agentLogger = logger
        func startAgent() throws -> Task<Void, any Error> {
            let launcher = try ECSLauncher(
                api: api, runnerAPIURL: runnerURL, token: nil, environment: agentEnvironment, pollInterval: .milliseconds(200), logger: agentLogger)
            return Task { try await Agent(client: api, launcher: launcher, configuration: agentConfiguration, logger: agentLogger).run() }
        }
        var agent = try startAgent()
        harness.start()
        defer {
            agent.cancel()
            Task {
                await harness.stop()
                await coordinator.stop()
            }
        }
        func waitFor(_ id: FlowRunID, _ state: FlowRunState) async -> Bool {
            await eventually(timeout: .seconds(120), every: .milliseconds(50)) { (try? await api.run(id).state) == state }
        }

        // Two hello runs, the second by a restarted agent (it finds and reuses the task definition: ListTaskDefinitions,
        // DescribeTaskDefinition), and a cancelled one (StopTask).
        var helloRuns: [FlowRunID] = []
        for attempt in 0..<2 {
            if attempt == 1 {
                agent.cancel()
                _ = try? await agent.value
                // A claim long-poll the old agent left on the coordinator (2 s) must end first, or it takes the run
                // for an agent that is gone (the run would wait for its lease).
                try await Task.sleep(for: .seconds(3))
                agent = try startAgent()
            }
            let run = try await api.createRun(CreateFlowRunRequest(flow: "hello"))
            let completed = await waitFor(run.id, .completed)
            let message = (try? await api.run(run.id).stateMessage) ?? ""
            let lines = (try? await api.logs(run.id, limit: 100).lines.map { "\($0.timestamp) \($0.source) \($0.message)" }) ?? []
            let history = (try? await api.run(run.id).history?.map { "\($0.state) \($0.at)" }) ?? []
            #expect(completed, "attempt \(attempt) \(run.id) \(message) \(history) \(lines.joined(separator: "\n"))")
            helloRuns.append(run.id)
            if !completed { break }
        }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: efs.path + "/hello")) ?? []
        #expect(files.count == 2, "each hello run wrote its file on the volume: \(files)")
        let task = try #require(try await ECSClient(client: account.aws).describeTasks(
            cluster: "fathom", tasks: try await ECSClient(client: account.aws).listTasks(cluster: "fathom", startedBy: "fathom")).tasks?.first)
        let definition = try await ECSClient(client: account.aws).call("DescribeTaskDefinition", ["taskDefinition": .string(task.taskDefinitionArn ?? "")])
        let volume = definition["taskDefinition"]["volumes"][0]["efsVolumeConfiguration"]
        #expect(volume["fileSystemId"].stringValue == stack.outputs["FileSystem"])
        #expect(volume["authorizationConfig"]["accessPointId"].stringValue == accessPointID)
        #expect(volume["transitEncryption"] == "ENABLED")
        #expect(definition["taskDefinition"]["taskRoleArn"].stringValue == stack.outputs["FlowTaskRoleArn"])
        let sleeper = try await api.createRun(CreateFlowRunRequest(flow: "shell-sleeper"))
        #expect(await waitFor(sleeper.id, .running))
        try await api.cancel(sleeper.id)
        #expect(await waitFor(sleeper.id, .cancelled))
        let streamed = await eventually(timeout: .seconds(30)) {
            (try? await api.logs(helloRuns[1], limit: 1000).lines.contains { $0.source == "container" }) == true
        }
        #expect(streamed, "container output came through CloudWatch (the log group and stream prefix of the run config)")

        // 4. What the agent sent (its own access key) is exactly what its policy was made from.
        agent.cancel()
        let validation = try await account.moto.validateRecording()
        #expect(validation.ok, "\(validation.report)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(validation.report.utf8)) as? [String: Any])
        let byKey = try #require(report["operations_by_key"] as? [String: [String: Int]])
        let sent = Set((byKey[Self.agentKey] ?? [:]).keys)
        let allowed = Set(ECSLauncher.awsOperations.union(ECSPreflight.awsOperations).map { "\($0.service.rawValue):\($0.name)" })
        #expect(sent.subtracting(allowed).isEmpty, "the agent sent operations its policy does not allow: \(sent.subtracting(allowed).sorted())")
        // Only after a restart between RunTask and recording the task does the agent list tasks; ECSFaultTests
        // (anAgentThatDiedBeforeRecordingItsTaskFindsItByTagAndTheRunCompletes) runs that path.
        let onlyAfterARestart: Set<String> = ["ecs:ListTasks"]
        #expect(allowed.subtracting(sent) == onlyAfterARestart, "declared but never sent: \(allowed.subtracting(sent).sorted())")
        #expect(Set((byKey[Self.userKey] ?? [:]).keys) == ["cloudformation:DescribeStacks", "secretsmanager:GetSecretValue"], "run-config reads the stack and, with --env, the token")
    }
}
