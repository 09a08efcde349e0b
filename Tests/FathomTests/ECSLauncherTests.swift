import AWS
import FathomAPI
import FathomClient
import FathomAgent
import FathomCLI
import FathomCore
import FathomECS
import FathomProcess
import FathomServer
import Foundation
import Logging
import Testing

/// The ECS launcher end to end against a real moto_server, with a harness playing the container.
@Suite(.serialized)
struct ECSLauncherTests {
    /// moto + network + cluster + EFS, a coordinator, an ECS agent, and the container harness.
    final class ECSStack: Sendable {
        let moto: MotoServer
        let awsEnvironment: [String: String]
        let aws: AWSClient
        let network: MotoNetwork
        let fileSystemID: String
        let coordinator: EmbeddedCoordinator
        let api: APIClient
        let efs = TemporaryDirectory("fathom-efs")
        let cache = TemporaryDirectory("fathom-cache")
        let data = TemporaryDirectory("fathom-data")
        let harness: ECSContainerHarness
        let agentTask = Locked<Task<Void, any Error>?>(nil)
        let pollInterval: Duration = .milliseconds(200)

        /// The host name tasks reach the coordinator by (the runner URL's).
        static let coordinatorHost = "fathom-coordinator.internal"

        init(taskProgression times: Int = 1_000_000, engine: ECSContainerHarness.Engine = .process) async throws {
            moto = try await MotoServer()
            try await moto.api(
                "POST", "/moto-api/state-manager/set-transition",
                json: #"{"model_name":"ecs::task","transition":{"progression":"manual","times":\#(times)}}"#)
            awsEnvironment = [
                "AWS_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent",
            ]
            aws = try moto.client()
            network = try await MotoNetwork.create(EC2Client(client: aws))
            _ = try await ECSClient(client: aws).call("CreateCluster", ["clusterName": "fathom"])
            let created = try await EFSClient(client: aws).call(.POST, "/file-systems", body: ["CreationToken": "fathom-scratch"])
            fileSystemID = try #require(created["FileSystemId"].stringValue)
            var configuration = ServerConfiguration(dataDirectory: data.path)
            configuration.port = 0
            configuration.reaperInterval = .milliseconds(200)
            var logger = Logger(label: "test.server")
            logger.logLevel = .error
            coordinator = try await EmbeddedCoordinator.start(configuration: configuration, logger: logger)
            api = APIClient(baseURL: coordinator.url)
            harness = ECSContainerHarness(
                client: aws, cluster: "fathom", coordinatorURL: coordinator.url, efsDirectory: efs.path, cacheDirectory: cache.path,
                logGroup: "/fathom/flows", engine: engine)
        }

        var runConfig: RunConfig { runConfig() }

        /// The test run config, with `extra` settings merged in (deadlines, …).
        func runConfig(_ extra: [String: JSONValue] = [:]) -> RunConfig {
            var config = baseRunConfig
            config.settings = .object((config.settings.objectValue ?? [:]).merging(extra) { _, new in new })
            return config
        }

        var baseRunConfig: RunConfig {
            RunConfig(launcher: .ecs, settings: [
                "cluster": "fathom", "region": "eu-west-1", "launchType": "FARGATE",
                "taskDefinition": [
                    "family": "fathom-test", "cpu": "256", "memory": "512",
                    "containerDefinitions": [["name": "flow", "image": "fathom-runner:test", "essential": true, "memory": 512]],
                ],
                "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
                "efs": [["name": "scratch", "fileSystemId": .string(fileSystemID), "containerPath": "/mnt/efs"]],
                "network": ["subnets": [.string(network.subnetIDs[0])], "securityGroups": [.string(network.securityGroupID)]],
                "logs": ["group": "/fathom/flows", "streamPrefix": "hello"],
                "runTask": ["propagateTags": "TASK_DEFINITION"],
            ])
        }

        func register(_ bundle: String, settings extra: [String: JSONValue] = [:], retryPolicy: RunRetryPolicy? = nil) async throws {
            let description = try await BundleRegistrar.describe(bundleAt: bundle)
            let (sha, size) = try FathomStorageHash.of(bundle)
            _ = try await api.uploadBundle(at: bundle, sha256: sha, size: size)
            _ = try await api.registerFlows(RegisterFlowsRequest(
                bundleSHA256: sha, flows: description.flows, runConfig: runConfig(extra), retryPolicy: retryPolicy))
        }

        /// Starts an ECS agent; `endpoint` puts a fault proxy between it and moto.
        /// The coordinator's URL by the host name tasks use (a real container resolves it to the coordinator).
        var runnerURL: String {
            "http://\(Self.coordinatorHost):\(URL(string: coordinator.url)?.port ?? 0)"
        }

        func startAgent(endpoint: String? = nil, token: String? = nil, runnerAPIURL: String = "http://fathom-coordinator.internal:4200") throws {
            var logger = Logger(label: "test.agent")
            logger.logLevel = .error
            var environment = awsEnvironment
            if let endpoint { environment["AWS_ENDPOINT_URL"] = endpoint }
            let launcher = try ECSLauncher(
                api: api, runnerAPIURL: runnerAPIURL, token: token, environment: environment,
                pollInterval: pollInterval, logger: logger)
            var configuration = AgentConfiguration(name: "ecs-agent")
            configuration.claimWait = .seconds(2)
            let agent = Agent(client: api, launcher: launcher, configuration: configuration, logger: logger)
            agentTask.withLock { $0 = Task { try await agent.run() } }
        }

        func stopAgent() async {
            let task = agentTask.withLock { $0 }
            task?.cancel()
            _ = try? await task?.value
        }

        /// Waits for `runID` to reach `state`: a liveness wait, at least two minutes (CI runs every suite at once on two
        /// cores); bounds on speed are checked where a test measures them.
        func waitFor(_ runID: FlowRunID, _ state: FlowRunState, timeout: Duration = .seconds(30)) async -> Bool {
            await eventually(timeout: max(timeout, .seconds(120)), every: .milliseconds(20)) { (try? await api.run(runID).state) == state }
        }

        func stop() async {
            await harness.stop()
            await stopAgent()
            await coordinator.stop()
            await moto.stop()
        }
    }

