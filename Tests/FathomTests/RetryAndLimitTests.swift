import FathomAPI
import FathomCore
import FathomServer
import Foundation
import Testing

/// Whole-run retries as linked attempts, and flow and queue concurrency limits at claim time.
@Suite struct RetryAndLimitTests {
    let flaky = FlowDescription(name: "flaky", parameters: [ParameterSpec(name: "n", type: .int, defaultValue: .int(1))])
    let other = FlowDescription(name: "other", parameters: [])

    /// Takes a claimed run to `state` as an agent and flow would.
    func finish(_ server: ClockedCoordinator, _ id: FlowRunID, as state: FlowRunState) async throws {
        _ = try await server.coordinator.setState(id, SetStateRequest(state: .running, expected: .pending))
        _ = try await server.coordinator.setState(id, SetStateRequest(state: state, message: "boom", expected: .running))
    }

    @Test(arguments: StoreKind.allCases) func failedAndCrashedRunsComeBackAsLinkedAttemptsUntilThePolicyIsSpent(store: StoreKind) async throws {
        let directory = TemporaryDirectory("retries")
        let clock = TestClock(date("2026-11-29T10:00:00Z"))
        var settings = CoordinatorSettings()
        settings.heartbeatTimeout = .seconds(30)
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock, settings: settings, store: store)
        try await server.register([flaky], retryPolicy: RunRetryPolicy(retries: 2, delaySeconds: 60))
        let agent = try await server.coordinator.registerAgent(AgentRegistration(name: "a"))
        func claim() async throws -> [FlowRunID] {
            try await server.coordinator.claim(agentID: agent.id, ClaimRequest(waitSeconds: 0, capacity: 5)).runs.map(\.run.id)
        }
        let first = try await server.coordinator.createRun(CreateFlowRunRequest(flow: "flaky", parameters: ["n": .int(7)]))
        #expect(try await claim() == [first.id])
        try await finish(server, first.id, as: .failed)

        // Attempt 2: same parameters, linked to the first, due after the delay and not claimed before.
        var attempts = try await server.store.runs(RunFilter(attemptsOf: first.id, limit: 10)).runs
        let second = try #require(attempts.first { $0.attempt == 2 })
        #expect(second.retryOf == first.id && second.parameters["n"] == .int(7) && second.state == .scheduled)
        #expect(second.scheduledFor == date("2026-11-29T10:01:00Z"))
        #expect(try await claim().isEmpty, "not before its delay")
        let firstLogs = try await server.store.logs(runID: first.id, after: 0, limit: 10).map(\.message)
        #expect(firstLogs.contains { $0.hasPrefix("Retrying: attempt 2 of 3 is run \(second.id)") }, "\(firstLogs)")

        // Attempt 2 crashes (its heartbeat stops): attempt 3 follows.
        clock.advance(61)
        #expect(try await claim() == [second.id])
        _ = try await server.coordinator.setState(second.id, SetStateRequest(state: .running, expected: .pending))
        clock.advance(31)
        #expect(try await server.coordinator.reap().map(\.id) == [second.id])
        attempts = try await server.store.runs(RunFilter(attemptsOf: first.id, limit: 10)).runs
        let third = try #require(attempts.first { $0.attempt == 3 })
        #expect(third.retryOf == first.id, "every attempt links to the first")

