import AWS
import FathomAPI
import FathomCLI
import FathomCore
import Foundation
import Testing

/// The ECS launcher against real ECS behaviour that moto does not play, through ``ECSFaultProxy``.
/// Each scenario ends in the truthful state within a stated bound, with the reason in the run's logs.
@Suite(.serialized)
struct ECSFaultTests {
    typealias Stack = ECSLauncherTests.ECSStack

    func start(_ scenario: ECSFaultProxy.Scenario, settings: [String: JSONValue] = [:], bundle: String = TestPaths.examples, token: String? = nil)
        async throws -> (Stack, ECSFaultProxy)
    {
        let stack = try await Stack()
        let proxy = try await ECSFaultProxy(moto: stack.moto, scenario: scenario)
        try await stack.register(bundle, settings: settings)
        try stack.startAgent(endpoint: proxy.url, token: token)
        return (stack, proxy)
    }

    /// Waits (long enough for a loaded CI run's claim and registration) for the run to crash, and says how long after
    /// RunTask it did: the launcher's deadlines count from RunTask, so that is what a bound is about.
    func crashedAfterRunTask(_ stack: Stack, _ proxy: ECSFaultProxy, _ run: FlowRunID) async -> Duration? {
        guard await stack.waitFor(run, .crashed, timeout: .seconds(60)) else { return nil }
        let crashedAt = ContinuousClock.now
        return proxy.firstCall("RunTask").map { crashedAt - $0 }
    }

    func stop(_ stack: Stack, _ proxy: ECSFaultProxy) async {
        await stack.stop()
        await proxy.stop()
    }

    func logs(_ stack: Stack, _ runID: FlowRunID) async -> String {
        ((try? await stack.api.logs(runID, limit: 1000).lines) ?? []).map(\.message).joined(separator: "\n")
    }

    @Test func aTaskMISSINGForItsFirstSecondsIsWaitedForAndCompletes() async throws {
        let (stack, proxy) = try await start(ECSFaultProxy.Scenario(missingFor: .seconds(2)), settings: ["missingGraceSeconds": 30])
        defer { Task { await stop(stack, proxy) } }
        stack.harness.start()
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        let completed = await stack.waitFor(run.id, .completed, timeout: .seconds(30))
        let message = (try? await stack.api.run(run.id).stateMessage) ?? ""
        #expect(completed, "\(message)")
        #expect(await logs(stack, run.id).contains("MISSING"), "the wait is said in the run's logs")
    }

    @Test func aTaskMISSINGPastTheGraceIsStoppedAndTheRunCrashed() async throws {
        let (stack, proxy) = try await start(ECSFaultProxy.Scenario(missingFor: .seconds(1_000_000)), settings: ["missingGraceSeconds": 2])
        defer { Task { await stop(stack, proxy) } }
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        let elapsed = await crashedAfterRunTask(stack, proxy, run.id)
        // The 2 s grace plus a poll; the margin is for CI machines loaded by the suites running alongside.
        #expect(elapsed.map { $0 < .seconds(12) } == true, "crashed within the 2 s grace plus a poll: \(String(describing: elapsed))")
        let message = try await stack.api.run(run.id).stateMessage
        #expect(message.contains("MISSING") && message.contains("Fathom stopped it"), "\(message)")
        #expect(proxy.count("StopTask") >= 1, "the task is stopped before the run ends, so nothing is orphaned")
    }

    @Test func deniedDescribeTasksIsLoggedAtOnceAndEndsTheRunAfterTheDeadline() async throws {
        let (stack, proxy) = try await start(
            ECSFaultProxy.Scenario(describeError: "AccessDeniedException"), settings: ["awsErrorTimeoutSeconds": 3])
        defer { Task { await stop(stack, proxy) } }
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        let logged = await eventually(timeout: .seconds(30)) { await logs(stack, run.id).contains("not allowed ecs:DescribeTasks") }
        let loggedAt = ContinuousClock.now
        let early = await logs(stack, run.id)
        #expect(logged, "the first failure is in the run's logs, with the IAM action: \(early)")
        if let firstDescribe = proxy.firstCall("DescribeTasks") {
            #expect(loggedAt - firstDescribe < .seconds(3), "said at once: \(loggedAt - firstDescribe) after the first denied call")
        }
        let elapsed = await crashedAfterRunTask(stack, proxy, run.id)
        #expect(elapsed.map { $0 < .seconds(13) } == true, "\(String(describing: elapsed))")
        let message = try await stack.api.run(run.id).stateMessage
        #expect(message.contains("AccessDeniedException") && message.contains("ecs:DescribeTasks"), "\(message)")
    }