    @Test func helloRunsAsAnECSTaskWithItsEFSVolumeAndASecondRunRegistersNothing() async throws {
        let stack = try await ECSStack()
        defer { Task { await stack.stop() } }
        try await stack.register(TestPaths.examples)
        try await stack.moto.startRecording()
        try stack.startAgent()
        stack.harness.start()

        let first = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        let firstCompleted = await stack.waitFor(first.id, .completed)
        let firstMessage = (try? await stack.api.run(first.id).stateMessage) ?? ""
        #expect(firstCompleted, "\(firstMessage)")
        let ran = stack.harness.containerCommands.values.first
        #expect(ran == ["fathom", "execute", "--flow-run", first.id], "Docker's join of entryPoint and command: \(ran ?? [])")
        let files = try FileManager.default.contentsOfDirectory(atPath: stack.efs.path + "/hello")
        #expect(files.count == 1, "the flow wrote its file on the 'EFS' directory")

        let ecs = ECSClient(client: stack.aws)
        let definitions = try await ecs.listTaskDefinitions(familyPrefix: "fathom-test")
        #expect(definitions.count == 1)
        let definition = try await ecs.describeTaskDefinition(definitions[0])
        #expect(definition.taskDefinition?.volumes?.first?["efsVolumeConfiguration"]["fileSystemId"] == .string(stack.fileSystemID))
        #expect(definition.taskDefinition?.containerDefinitions?.first?["mountPoints"][0]["containerPath"] == "/mnt/efs")
        #expect(definition.tags?.contains { $0.key == ECSRender.hashTag } == true)

        let run = try await stack.api.run(first.id)
        let taskArn = try #require(run.infrastructure["taskArn"])
        #expect(run.infrastructure["taskDefinition"] == definitions[0])
        let task = try #require(try await ecs.describeTasks(cluster: "fathom", tasks: [taskArn]).tasks?.first)
        #expect(task.platformVersion == "1.4.0")
        #expect(task.startedBy == "fathom")
        #expect(task.tags?.contains(ECSTag(key: "fathom:flow-run-id", value: first.id)) == true)
        let environment = (task.overrides?["containerOverrides"][0]["environment"].arrayValue ?? []).compactMap { $0["name"].stringValue }
        #expect(environment.sorted() == ["FATHOM_API_URL", "FATHOM_FLOW_RUN_ID", "FATHOM_VOLUMES"], "nothing of the agent's environment leaks in")
        #expect(task.overrides?["containerOverrides"][0]["environment"][0]["value"] == "http://fathom-coordinator.internal:4200")
        // The run page shows the task with a link to it in the ECS console, the task definition revision and the EFS mount.
        let page = try await RawHTTP.send(.GET, stack.coordinator.url + "/runs/\(first.id)")
        let taskID = try #require(taskArn.split(separator: "/").last)
        #expect(page.body.contains(#"<a href="https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/fathom/tasks/\#(taskID)""#), "\(page.body)")
        #expect(page.body.contains(">\(taskArn)</a>"), "the task ARN is the link")
        #expect(page.body.contains(definitions[0]) && definitions[0].hasSuffix(":1"), "the task definition with its revision")
        #expect(page.body.contains("scratch=\(stack.fileSystemID)") && page.body.contains("/mnt/efs"), "the EFS mount")
        // The container's output reaches CloudWatch when it exits, after the flow reported Completed.
        let containerLines = await eventually(timeout: .seconds(60)) {
            (try? await stack.api.logs(first.id, limit: 1000).lines.contains { $0.source == "container" && $0.message.contains("fathom: flow run \(first.id) (hello) starting") }) == true
        }
        #expect(containerLines, "CloudWatch output of the container reached the run's logs")

        let second = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        #expect(await stack.waitFor(second.id, .completed))
        #expect(try await ecs.listTaskDefinitions(familyPrefix: "fathom-test").count == 1, "no new revision for an unchanged config")
        try await stack.moto.stopRecording()
        let recording = try String(contentsOfFile: stack.moto.recordingPath, encoding: .utf8)
        #expect(recording.components(separatedBy: "RegisterTaskDefinition").count - 1 == 1, "one RegisterTaskDefinition for two runs")
        let validation = try await stack.moto.validateRecording()
        #expect(validation.ok, "\(validation.report)")
        #expect(validation.report.contains("\"ecs:RunTask\": 2"))
    }