        // Attempt 3 fails too: the policy is spent, no attempt 4.
        clock.advance(61)
        #expect(try await claim() == [third.id])
        try await finish(server, third.id, as: .failed)
        attempts = try await server.store.runs(RunFilter(attemptsOf: first.id, limit: 10)).runs
        #expect(attempts.map(\.attempt).sorted() == [1, 2, 3])
        #expect(attempts.allSatisfy { $0.state.isFinal })
    }

    @Test(arguments: StoreKind.allCases) func completedAndCancelledRunsAreNotRetriedAndAByHandRetryIsTheNextAttempt(store: StoreKind) async throws {
        let directory = TemporaryDirectory("retries-not")
        let clock = TestClock(date("2026-11-29T10:00:00Z"))
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock, store: store)
        try await server.register([flaky], retryPolicy: RunRetryPolicy(retries: 3))
        let agent = try await server.coordinator.registerAgent(AgentRegistration(name: "a"))
        let done = try await server.coordinator.createRun(CreateFlowRunRequest(flow: "flaky"))
        let cancelled = try await server.coordinator.createRun(CreateFlowRunRequest(flow: "flaky"))
        _ = try await server.coordinator.cancel(cancelled.id)
        _ = try await server.coordinator.claim(agentID: agent.id, ClaimRequest(waitSeconds: 0, capacity: 5))
        try await finish(server, done.id, as: .completed)
        #expect(try await server.store.runs(RunFilter(flowName: "flaky", limit: 10)).total == 2)

        let again = try await server.coordinator.retryRun(cancelled.id)
        #expect(again.attempt == 2 && again.retryOf == cancelled.id && again.state == .scheduled)
        let third = try await server.coordinator.retryRun(cancelled.id)
        #expect(third.attempt == 3 && third.retryOf == cancelled.id)
        await #expect(throws: CoordinatorError.self, "a run still going cannot be retried") { try await server.coordinator.retryRun(third.id) }
    }

    @Test(arguments: StoreKind.allCases) func flowAndQueueLimitsHoldRunsAtClaimAndReleaseThemAsRunsEnd(store: StoreKind) async throws {
        let directory = TemporaryDirectory("limits")
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: TestClock(date("2026-11-29T10:00:00Z")), store: store)
        try await server.register([flaky, other])
        let agent = try await server.coordinator.registerAgent(AgentRegistration(name: "a"))
        func claim() async throws -> [FlowRun] {
            try await server.coordinator.claim(agentID: agent.id, ClaimRequest(waitSeconds: 0, capacity: 10)).runs.map(\.run)
        }
        _ = try await server.coordinator.setConcurrencyLimit(scope: "flow", name: "flaky", limit: 1)
        _ = try await server.coordinator.setConcurrencyLimit(scope: "queue", name: "default", limit: 3)
        var flakyRuns: [FlowRunID] = []
        for _ in 0..<4 { flakyRuns.append(try await server.coordinator.createRun(CreateFlowRunRequest(flow: "flaky")).id) }
        for _ in 0..<4 { _ = try await server.coordinator.createRun(CreateFlowRunRequest(flow: "other")) }

        // One flaky (its flow limit) and two others (the queue's limit of three), though the agent asked for ten.
        var claimed = try await claim()
        #expect(claimed.filter { $0.flowName == "flaky" }.map(\.id) == [flakyRuns[0]], "the oldest flaky run first")
        #expect(claimed.filter { $0.flowName == "other" }.count == 2)
        #expect(try await claim().isEmpty, "both limits are full")
        let limits = try await server.store.concurrencyLimits()
        #expect(limits.map { "\($0.scope) \($0.name) \($0.active)/\($0.limit)" } == ["flow flaky 1/1", "queue default 3/3"])

        // The flaky run ends: the next flaky run may go.
        try await finish(server, flakyRuns[0], as: .completed)
        claimed = try await claim()
        #expect(claimed.map(\.id) == [flakyRuns[1]])

        // Limit 0 holds everything; removing the limits lets the rest go.
        _ = try await server.coordinator.setConcurrencyLimit(scope: "flow", name: "flaky", limit: 0)
        _ = try await server.coordinator.deleteConcurrencyLimit(scope: "queue", name: "default")
        claimed = try await claim()
        #expect(claimed.allSatisfy { $0.flowName == "other" } && claimed.count == 2)
        await #expect(throws: CoordinatorError.self) { try await server.coordinator.setConcurrencyLimit(scope: "team", name: "x", limit: 1) }
        await #expect(throws: CoordinatorError.self) { try await server.coordinator.setConcurrencyLimit(scope: "flow", name: "x", limit: -1) }
    }

    @Test(arguments: StoreKind.allCases) func aRaisedLimitWakesAWaitingAgent(store: StoreKind) async throws {
        let directory = TemporaryDirectory("limits-wake")
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: TestClock(Date()), store: store)
        try await server.register([flaky])
        let agent = try await server.coordinator.registerAgent(AgentRegistration(name: "a"))
        _ = try await server.coordinator.setConcurrencyLimit(scope: "flow", name: "flaky", limit: 0)
        let run = try await server.coordinator.createRun(CreateFlowRunRequest(flow: "flaky"))
        let started = ContinuousClock.now
        async let waiting = server.coordinator.claim(agentID: agent.id, ClaimRequest(waitSeconds: 60, capacity: 1))
        try await Task.sleep(for: .milliseconds(300))
        _ = try await server.coordinator.setConcurrencyLimit(scope: "flow", name: "flaky", limit: 1)
        let claimed = try await waiting
        #expect(claimed.runs.map(\.run.id) == [run.id])
        // Unloaded this takes milliseconds; the bound leaves room for CI's parallel suites on two cores.
        #expect(ContinuousClock.now - started < .seconds(30), "woken by the change, not by the 60 s timeout")
    }

    @Test func aFlowRegisteredWithRetriesRunsAgainEndToEnd() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        let registered = try await stack.fathom(["register", TestPaths.testFlows, "--retries", "1", "--retry-delay", "0s"])
        #expect(registered.exit == 0, "\(registered.output)")
        #expect(registered.output.contains { $0.hasPrefix("registered failer v1") && $0.contains("retries: 1") })
        let first = try await stack.startRun("failer")
        var attempts: [FlowRun] = []
        let bothFailed = await eventually(timeout: .seconds(30)) {
            attempts = (try? await stack.client.send(.GET, "/api/v1/flow-runs?limit=50&flow=failer") as FlowRunList)?.runs ?? []
            return attempts.count == 2 && attempts.allSatisfy { $0.state == .failed }
        }
        #expect(bothFailed, "\(attempts.map { "\($0.attempt) \($0.state)" })")
        #expect(Set(attempts.map(\.attempt)) == [1, 2])
        #expect(attempts.first { $0.attempt == 2 }?.retryOf == first)
    }
}