    @Test func throttledDescribeTasksIsRetriedAndTheRunCompletes() async throws {
        let (stack, proxy) = try await start(ECSFaultProxy.Scenario(throttledDescribes: 4))
        defer { Task { await stop(stack, proxy) } }
        stack.harness.start()
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        // Alone it completes in a few seconds; every suite at once on two cores was seen to need more than 30.
        let completed = await stack.waitFor(run.id, .completed, timeout: .seconds(120))
        let message = (try? await stack.api.run(run.id).stateMessage) ?? ""
        #expect(completed, "\(message)")
    }

    @Test func aTaskPendingPastTheStartTimeoutIsStoppedAndCrashed() async throws {
        let (stack, proxy) = try await start(ECSFaultProxy.Scenario(pendingFor: .seconds(60)), settings: ["startTimeoutSeconds": 2])
        defer { Task { await stop(stack, proxy) } }
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        // The bound counts from RunTask (the start timeout's own origin); the wait is long enough for a loaded CI run's
        // claim and task-definition registration, which are not what this test is about.
        let elapsed = await crashedAfterRunTask(stack, proxy, run.id)
        // About 3 s on a quiet machine; a full CI run (every suite at once on 2 cores) has taken 32 s from RunTask.
        // The bound shows the deadline acts (the default startTimeoutSeconds is 600 s), not how fast a loaded host is.
        #expect(elapsed.map { $0 < .seconds(45) } == true, "crashed \(String(describing: elapsed)) after RunTask")
        let message = try await stack.api.run(run.id).stateMessage
        #expect(message.contains("did not reach RUNNING within startTimeoutSeconds (2 s)"), "\(message)")
        #expect(proxy.count("StopTask") >= 1)
    }

    @Test func aTransientStartFailureIsRetriedAndADeterministicOneIsNotWithBothReasonsKept() async throws {
        let (stack, proxy) = try await start(ECSFaultProxy.Scenario(startFailures: [
            "Timeout waiting for network interface provisioning to complete.",
            "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: b'mount.nfs4: Connection reset by peer' : unsuccessful EFS utils command execution; code: 32",
        ]), settings: ["startRetries": 3])
        defer { Task { await stop(stack, proxy) } }
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        #expect(await stack.waitFor(run.id, .crashed, timeout: .seconds(15)))
        let message = try await stack.api.run(run.id).stateMessage
        #expect(proxy.count("RunTask") == 2, "the transient failure was tried again, the deterministic one was not")
        #expect(message.contains("Connection reset by peer") && message.contains("TCP 2049"), "\(message)")
        #expect(message.contains("not started again"), "\(message)")
        #expect(message.contains("the first start failed too") && message.contains("network interface provisioning"), "\(message)")
    }

    @Test func runTaskCapacityFailuresAreRetriedAndTheRunCompletes() async throws {
        let (stack, proxy) = try await start(ECSFaultProxy.Scenario(runTaskFailures: ["RESOURCE:MEMORY"]))
        defer { Task { await stop(stack, proxy) } }
        stack.harness.start()
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        #expect(await stack.waitFor(run.id, .completed, timeout: .seconds(30)))
        #expect(await logs(stack, run.id).contains("RunTask: RESOURCE:MEMORY"))
    }