    @Test func sortCompressRunsUnchangedAsAnECSTaskOnTheEFSVolume() async throws {
        let stack = try await ECSStack()
        defer { Task { await stack.stop() } }
        try await stack.register(TestPaths.examples)
        try stack.startAgent()
        stack.harness.start()
        let run = try await stack.api.createRun(
            CreateFlowRunRequest(flow: "sort-compress", parameters: ["gib": 0.005, "memory": "40M", "level": 1]))
        let completed = await stack.waitFor(run.id, .completed)
        let message = (try? await stack.api.run(run.id).stateMessage) ?? ""
        #expect(completed, "\(message)")
        let workspace = stack.efs.path + "/fathom/runs/\(run.id)"
        let check = try await runCommand(
            "/bin/bash", ["-c", "cmp <(bunzip2 -c '\(workspace)/sorted.txt.bz2') <(LC_ALL=C sort '\(workspace)/input.txt') && echo same"])
        #expect(check.output == ["same"], "the archive on the EFS directory holds the sorted input: \(check.output)")
        let tasks = try await stack.api.taskRuns(run.id).map(\.name)
        #expect(tasks == ["generate-input", "sort", "bzip2", "test-archive"])
    }

    @Test func aTaskThatStopsBeforeTheFlowReportsIsCrashedWithinAPollInterval() async throws {
        let stack = try await ECSStack()
        defer { Task { await stack.stop() } }
        try await stack.register(TestPaths.examples)
        try stack.startAgent()
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        let taskArn = try await waitForTask(stack, run.id)
        await stack.harness.putLogs(["exec /usr/local/bin/fathom: no such file or directory"], arn: taskArn)
        let reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref fathom-runner:test"
        _ = try await ECSClient(client: stack.aws).stopTask(cluster: "fathom", task: taskArn, reason: reason)
        let stoppedAt = ContinuousClock.now
        #expect(await stack.waitFor(run.id, .crashed, timeout: .seconds(15)))
        let elapsed = ContinuousClock.now - stoppedAt
        // Crashed on seeing the task STOPPED, not at a deadline (the report deadline here is the default 300 s).
        // Unloaded that takes a poll interval plus the coordinator round trip (Benchmarks/ecs.py: p50 959 ms at a
        // 1 s poll); the bound is wide because the full CI run loads both cores (schemathesis, the fuzzers, GiB
        // sorts) and once took 4.7 s here at a 0.2 s poll.
        #expect(elapsed < .seconds(10), "crashed on the STOPPED task, long before any deadline: \(elapsed)")
        let crashed = try await stack.api.run(run.id)
        #expect(crashed.stateMessage.contains(reason))
        #expect(crashed.stateMessage.contains("hint: The image could not be pulled"))
        #expect(crashed.stateMessage.contains("before the flow reported a final state"))
        let logs = try await stack.api.logs(run.id, limit: 1000).lines
        #expect(logs.contains { $0.source == "container" && $0.message.contains("no such file or directory") },
                "a container that died before the runner started still leaves its output")
    }

