import FathomAPI
import FathomClient
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
        let before = try await ClockedCoordinator(database: database, clock: clock, settings: settings)
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
        let after = try await ClockedCoordinator(database: database, clock: clock, settings: settings)
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

    /// The coordinator stays up but its store stops answering (a lost disk, a database restart) for longer than the
    /// heartbeat timeout: heartbeats could not be recorded, so when the store answers again every run gets a fresh
    /// timeout before its silence counts.
    @Test func aStoreOutageOfTwiceTheHeartbeatTimeoutCrashesNothing() async throws {
        let directory = TemporaryDirectory("store-outage")
        let clock = TestClock(date("2026-11-30T10:00:00Z"))
        var settings = CoordinatorSettings()
        settings.heartbeatTimeout = .seconds(30)
        let server = try await ClockedCoordinator(database: directory.file("unused"), clock: clock, settings: settings, store: .memory)
        let store = try #require(server.store as? InMemoryStore)
        try await server.register([flow])
        let agent = try await server.coordinator.registerAgent(AgentRegistration(name: "a"))
        let run = try await server.coordinator.createRun(CreateFlowRunRequest(flow: "job"))
        _ = try await server.coordinator.claim(agentID: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
        _ = try await server.coordinator.setState(run.id, SetStateRequest(state: .running, expected: .pending))
        await server.coordinator.housekeeping()  // the first round after start only notes when it began watching
        clock.advance(10)
        _ = try await server.coordinator.heartbeat(run.id)

        // The store is down for 60 s: the reaper's rounds fail, and so do the flow's heartbeats.
        await store.setFailing(true)
        for _ in 0..<12 {
            clock.advance(5)
            await server.coordinator.housekeeping()
            await #expect(throws: (any Error).self) { try await server.coordinator.heartbeat(run.id) }
        }
        await store.setFailing(false)
        #expect(try await server.coordinator.reap().isEmpty, "70 s of silence, 60 of them unheard, is not a death")
        clock.advance(5)
        #expect(try await server.coordinator.heartbeat(run.id) == .running)

        // The grace is one timeout: a flow that really went silent is still crashed.
        clock.advance(31)
        #expect(try await server.coordinator.reap().map(\.id) == [run.id])
    }

    /// A flow cut off from its coordinator for longer than the timeout (a partition, a stalled host) is crashed
    /// on silence; when its own heartbeat comes back the run was alive all along and runs on.
    @Test func aRunCrashedOnSilenceIsRevivedByItsOwnHeartbeat() async throws {
        let directory = TemporaryDirectory("revive")
        let clock = TestClock(date("2026-11-30T10:00:00Z"))
        var settings = CoordinatorSettings()
        settings.heartbeatTimeout = .seconds(30)
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock, settings: settings)
        try await server.register([flow], retryPolicy: RunRetryPolicy(retries: 2, delaySeconds: 60))
        let agent = try await server.coordinator.registerAgent(AgentRegistration(name: "a"))
        let run = try await server.coordinator.createRun(CreateFlowRunRequest(flow: "job"))
        _ = try await server.coordinator.claim(agentID: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
        _ = try await server.coordinator.setState(run.id, SetStateRequest(state: .running, expected: .pending))
        await server.coordinator.housekeeping()  // the first round after start only notes when it began watching
        clock.advance(31)
        #expect(try await server.coordinator.reap().map(\.id) == [run.id])
        let retry = try #require(try await server.store.runs(RunFilter(attemptsOf: run.id, limit: 10)).runs.first { $0.id != run.id })
        #expect(retry.state == .scheduled)

        clock.advance(5)
        #expect(try await server.coordinator.heartbeat(run.id) == .running, "the flow is told to go on, not to cancel itself")
        let revived = try #require(try await server.store.run(id: run.id, includeHistory: true))
        #expect(revived.state == .running && revived.endedAt == nil && revived.stateMessage.contains("came back 5 s after"))
        #expect(Array((revived.history ?? []).map(\.state).suffix(2)) == [FlowRunState.crashed, .running])
        #expect(try await server.store.run(id: retry.id, includeHistory: false) == nil, "the retry that never ran is withdrawn")
        let logs = try await server.store.logs(runID: run.id, after: 0, limit: 100).map(\.message)
        #expect(logs.contains { $0.hasPrefix("Running again") && $0.contains(retry.id) }, "\(logs)")

        // If it really stops later, it is crashed again and its retry keeps the number 2.
        clock.advance(31)
        #expect(try await server.coordinator.reap().map(\.id) == [run.id])
        let attempts = try await server.store.runs(RunFilter(attemptsOf: run.id, limit: 10)).runs
        #expect(attempts.map(\.attempt).sorted() == [1, 2], "\(attempts.map { ($0.attempt, $0.state) })")
    }

    @Test func aRunIsNotRevivedWhenItsRetryWasTakenOrItsEndWasNotSilence() async throws {
        let directory = TemporaryDirectory("no-revive")
        let clock = TestClock(date("2026-11-30T10:00:00Z"))
        var settings = CoordinatorSettings()
        settings.heartbeatTimeout = .seconds(30)
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock, settings: settings)
        try await server.register([flow], retryPolicy: RunRetryPolicy(retries: 1, delaySeconds: 0))
        let agent = try await server.coordinator.registerAgent(AgentRegistration(name: "a"))
        await server.coordinator.housekeeping()
        func startRun() async throws -> FlowRun {
            let run = try await server.coordinator.createRun(CreateFlowRunRequest(flow: "job"))
            _ = try await server.coordinator.claim(agentID: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
            return try await server.coordinator.setState(run.id, SetStateRequest(state: .running, expected: .pending))
        }
        // Crashed on silence, but its retry was claimed before the heartbeat came back: the retry holds the work.
        let first = try await startRun()
        clock.advance(31)
        #expect(try await server.coordinator.reap().map(\.id) == [first.id])
        _ = try await server.coordinator.claim(agentID: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
        #expect(try await server.coordinator.heartbeat(first.id) == .crashed)

        // Crashed for another reason (its agent saw the process die): a heartbeat does not undo that.
        let second = try await startRun()
        _ = try await server.coordinator.setState(second.id, SetStateRequest(state: .crashed, message: "the flow process was killed by signal 9"))
        #expect(try await server.coordinator.heartbeat(second.id) == .crashed)
        #expect(try await server.store.run(id: second.id, includeHistory: false)?.state == .crashed)
    }

    @Test func aRetryTheCoordinatorDidNotGetToMakeIsMadeByTheNextRound() async throws {
        let directory = TemporaryDirectory("lost-retry")
        let clock = TestClock(date("2026-11-30T10:00:00Z"))
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock)
        try await server.register([flow], retryPolicy: RunRetryPolicy(retries: 1, delaySeconds: 0))
        let run = try await server.coordinator.createRun(CreateFlowRunRequest(flow: "job"))
        // The run's end commits, and the process dies before the retry is inserted: the store alone saw it.
        for (from, to) in [(FlowRunState.scheduled, FlowRunState.pending), (.pending, .running), (.running, .failed)] {
            _ = try await server.store.compareAndSetState(StateWrite(runID: run.id, from: from, to: to, message: "boom", at: clock.now))
        }
        #expect(try await server.store.runs(RunFilter(attemptsOf: run.id, limit: 10)).runs.count == 1, "no retry yet")

        let restarted = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock)
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

/// Heartbeats go out from a thread of their own.
@Suite struct HeartbeatStarvationTests {
    @Test func aFlowThatBlocksEveryPoolThreadPastTheHeartbeatTimeoutStillCompletes() async throws {
        let data = TemporaryDirectory("starved")
        let server = BackgroundProcess(TestPaths.fathom, ["server", "--port", "0", "--data-dir", data.path + "/data", "--heartbeat-timeout", "2"])
        defer { Task { await server.stop() } }
        let url = try #require(BackgroundProcess.url(in: try await server.waitForLine { $0.contains("listening on http://") }))
        let client = APIClient(baseURL: url)
        try await registerTestFlows(client)
        let agent = BackgroundProcess(
            TestPaths.fathom, ["agent", "--cache-dir", data.path + "/cache"], environment: ["FATHOM_API_URL": url, "FATHOM_HEARTBEAT_SECONDS": "0.3"])
        defer { Task { await agent.stop() } }
        // Blocked three times the heartbeat timeout.
        let run = try await client.createRun(CreateFlowRunRequest(flow: "pool-blocker", parameters: ["seconds": .double(6)]))
        #expect(await eventually(timeout: .seconds(40)) { (try? await client.run(run.id).state.isFinal) == true })
        let final = try await client.run(run.id)
        #expect(final.state == .completed, "\(final.state): \(final.stateMessage)")
        let lines = try await client.logs(run.id).lines.map(\.message)
        #expect(lines.contains("unblocked"), "\(lines)")
    }
}

/// Two agent processes with one name: the second waits instead of taking the first's runs.
@Suite struct AgentIdentityTests {
    @Test func aSecondLiveAgentWithTheSameNameIsRefusedUntilTheFirstStops() async throws {
        try await withCoordinator { coordinator, client in
            let first = try await client.registerAgent(AgentRegistration(name: "worker", queue: "q", instance: "one", host: "h1"))
            do {
                _ = try await client.registerAgent(AgentRegistration(name: "worker", queue: "q", instance: "two", host: "h2"))
                Issue.record("the second process was let in")
            } catch let error as APIClientError {
                #expect(error.status == 409 && error.code == "agent_name_in_use", "\(error)")
                #expect("\(error)".contains("host h1") && "\(error)".contains("--name"), "\(error)")
            }
            // The same process registering again (a reconnect) is fine; so is the next one once the first stopped.
            #expect(try await client.registerAgent(AgentRegistration(name: "worker", queue: "q", instance: "one", host: "h1")).id == first.id)
            try await client.agentStopped(first.id, instance: "one")
            let second = try await client.registerAgent(AgentRegistration(name: "worker", queue: "q", instance: "two", host: "h2"))
            #expect(second.id == first.id && second.instance == "two", "a restarted agent keeps its id and its runs")
        }
    }

    @Test func anAgentThatDiedWithoutAWordFreesItsNameAfterTheTakeoverTime() async throws {
        let directory = TemporaryDirectory("takeover")
        let clock = TestClock(date("2026-11-30T10:00:00Z"))
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock)
        _ = try await server.coordinator.registerAgent(AgentRegistration(name: "worker", instance: "one"))
        clock.advance(30)
        await #expect(throws: CoordinatorError.self) { try await server.coordinator.registerAgent(AgentRegistration(name: "worker", instance: "two")) }
        clock.advance(16)
        #expect(try await server.coordinator.registerAgent(AgentRegistration(name: "worker", instance: "two")).instance == "two")
    }

    @Test func twoRealAgentsWithOneNameNeverCrashEachOthersRuns() async throws {
        let data = TemporaryDirectory("twins")
        let server = BackgroundProcess(TestPaths.fathom, ["server", "--port", "0", "--data-dir", data.path + "/data"])
        defer { Task { await server.stop() } }
        let url = try #require(BackgroundProcess.url(in: try await server.waitForLine { $0.contains("listening on http://") }))
        let client = APIClient(baseURL: url)
        try await registerTestFlows(client)
        let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper", parameters: ["seconds": .double(15)]))
        func agent() -> BackgroundProcess {
            BackgroundProcess(TestPaths.fathom, ["agent", "--name", "twin", "--cache-dir", data.path + "/cache"], environment: ["FATHOM_API_URL": url])
        }
        let first = agent()
        defer { Task { await first.stop() } }
        #expect(await eventually(timeout: .seconds(20)) { (try? await client.run(run.id).state) == .running })
        // The same name from a second process (two containers of one task definition): it waits, and the first's run lives.
        let second = agent()
        defer { Task { await second.stop() } }
        _ = try await second.waitForLine(timeout: .seconds(20)) { $0.contains("is live in another process") }
        let state = try await client.run(run.id).state
        #expect(state == .running || state == .completed, "the second agent did not touch the first's run: \(state)")
        #expect(await eventually(timeout: .seconds(30)) { (try? await client.run(run.id).state) == .completed })
        // The first stops cleanly: the second takes the name at once.
        await first.stop()
        _ = try await second.waitForLine(timeout: .seconds(20)) { $0.contains("agent ready") }
    }
}