    @Test func parallelFirstLaunchesRegisterOneRevisionDespiteConflicts() async throws {
        let (stack, proxy) = try await start(ECSFaultProxy.Scenario(registrationHold: .milliseconds(300)))
        defer { Task { await stop(stack, proxy) } }
        stack.harness.start()
        var runs: [FlowRunID] = []
        for _ in 0..<4 { runs.append(try await stack.api.createRun(CreateFlowRunRequest(flow: "hello")).id) }
        for run in runs {
            let completed = await stack.waitFor(run, .completed, timeout: .seconds(40))
            let message = (try? await stack.api.run(run).stateMessage) ?? ""
            #expect(completed, "\(message)")
        }
        #expect(try await ECSClient(client: stack.aws).listTaskDefinitions(familyPrefix: "fathom-test").count == 1)
    }

    @Test func emptyLogPagesBeforeTheDataLoseNothingAndDuplicateNothing() async throws {
        let (stack, proxy) = try await start(ECSFaultProxy.Scenario(emptyLogPages: 3))
        defer { Task { await stop(stack, proxy) } }
        stack.harness.start()
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        #expect(await stack.waitFor(run.id, .completed, timeout: .seconds(30)))
        let marker = "fathom: flow run \(run.id) (hello) starting"
        let copied = await eventually(timeout: .seconds(60)) {
            ((try? await stack.api.logs(run.id, limit: 1000).lines) ?? []).contains { $0.source == "container" && $0.message.contains(marker) }
        }
        #expect(copied)
        try await Task.sleep(for: .seconds(1))
        let lines = try await stack.api.logs(run.id, limit: 1000).lines.filter { $0.source == "container" && $0.message.contains(marker) }
        #expect(lines.count == 1, "each CloudWatch event once: \(lines.count)")
    }