    @Test func cancelStopsTheTaskAndTheRunEndsCancelled() async throws {
        let stack = try await ECSStack()
        defer { Task { await stack.stop() } }
        try await stack.register(TestPaths.testFlows)
        try await stack.moto.startRecording()
        try stack.startAgent()
        stack.harness.start()
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "shell-sleeper"))
        #expect(await stack.waitFor(run.id, .running))
        try await stack.api.cancel(run.id)
        #expect(await stack.waitFor(run.id, .cancelled, timeout: .seconds(45)), "a loaded CI machine needs the margin; alone it takes about 3 s")
        try await stack.moto.stopRecording()
        let recording = try String(contentsOfFile: stack.moto.recordingPath, encoding: .utf8)
        #expect(recording.contains("StopTask"))
        #expect(try await stack.api.run(run.id).history?.map(\.state).suffix(2) == [.cancelling, .cancelled])
    }

    @Test func aRestartedAgentReattachesAndTheRunStillCompletes() async throws {
        let stack = try await ECSStack()
        defer { Task { await stack.stop() } }
        try await stack.register(TestPaths.testFlows)
        try stack.startAgent()
        stack.harness.start()
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "sleeper", parameters: ["seconds": 4]))
        // The task's container starts under whatever else the CI run does on two cores: once over 30 s.
        #expect(await stack.waitFor(run.id, .running, timeout: .seconds(90)))
        await stack.stopAgent()
        try await Task.sleep(for: .milliseconds(500))
        try stack.startAgent()
        let completed = await stack.waitFor(run.id, .completed, timeout: .seconds(30))
        let message = (try? await stack.api.run(run.id).stateMessage) ?? ""
        #expect(completed, "\(message)")
        #expect(try await stack.api.run(run.id).history?.map(\.state) == [.scheduled, .pending, .running, .completed])
        #expect(try await ECSClient(client: stack.aws).listTasks(cluster: "fathom", startedBy: "fathom").count == 1, "no second task")
    }

    @Test func badConfigsAreRejectedBeforeAnyAWSCall() async throws {
        let stack = try await ECSStack()
        defer { Task { await stack.stop() } }
        let description = try await BundleRegistrar.describe(bundleAt: TestPaths.testFlows)
        let (sha, size) = try FathomStorageHash.of(TestPaths.testFlows)
        _ = try await stack.api.uploadBundle(at: TestPaths.testFlows, sha256: sha, size: size)
        try stack.startAgent()
        try await stack.moto.startRecording()
        for (name, config, field, _) in ECSConfigTests.badConfigs {
            do {
                _ = try await stack.api.registerFlows(RegisterFlowsRequest(
                    bundleSHA256: sha, flows: description.flows, runConfig: RunConfig(launcher: .ecs, settings: config)))
                Issue.record("\(name): registered")
            } catch let error as APIClientError {
                #expect(error.status == 422, "\(name)")
                #expect(error.description.contains(field), "\(name): \(error)")
            }
        }
        #expect(try await stack.api.listFlows().isEmpty, "nothing was stored")
        try await Task.sleep(for: .milliseconds(500))
        try await stack.moto.stopRecording()
        let recording = (try? String(contentsOfFile: stack.moto.recordingPath, encoding: .utf8)) ?? ""
        #expect(recording.split(separator: "\n").isEmpty, "zero AWS requests: \(recording.prefix(300))")
    }

    @Test func theRunnerImageAndTheTaskComposeTheCommandAsDockerDoes() {
        let image = DockerImage.runner
        #expect(image.entryPoint == ["fathom"] && image.command == ["--help"], "read from the Dockerfile's runner stage")
        // What Fathom used to send: a command override that repeats the image's ENTRYPOINT.
        #expect(image.argv(entryPoint: nil, command: ["fathom", "execute", "--flow-run", "r"]) == ["fathom", "fathom", "execute", "--flow-run", "r"])
        let config = try? ECSRunConfig(ECSConfigTests.good)
        let definition = config.map { ECSRender.registerTaskDefinition($0, region: "eu-west-1").request }
        let entryPoint = definition?["containerDefinitions"][0]["entryPoint"].arrayValue?.compactMap(\.stringValue)
        #expect(image.argv(entryPoint: entryPoint, command: ECSRender.runnerCommand(flowRunID: "r")) == ["fathom", "execute", "--flow-run", "r"])
        // An image without ENTRYPOINT (fathom on PATH) runs the same command.
        #expect(DockerImage(entryPoint: [], command: ["bash"]).argv(entryPoint: entryPoint, command: ECSRender.runnerCommand(flowRunID: "r")).first == "fathom")
    }

    func waitForTask(_ stack: ECSStack, _ runID: FlowRunID) async throws -> String {
        var arn: String?
        _ = await eventually(timeout: .seconds(60)) {
            arn = try? await stack.api.run(runID).infrastructure["taskArn"]
            return arn != nil
        }
        return try #require(arn)
    }
}
