import FathomAPI
import FathomCore
import FathomServer
import Foundation
import Testing

/// Runs that must not be lost or crashed by mistake: a coordinator outage is not the death of its runs,
/// and a retry the coordinator did not get to make is made later.
@Suite struct CoreRobustnessTests {
    let flow = FlowDescription(name: "job", parameters: [])

    @Test func aCoordinatorOutageOfTwiceTheHeartbeatTimeoutCrashesNothing() async throws {
        let directory = TemporaryDirectory("outage")
        let clock = TestClock(date("2026-11-30T10:00:00Z"))
        var settings = CoordinatorSettings()
        settings.heartbeatTimeout = .seconds(30)
        let database = directory.file("fathom.sqlite")
        let before = try ClockedCoordinator(database: database, clock: clock, settings: settings)
        try await before.register([flow])
        let agent = try await before.coordinator.registerAgent(AgentRegistration(name: "a"))
        let run = try await before.coordinator.createRun(CreateFlowRunRequest(flow: "job"))
        _ = try await before.coordinator.claim(agentID: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
        _ = try await before.coordinator.setState(run.id, SetStateRequest(state: .running, expected: .pending))
        _ = try await before.coordinator.heartbeat(run.id)
        // A second run claimed just before the outage, still Pending under its 60 s lease.
        let pending = try await before.coordinator.createRun(CreateFlowRunRequest(flow: "job"))
        _ = try await before.coordinator.claim(agentID: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))

        // The coordinator is down for 100 s (more than twice the timeout); a new process opens the same database.
        clock.advance(100)
        let after = try ClockedCoordinator(database: database, clock: clock, settings: settings)
        #expect(try await after.coordinator.reap().isEmpty, "no run is judged on silence the coordinator could not hear, no claim on a lease it could not renew")
        clock.advance(5)
        #expect(try await after.coordinator.heartbeat(run.id) == .running, "the flow's next heartbeat lands on a live run")
        clock.advance(20)
        #expect(try await after.coordinator.reap().isEmpty)
        #expect(try await after.store.run(id: run.id, includeHistory: false)?.state == .running)

        // The grace is one timeout (one lease), not forever: a run that really stopped is still crashed.
        clock.advance(31)
        #expect(try await after.coordinator.reap().map(\.id) == [run.id])
        clock.advance(10)
        #expect(try await after.coordinator.reap().map(\.id) == [pending.id], "its agent never came back to renew the claim")
    }

    @Test func aRetryTheCoordinatorDidNotGetToMakeIsMadeByTheNextRound() async throws {
        let directory = TemporaryDirectory("lost-retry")
        let clock = TestClock(date("2026-11-30T10:00:00Z"))
        let server = try ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock)
        try await server.register([flow], retryPolicy: RunRetryPolicy(retries: 1, delaySeconds: 0))
        let run = try await server.coordinator.createRun(CreateFlowRunRequest(flow: "job"))
        // The run's end commits, and the process dies before the retry is inserted: the store alone saw it.
        for (from, to) in [(FlowRunState.scheduled, FlowRunState.pending), (.pending, .running), (.running, .failed)] {
            _ = try await server.store.compareAndSetState(StateWrite(runID: run.id, from: from, to: to, message: "boom", at: clock.now))
        }
        #expect(try await server.store.runs(RunFilter(attemptsOf: run.id, limit: 10)).runs.count == 1, "no retry yet")

        let restarted = try ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock)
        await restarted.coordinator.housekeeping()
        let attempts = try await restarted.store.runs(RunFilter(attemptsOf: run.id, limit: 10)).runs
        #expect(attempts.map(\.attempt).sorted() == [1, 2], "\(attempts.map(\.attempt))")
        await restarted.coordinator.housekeeping()
        #expect(try await restarted.store.runs(RunFilter(attemptsOf: run.id, limit: 10)).runs.count == 2, "made once")

        // The retry fails too: the policy is spent, and the sweep makes nothing more.
        let second = try #require(attempts.first { $0.attempt == 2 })
        for (from, to) in [(FlowRunState.scheduled, FlowRunState.pending), (.pending, .running), (.running, .failed)] {
            _ = try await restarted.store.compareAndSetState(StateWrite(runID: second.id, from: from, to: to, message: "boom", at: clock.now))
        }
        await restarted.coordinator.housekeeping()
        #expect(try await restarted.store.runs(RunFilter(attemptsOf: run.id, limit: 10)).runs.count == 2)
    }
}