    @Test func aRestartedAgentResumesTheContainersLogsWhereTheLastOneStopped() async throws {
        let (stack, proxy) = try await start(ECSFaultProxy.Scenario(), bundle: TestPaths.testFlows)
        defer { Task { await stop(stack, proxy) } }
        stack.harness.start()
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "sleeper", parameters: ["seconds": 6]))
        #expect(await stack.waitFor(run.id, .running))
        let taskArn = try #require(try await stack.api.run(run.id).infrastructure["taskArn"])
        func copied() async -> [String] {
            ((try? await stack.api.logs(run.id, limit: 10000).lines) ?? []).filter { $0.source == "container" && $0.message.hasPrefix("event ") }.map(\.message)
        }
        // What awslogs ships from the container, in two parts around the agent's restart.
        await stack.harness.putLogs((1...15).map { "event \($0)" }, arn: taskArn)
        let firstPart = await eventually(timeout: .seconds(60)) { await copied().count == 15 }
        #expect(firstPart)
        await stack.stopAgent()
        let position = try await stack.api.run(run.id).infrastructure
        #expect(position["logReadToken"] != nil, "the read position is stored with the lines: \(position)")
        await stack.harness.putLogs((16...30).map { "event \($0)" }, arn: taskArn)
        try stack.startAgent(endpoint: proxy.url)
        #expect(await stack.waitFor(run.id, .completed, timeout: .seconds(30)))
        let all = await eventually(timeout: .seconds(60)) { await copied().contains("event 30") }
        #expect(all)
        try await Task.sleep(for: .seconds(1))
        let events = await copied()
        #expect(events == (1...30).map { "event \($0)" }, "each line once, in order, across the restart: \(events)")
    }

    @Test func anAgentThatDiedBeforeRecordingItsTaskFindsItByTagAndTheRunCompletes() async throws {
        let (stack, proxy) = try await start(ECSFaultProxy.Scenario(runTaskAnswerDelay: .seconds(30)), bundle: TestPaths.testFlows)
        defer { Task { await stop(stack, proxy) } }
        stack.harness.start()
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "sleeper", parameters: ["seconds": 3]))
        let ecs = ECSClient(client: stack.aws)
        // The task exists in ECS, but the agent is still waiting for RunTask's answer when it dies.
        let taskStarted = await eventually(timeout: .seconds(20)) {
            ((try? await ecs.listTasks(cluster: "fathom", startedBy: "fathom")) ?? []).count == 1
        }
        #expect(taskStarted)
        await stack.stopAgent()
        #expect(try await stack.api.run(run.id).infrastructure["taskArn"] == nil, "the agent never recorded the task")
        proxy.scenario.withLock { $0.runTaskAnswerDelay = nil }
        try stack.startAgent(endpoint: proxy.url)
        let completed = await stack.waitFor(run.id, .completed, timeout: .seconds(30))
        let message = (try? await stack.api.run(run.id).stateMessage) ?? ""
        #expect(completed, "\(message)")
        #expect(await logs(stack, run.id).contains("by its fathom:flow-run-id tag after an agent restart"))
        #expect(try await ecs.listTasks(cluster: "fathom", startedBy: "fathom").count == 1, "re-attached, not started twice")
        #expect(proxy.count("RunTask") == 1)
        #expect(try await stack.api.run(run.id).infrastructure["taskArn"] != nil, "recorded once found")
    }

    @Test func aDeniedGetLogEventsIsSaidInTheRunsLogs() async throws {
        let (stack, proxy) = try await start(ECSFaultProxy.Scenario(logsDenied: true))
        defer { Task { await stop(stack, proxy) } }
        stack.harness.start()
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        #expect(await stack.waitFor(run.id, .completed, timeout: .seconds(30)))
        #expect(await eventually(timeout: .seconds(60)) { await logs(stack, run.id).contains("not allowed logs:GetLogEvents") })
    }

    @Test func aRunningTaskWhoseFlowNeverReportsIsStoppedWithTheRunnerURLNamed() async throws {
        let (stack, proxy) = try await start(ECSFaultProxy.Scenario(), settings: ["reportTimeoutSeconds": 2])
        defer { Task { await stop(stack, proxy) } }
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))  // no harness: nothing runs in the task
        let elapsed = await crashedAfterRunTask(stack, proxy, run.id)
        #expect(elapsed.map { $0 < .seconds(12) } == true, "\(String(describing: elapsed))")
        let message = try await stack.api.run(run.id).stateMessage
        #expect(message.contains("did not report to the coordinator within reportTimeoutSeconds (2 s)"), "\(message)")
        #expect(message.contains("http://fathom-coordinator.internal:4200"), "the hint names the runner URL: \(message)")
        #expect(proxy.count("StopTask") >= 1)
    }

    @Test func anAgentWithATokenRefusesAConfigWithoutATokenSecret() async throws {
        let (stack, proxy) = try await start(ECSFaultProxy.Scenario(), token: "agent-token")
        defer { Task { await stop(stack, proxy) } }
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        #expect(await stack.waitFor(run.id, .crashed, timeout: .seconds(10)))
        #expect(try await stack.api.run(run.id).stateMessage.contains("ecs.apiTokenSecret"))
        #expect(proxy.count("RunTask") == 0, "nothing was started")
    }

    @Test func localAgentsNeverClaimECSRunsAndECSAgentsDo() async throws {
        try await withCoordinator(configure: { $0.coordinator.lateAfter = .milliseconds(500) }) { coordinator, client in
            let description = try await BundleRegistrar.describe(bundleAt: TestPaths.testFlows)
            let (sha, size) = try FathomStorageHash.of(TestPaths.testFlows)
            _ = try await client.uploadBundle(at: TestPaths.testFlows, sha256: sha, size: size)
            let config = RunConfig(launcher: .ecs, settings: ECSConfigTests.good)
            _ = try await client.registerFlows(RegisterFlowsRequest(bundleSHA256: sha, flows: description.flows, runConfig: config))
            let local = try await client.registerAgent(AgentRegistration(name: "laptop", launcher: .local))
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            #expect(try await client.claim(agent: local.id, ClaimRequest(waitSeconds: 0, capacity: 4)).runs.isEmpty, "a local agent never takes an ECS run")
            let ecsAgent = try await client.registerAgent(AgentRegistration(name: "ecs", launcher: .ecs))
            #expect(try await client.claim(agent: ecsAgent.id, ClaimRequest(waitSeconds: 0, capacity: 4)).runs.map(\.run.id).contains(run.id))
        }
    }
}
