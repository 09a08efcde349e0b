import FathomAPI
import FathomCore
import FathomECS
import FathomServer
import Foundation
import Testing

/// Retries that read why the run ended: more memory after an out-of-memory stop, on-demand capacity after a Spot
/// interruption, a wait when there was no capacity, and the plain retry for anything else.
struct StopReasonRetryTests {
    // MARK: Sizes and causes

    @Test func memoryGrowsByTheFactorToASizeFargateOffersAndStopsAtTheCap() {
        typealias Size = ECSTaskSize.Size
        #expect(ECSTaskSize.raised(Size(cpu: 1024, memory: 2048), factor: 2, cap: 16384, fargate: true) == Size(cpu: 1024, memory: 4096))
        // 16 GiB needs 2 vCPU on Fargate: cpu rises with memory.
        #expect(ECSTaskSize.raised(Size(cpu: 1024, memory: 8192), factor: 2, cap: 16384, fargate: true) == Size(cpu: 2048, memory: 16384))
        // 256 cpu offers at most 2 GiB: 512 × 3 = 1536 becomes the next offer up, 2048.
        #expect(ECSTaskSize.raised(Size(cpu: 256, memory: 512), factor: 3, cap: 4096, fargate: true) == Size(cpu: 256, memory: 2048))
        // A cap between offers: the largest offer under it.
        #expect(ECSTaskSize.raised(Size(cpu: 1024, memory: 8192), factor: 2, cap: 10000, fargate: true) == Size(cpu: 2048, memory: 9216))
        #expect(ECSTaskSize.raised(Size(cpu: 1024, memory: 8192), factor: 2, cap: 8192, fargate: true) == nil, "at the cap")
        #expect(ECSTaskSize.raised(Size(cpu: nil, memory: 1000), factor: 1.5, cap: 4000, fargate: false) == Size(cpu: nil, memory: 1500))
    }