/// A coordinator restart is a pause for its clients, not an end.
@Suite struct ClientOutageTests {
    @Test func followingARunRidesOutACoordinatorRestart() async throws {
        let data = TemporaryDirectory("follow-outage")
        func server(port: String) -> BackgroundProcess {
            BackgroundProcess(TestPaths.fathom, ["server", "--port", port, "--data-dir", data.path + "/data"])
        }
        let first = server(port: "0")
        let url = try #require(BackgroundProcess.url(in: try await first.waitForLine { $0.contains("listening on http://") }))
        let port = try #require(url.split(separator: ":").last.map(String.init))
        let client = APIClient(baseURL: url)
        try await registerTestFlows(client)
        let environment = ["FATHOM_API_URL": url]
        let agent = BackgroundProcess(TestPaths.fathom, ["agent", "--cache-dir", data.path + "/cache"], environment: environment)
        defer { Task { await agent.stop() } }
        let run = try await client.createRun(CreateFlowRunRequest(flow: "ticker", parameters: ["count": .int(80), "interval": .double(0.25)]))
        // 20 s of ticks: under a loaded CI a shorter run finished before the coordinator was killed.
        let follower = BackgroundProcess(TestPaths.fathom, ["logs", run.id, "--follow"], environment: environment)
        defer { Task { await follower.stop() } }
        _ = try await follower.waitForLine { $0.hasSuffix("tick 2") }

        // The coordinator dies; once the follower has noticed, it comes back on the same port and database.
        #expect(first.pid != nil)
        first.kill9()
        await first.stop()
        #expect(first.isFinished, "the first coordinator is gone")
        _ = try await follower.waitForLine(timeout: .seconds(30)) { $0.contains("lost the coordinator") }
        let second = server(port: port)
        defer { Task { await second.stop() } }
        _ = try await second.waitForLine { $0.contains("listening on http://") }

        _ = try await follower.waitForLine(timeout: .seconds(60)) { $0.contains("Completed") }
        let printed = follower.output
        #expect(printed.contains { $0.contains("reconnected") }, "\(printed.suffix(10))")
        let ticks = printed.filter { $0.contains("tick ") }
        #expect(ticks.count == 80 && Set(ticks).count == 80, "every line once: \(ticks.count)")
    }
}