    @Test func theStopReasonNamesTheCause() {
        func task(_ stopCode: String?, _ reason: String?, exit: Int? = nil, container: String? = nil) -> ECSDiagnosis.StoppedTask {
            ECSDiagnosis.StoppedTask(taskArn: "arn", stopCode: stopCode, stoppedReason: reason, containers: [("flow", exit, container)])
        }
        #expect(ECSDiagnosis.endCause(task("EssentialContainerExited", "Essential container in task exited", exit: 137,
                                           container: "OutOfMemoryError: Container killed due to memory usage")) == .outOfMemory)
        #expect(ECSDiagnosis.endCause(task("SpotInterruption", "Your Spot Task was interrupted.", exit: 143)) == .spotInterruption)
        #expect(ECSDiagnosis.endCause(task("TerminationNotice", "Your Spot Task was interrupted.")) == .spotInterruption)
        #expect(ECSDiagnosis.endCause(task("TaskFailedToStart", "Timeout waiting for network interface provisioning to complete.")) == .capacity)
        #expect(ECSDiagnosis.endCause(task("TaskFailedToStart", "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref")) == .startFailure)
        #expect(ECSDiagnosis.endCause(task("EssentialContainerExited", "Essential container in task exited", exit: 1)) == nil, "the flow's own exit")
    }

    @Test func overridesReachRunTaskAsECSTakesThem() async throws {
        let config = try ECSRunConfig(ECSConfigTests.variant { $0["launchType"] = "FARGATE_SPOT" })
        var context = ECSLaunchContext(flowRunID: "6bb8b23e-7058-4ba2-b1e8-d15709aa09b0", flowName: "hello", apiURL: "http://fathom.internal:4200")
        context.overrides = RunOverrides(memoryMiB: 4096, cpu: 2048, capacityProvider: "FARGATE")
        let runTask = ECSRender.runTask(config, taskDefinition: "arn:aws:ecs:eu-west-1:123456789012:task-definition/fathom-hello:1", context: context)
        #expect(runTask["overrides"]["memory"] == "4096" && runTask["overrides"]["cpu"] == "2048")
        #expect(runTask["overrides"]["containerOverrides"][0]["memory"] == 4096, "the container's own hard limit grows too")
        #expect(runTask["capacityProviderStrategy"] == [["capacityProvider": "FARGATE", "weight": 1]])
        #expect(runTask["launchType"] == .null)
        let directory = TemporaryDirectory()
        try JSONEncoder().encode(runTask).write(to: URL(fileURLWithPath: directory.file("params.json")))
        let result = try await runCommand("/bin/sh", ["-c", "python3 '\(PythonHelpers.path("validate_params.py"))' ecs RunTask < '\(directory.file("params.json"))'"])
        #expect(result.exit.exitCode == 0, "botocore's model takes it: \(result.output)")
    }

    // MARK: The coordinator's rules

    static let ecsConfig = RunConfig(launcher: .ecs, settings: ECSConfigTests.variant { $0["launchType"] = "FARGATE_SPOT" })

    /// A coordinator with one ECS flow under `policy`, and a run of it ended Crashed with `cause`.
    func crashed(cause: EndCause?, policy: RunRetryPolicy, overrides: RunOverrides? = nil)
        async throws -> (ClockedCoordinator, FlowRun, TestClock)
    {
        let directory = TemporaryDirectory("stop-reason")
        let clock = TestClock(date("2026-12-01T10:00:00Z"))
        let clocked = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock)
        _ = try await clocked.coordinator.register(RegisterFlowsRequest(
            bundleSHA256: String(repeating: "ab", count: 32), storageURL: "file:///nowhere/bundle",
            flows: [FlowDescription(name: "sort", parameters: [])], runConfig: Self.ecsConfig, retryPolicy: policy))
        let version = try #require(try await clocked.store.versions(flowName: "sort").first)
        let run = try await clocked.store.insertRun(NewFlowRun(
            id: Identifier.make(), version: version, parameters: [:], createdAt: clock.now, overrides: overrides))
        for state in [FlowRunState.pending, .running] { _ = try await clocked.coordinator.setState(run.id, SetStateRequest(state: state)) }
        let ended = try await clocked.coordinator.setState(run.id, SetStateRequest(state: .crashed, message: "ECS task stopped", cause: cause))
        #expect(ended.endCause == cause)
        return (clocked, ended, clock)
    }

    func retry(of run: FlowRun, in clocked: ClockedCoordinator) async throws -> FlowRun? {
        try await clocked.store.runs(RunFilter(attemptsOf: run.retryOf ?? run.id, limit: 100)).runs.first { $0.attempt == run.attempt + 1 }
    }

    @Test func anOutOfMemoryStopIsRetriedWithTwiceTheMemoryAndTheRuleSaysSo() async throws {
        let policy = RunRetryPolicy(retries: 3, delaySeconds: 5, memoryFactor: 2, maxMemoryMiB: 8192)
        let (clocked, run, _) = try await crashed(cause: .outOfMemory, policy: policy)
        let next = try #require(try await retry(of: run, in: clocked))
        #expect(next.overrides == RunOverrides(memoryMiB: 4096), "2048 MiB × 2, Fargate's 1 vCPU offers it")
        #expect(next.stateMessage.contains("out of memory: memory 2048 → 4096 MiB"), "\(next.stateMessage)")
        let logs = try await clocked.store.logs(runID: next.id, after: 0, limit: 10).map(\.message)
        #expect(logs.contains { $0.contains("rule: out of memory") }, "\(logs)")

        // The next out-of-memory stop doubles again from the override; at the cap it is not retried.
        let second = try await clocked.coordinator.setState(next.id, SetStateRequest(state: .crashed, message: "oom", cause: .outOfMemory))
        #expect(try await retry(of: second, in: clocked)?.overrides == RunOverrides(memoryMiB: 8192))
        let third = try #require(try await retry(of: second, in: clocked))
        let atCap = try await clocked.coordinator.setState(third.id, SetStateRequest(state: .crashed, message: "oom", cause: .outOfMemory))
        #expect(try await retry(of: atCap, in: clocked) == nil, "already at maxMemoryMiB")
        let refused = try await clocked.store.logs(runID: atCap.id, after: 0, limit: 10).map(\.message)
        #expect(refused.contains { $0.contains("Not retried") && $0.contains("maxMemoryMiB 8192") }, "\(refused)")
    }

    @Test func aSpotInterruptionIsRetriedOnOnDemandFargate() async throws {
        let (clocked, run, _) = try await crashed(
            cause: .spotInterruption, policy: RunRetryPolicy(retries: 1, onDemandAfterSpot: true), overrides: RunOverrides(memoryMiB: 4096))
        let next = try #require(try await retry(of: run, in: clocked))
        #expect(next.overrides == RunOverrides(memoryMiB: 4096, capacityProvider: "FARGATE"), "earlier overrides are kept")
        #expect(next.stateMessage.contains("Spot interruption"), "\(next.stateMessage)")
    }

    @Test func noCapacityWaitsItsOwnDelayAndAFlowFailureIsThePlainRetry() async throws {
        let policy = RunRetryPolicy(retries: 1, delaySeconds: 10, capacityDelaySeconds: 300)
        let (clocked, run, clock) = try await crashed(cause: .capacity, policy: policy)
        let next = try #require(try await retry(of: run, in: clocked))
        #expect(next.scheduledFor == clock.now.addingTimeInterval(300))
        #expect(next.stateMessage.contains("no capacity"), "\(next.stateMessage)")

        let (other, plainRun, otherClock) = try await crashed(cause: nil, policy: RunRetryPolicy(retries: 1, delaySeconds: 10, memoryFactor: 2, maxMemoryMiB: 8192))
        let plain = try #require(try await retry(of: plainRun, in: other))
        #expect(plain.scheduledFor == otherClock.now.addingTimeInterval(10) && plain.overrides == nil)
        #expect(plain.stateMessage.contains("the policy's retry"), "\(plain.stateMessage)")
    }

    @Test func aPolicyWithAFactorButNoCapIsRefusedNamingTheField() async throws {
        #expect(throws: ValidationError.self) { try RunRetryPolicy(retries: 1, memoryFactor: 2).validate(field: "retryPolicy") }
        do {
            try RunRetryPolicy(retries: 1, memoryFactor: 0.5, maxMemoryMiB: 4096).validate(field: "retryPolicy")
            Issue.record("a factor under 1 was accepted")
        } catch {
            #expect(error.field == "retryPolicy.memoryFactor")
        }
    }

    // MARK: Through the agent, against moto and the fault layer

    @Test func anAgentSeesASpotInterruptionAndTheRetryRunsOnFargate() async throws {
        let stack = try await ECSLauncherTests.ECSStack()
        let proxy = try await ECSFaultProxy(moto: stack.moto, scenario: .init(spotInterruptions: 1))
        defer { Task { await stack.stop(); await proxy.stop() } }
        try await stack.register(TestPaths.examples, settings: ["launchType": "FARGATE_SPOT"], retryPolicy: RunRetryPolicy(retries: 1, onDemandAfterSpot: true))
        try stack.startAgent(endpoint: proxy.url)
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        #expect(await stack.waitFor(run.id, .crashed, timeout: .seconds(60)))
        let crashed = try await stack.api.run(run.id)
        #expect(crashed.endCause == .spotInterruption && crashed.stateMessage.contains("SpotInterruption"), "\(String(describing: crashed.endCause)): \(crashed.stateMessage)")
        // On a loaded machine the first RunTask may be sent twice (a retried call, the same client token): wait for the
        // retry's, then check that every call before it asked for Spot.
        let onDemand: JSONValue = [["capacityProvider": "FARGATE", "weight": 1]]
        let launched = await eventually(timeout: .seconds(90)) {
            proxy.requests("RunTask").contains { $0["capacityProviderStrategy"] == onDemand }
        }
        #expect(launched, "\(proxy.requests("RunTask"))")
        let requests = proxy.requests("RunTask")
        let first = requests.firstIndex { $0["capacityProviderStrategy"] == onDemand } ?? requests.count
        #expect(first > 0 && requests[..<first].allSatisfy { $0["capacityProviderStrategy"] == [["capacityProvider": "FARGATE_SPOT", "weight": 1]] })
        let retried = try #require(try await stack.api.listRuns(flow: "hello").runs.first { $0.retryOf == run.id && $0.attempt == 2 })
        #expect(retried.overrides?.capacityProvider == "FARGATE")
    }
}

/// `fathom volume gc` keeps the workspaces runs still need: an active resumed attempt's (its chain's first run's),
/// and a Failed or Crashed run's while it can be resumed.
struct WorkspacesInUseTests {
    @Test func activeResumedAndResumableRunsKeepTheirChainsWorkspace() async throws {
        let directory = TemporaryDirectory("workspaces-in-use")
        let clock = TestClock(date("2026-12-01T10:00:00Z"))
        let clocked = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock)
        try await clocked.register([FlowDescription(name: "job", parameters: [])])
        let coordinator = clocked.coordinator
        func ended(_ state: FlowRunState, _ id: FlowRunID) async throws {
            for next in [FlowRunState.pending, .running, state] { _ = try await coordinator.setState(id, SetStateRequest(state: next)) }
        }
        // Old enough to be past the resumable window.
        let old = try await coordinator.createRun(CreateFlowRunRequest(flow: "job"))
        try await ended(.failed, old.id)
        clock.advance(10 * 86_400)
        // Failed, then resumed: the resumed attempt is running in the first run's workspace.
        let failed = try await coordinator.createRun(CreateFlowRunRequest(flow: "job"))
        try await ended(.failed, failed.id)
        let resumed = try await coordinator.retryRun(failed.id, resume: true)
        for next in [FlowRunState.pending, .running] { _ = try await coordinator.setState(resumed.id, SetStateRequest(state: next)) }
        // Crashed and not retried: resumable.
        let crashed = try await coordinator.createRun(CreateFlowRunRequest(flow: "job"))
        try await ended(.crashed, crashed.id)
        // Failed, then retried to completion: nothing to resume.
        let superseded = try await coordinator.createRun(CreateFlowRunRequest(flow: "job"))
        try await ended(.failed, superseded.id)
        let retried = try await coordinator.retryRun(superseded.id)
        try await ended(.completed, retried.id)

        let inUse = Set(try await coordinator.workspacesInUse(resumableFor: 7 * 86_400).workspaceIDs)
        #expect(inUse == [failed.id, crashed.id], "the resumed attempt keeps its chain's workspace, not one of its own")
        clock.advance(1)
        let none = Set(try await coordinator.workspacesInUse(resumableFor: 0).workspaceIDs)
        #expect(none == [failed.id], "with no resumable window only the active attempt's chain is kept")
    }
}
