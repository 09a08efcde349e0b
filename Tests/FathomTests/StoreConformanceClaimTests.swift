import FathomAPI
import FathomCore
import FathomServer
import Foundation
import Testing

/// What every ``Store`` must do for agents, claims, limits, sweeps and schedules, against each ``StoreKind``.
@Suite struct StoreConformanceClaimTests {
    @Test(arguments: StoreKind.allCases)
    func aClaimTakesOnlyDueRunsOfTheAgentsQueueLauncherAndLabelsOldestDueFirst(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let plain = try await fixture.version("plain")
        let gpu = try await fixture.version("gpu", labels: ["gpu": "a100"])
        let ecs = try await fixture.version("ecs", launcher: .ecs)
        let elsewhere = try await fixture.version("elsewhere", queue: "other")
        let early = try await fixture.run(plain, createdAfter: 5)
        let dueEarlier = try await fixture.run(plain, createdAfter: 6, due: fixture.at(1), schedule: "s")
        let notDue = try await fixture.run(plain, due: fixture.at(100), schedule: "s")
        let labelled = try await fixture.run(gpu, createdAfter: 7)
        try await fixture.run(ecs)
        try await fixture.run(elsewhere)

        let wrongLabel = try await fixture.agent("wrong", labels: ["gpu": "t4"])
        #expect(try await fixture.claim(wrongLabel, capacity: 10) == [dueEarlier.id, early.id])
        let right = try await fixture.agent("right", labels: ["gpu": "a100", "zone": "b"])
        #expect(try await fixture.claim(right, capacity: 10) == [labelled.id])
        #expect(try await fixture.claim(right, capacity: 10, at: 100) == [notDue.id], "due at its slot")
        let ecsAgent = try await fixture.agent("ecs", launcher: .ecs)
        let claimed = try await fixture.store.claim(agent: ecsAgent, capacity: 0, leaseExpiresAt: fixture.at(40), now: fixture.at(10))
        #expect(claimed.runs.isEmpty, "no room, no runs")
        let handed = try await fixture.store.claim(agent: ecsAgent, capacity: 5, leaseExpiresAt: fixture.at(40), now: fixture.at(10)).runs
        #expect(handed.map(\.version.flowName) == ["ecs"])
        #expect(handed.first?.run.state == .pending && handed.first?.run.agentID == ecsAgent.id && handed.first?.leaseExpiresAt == fixture.at(40))
    }

    @Test(arguments: StoreKind.allCases)
    func runsAnAgentCannotTakeNeverStandInFrontOfOnesItCan(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let needsLabel = try await fixture.version("gpu", labels: ["gpu": "yes"])
        for second in 0..<100 { try await fixture.run(needsLabel, createdAfter: Double(second) / 100) }
        let servable = try await fixture.run(try await fixture.version("plain"), createdAfter: 2)
        let agent = try await fixture.agent("plain")
        #expect(try await fixture.claim(agent, capacity: 1) == [servable.id])
    }

    @Test(arguments: StoreKind.allCases)
    func aClaimStaysWithinFlowAndQueueLimitsCountingWhatIsActive(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let a = try await fixture.version("a"), b = try await fixture.version("b")
        for second in 0..<4 { try await fixture.run(a, createdAfter: Double(second)) }
        for second in 4..<8 { try await fixture.run(b, createdAfter: Double(second)) }
        let store = fixture.store
        try await store.setConcurrencyLimit(scope: "flow", name: "a", limit: 1)
        try await store.setConcurrencyLimit(scope: "queue", name: "default", limit: 3)
        let agent = try await fixture.agent("x")
        let claimed = try await store.claim(agent: agent, capacity: 10, leaseExpiresAt: fixture.at(40), now: fixture.at(10)).runs
        #expect(claimed.map(\.run.flowName) == ["a", "b", "b"], "one of a, the queue's other two places to b")
        #expect(try await store.concurrencyLimits() == [
            ConcurrencyLimit(scope: "flow", name: "a", limit: 1, active: 1),
            ConcurrencyLimit(scope: "queue", name: "default", limit: 3, active: 3),
        ])
        #expect(try await fixture.claim(agent, capacity: 10).isEmpty)
        try await fixture.move(claimed[1].run, through: [.running, .completed])
        let freed = try await store.claim(agent: agent, capacity: 10, leaseExpiresAt: fixture.at(40), now: fixture.at(10)).runs
        #expect(freed.map(\.run.flowName) == ["b"], "a place freed in the queue; a is still full")
        try await store.setConcurrencyLimit(scope: "queue", name: "default", limit: 10)
        #expect(try await store.deleteConcurrencyLimit(scope: "flow", name: "a"))
        #expect(try await store.deleteConcurrencyLimit(scope: "flow", name: "a") == false)
        #expect(try await fixture.claim(agent, capacity: 10).count == 4, "the rest of a, and b's last")
        #expect(try await store.agent(id: agent.id)?.runsInFlight == 7)
    }

    @Test(arguments: StoreKind.allCases)
    func aClaimRenewsTheAgentsLeasesAndReturnsItsRunsToCancel(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let version = try await fixture.version("a")
        let agent = try await fixture.agent("x")
        for second in 0..<2 { try await fixture.run(version, createdAfter: Double(second)) }
        let ids = try await fixture.claim(agent, capacity: 2, at: 10)
        let store = fixture.store
        let cancelled = try await store.compareAndSetState(StateWrite(runID: ids[1], from: .pending, to: .cancelling, message: "user", at: fixture.at(11)))
        #expect(cancelled != nil)
        let answer = try await store.claim(agent: agent, capacity: 0, leaseExpiresAt: fixture.at(100), now: fixture.at(60))
        #expect(answer.cancel == [ids[1]])
        #expect(try await store.runsWithExpiredLease(now: fixture.at(99)).isEmpty, "renewed to 100")
        #expect(try await store.runsWithExpiredLease(now: fixture.at(101)).map(\.id) == [ids[0]])
        #expect(try await store.agent(id: agent.id)?.lastSeenAt == fixture.at(60))
        #expect(try await store.extendLeases(until: fixture.at(500)) == 1)
        #expect(try await store.extendLeases(until: fixture.at(400)) == 0, "never shortened")
        #expect(try await store.runsWithExpiredLease(now: fixture.at(450)).isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func agentsAreReplacedByIdAndStoppedOnlyByTheirOwnInstance(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let store = fixture.store
        _ = try await fixture.agent("old", seen: 0)
        let first = try await fixture.agent("x", queue: "q1", instance: "i-1", seen: 1)
        let second = try await fixture.agent("x", queue: "q2", labels: ["a": "b"], launcher: .ecs, instance: "i-2", seen: 2)
        #expect(second.id == first.id && second.queue == "q2" && second.launcher == .ecs && second.labels == ["a": "b"])
        #expect(second.instance == "i-2" && second.host == "h" && second.runsInFlight == 0)
        #expect(try await store.agents().map(\.name) == ["x", "old"], "last seen first")
        #expect(try await store.agentStopped(id: first.id, instance: "i-1") == false, "an older instance cannot stop the live one")
        #expect(try await store.agentStopped(id: first.id, instance: "i-2"))
        #expect(try await store.agent(id: first.id)?.instance == nil)
        #expect(try await store.agent(id: "agent-nobody") == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func theSweepsFindSilentLateDueAndUnretriedRuns(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let store = fixture.store
        let retried = try await fixture.version("retried", retries: 1)
        let ecs = try await fixture.version("ecs", launcher: .ecs)
        let silent = try await fixture.move(try await fixture.run(retried), through: [.pending, .running], at: 1)
        let beating = try await fixture.move(try await fixture.run(retried), through: [.pending, .running], at: 1)
        #expect(try await store.recordHeartbeat(runID: beating.id, at: fixture.at(50)) == .running)
        #expect(try await store.recordHeartbeat(runID: "no-such-run", at: fixture.at(50)) == nil)
        #expect(try await store.runsWithHeartbeat(olderThan: fixture.at(30), in: [.running]).map(\.id) == [silent.id])

        let late = try await fixture.run(ecs, createdAfter: 2)
        let flagged = try await store.flagLateRuns(dueBefore: fixture.at(70)) { run, launcher in "\(run.flowName) on \(launcher)" }
        #expect(flagged.map(\.id) == [late.id] && flagged.first?.late == true)
        #expect(try await store.run(id: late.id, includeHistory: false)?.stateMessage == "ecs on ecs")
        #expect(try await store.flagLateRuns(dueBefore: fixture.at(70)) { _, _ in "again" }.isEmpty, "flagged once")

        _ = try await fixture.run(ecs, due: fixture.at(100), schedule: "s")
        let other = try await fixture.version("other", queue: "q2")
        _ = try await fixture.run(other, due: fixture.at(200), schedule: "s2")
        #expect(try await store.queuesWithRunsDue(after: fixture.at(99), through: fixture.at(200)) == ["default", "q2"])
        #expect(try await store.queuesWithRunsDue(after: fixture.at(100), through: fixture.at(199)).isEmpty)
        #expect(try await store.deleteUpcomingScheduledRuns(scheduleID: "s", flowName: nil, after: fixture.at(100)) == 0)
        #expect(try await store.deleteUpcomingScheduledRuns(scheduleID: nil, flowName: "other", after: fixture.at(100)) == 1)
        #expect(try await store.deleteUpcomingScheduledRuns(scheduleID: "s", flowName: nil, after: fixture.at(99)) == 1)

        let failed = try await fixture.move(silent, through: [.failed], at: 60)
        #expect(try await store.runsMissingRetry(endedAfter: fixture.at(0)).map(\.id) == [failed.id])
        #expect(try await store.runsMissingRetry(endedAfter: fixture.at(60)).isEmpty, "ended at, not after")
        _ = try await fixture.run(retried, attempt: 2, retryOf: failed.id)
        #expect(try await store.runsMissingRetry(endedAfter: fixture.at(0)).isEmpty, "its retry exists")
    }

    @Test(arguments: StoreKind.allCases)
    func aRunCrashedOnSilenceIsRevivedAndItsUntakenRetryWithdrawn(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let store = fixture.store
        let version = try await fixture.version("a", retries: 2)
        let run = try await fixture.move(try await fixture.run(version), through: [.pending, .running])
        let plainCrash = try await fixture.move(try await fixture.run(version), through: [.pending, .running, .crashed])
        _ = try await store.compareAndSetState(StateWrite(
            runID: run.id, from: .running, to: .crashed, message: "silent", at: fixture.at(5), revivable: true))
        let retry = try await fixture.run(version, attempt: 2, retryOf: run.id)
        _ = try await store.appendLogs(runID: retry.id, [fixture.line("made")], infrastructure: [:], afterEnd: .keep)

        #expect(try await store.revive(runID: plainCrash.id, message: "back", at: fixture.at(6)) == nil, "not crashed on silence")
        let revived = try #require(try await store.revive(runID: run.id, message: "Running again", at: fixture.at(7)))
        #expect(revived.withdrawn == [retry.id])
        #expect(revived.run.state == .running && revived.run.endedAt == nil && revived.run.heartbeatAt == fixture.at(7))
        #expect(revived.run.history?.map(\.state) == [.scheduled, .pending, .running, .crashed, .running])
        #expect(try await store.run(id: retry.id, includeHistory: false) == nil)
        #expect(try await store.logs(runID: retry.id, after: 0, limit: 10).isEmpty)
        #expect(try await store.revive(runID: run.id, message: "twice", at: fixture.at(8)) == nil, "only once per crash")

        // A retry an agent took holds the work: the crash stands.
        _ = try await store.compareAndSetState(StateWrite(
            runID: run.id, from: .running, to: .crashed, message: "silent", at: fixture.at(9), revivable: true))
        let taken = try await fixture.move(try await fixture.run(version, attempt: 2, retryOf: run.id), through: [.pending])
        #expect(try await store.revive(runID: run.id, message: "back", at: fixture.at(10)) == nil)
        #expect(try await store.run(id: taken.id, includeHistory: false)?.state == .pending)
    }

    @Test(arguments: StoreKind.allCases)
    func schedulesHaveUniqueNamesAndAreFoundByIdOrName(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let store = fixture.store
        func schedule(_ id: String, _ name: String, flow: String = "a") -> Schedule {
            Schedule(
                id: id, name: name, flowName: flow, cron: "0 * * * *", timezone: "UTC", intervalSeconds: nil, anchor: nil,
                parameters: ["n": .int(1)], paused: false, createdAt: fixture.start, updatedAt: fixture.start, lastError: nil)
        }
        try await store.insertSchedule(schedule("s2", "zeta"))
        try await store.insertSchedule(schedule("s1", "alpha", flow: "b"))
        await #expect(throws: StoreError.self) { try await store.insertSchedule(schedule("s3", "zeta")) }
        #expect(try await store.schedules(flowName: nil).map(\.name) == ["alpha", "zeta"])
        #expect(try await store.schedules(flowName: "a").map(\.id) == ["s2"])
        #expect(try await store.schedule("alpha") == schedule("s1", "alpha", flow: "b"))
        #expect(try await store.schedule("s2")?.name == "zeta")
        let paused = try await store.setSchedulePaused(id: "s2", paused: true, at: fixture.at(5))
        #expect(paused?.paused == true && paused?.updatedAt == fixture.at(5))
        try await store.setScheduleError(id: "s2", error: "flow 'a' is not registered")
        #expect(try await store.schedule("zeta")?.lastError == "flow 'a' is not registered")
        try await store.deleteSchedule(id: "s2")
        #expect(try await store.schedule("zeta") == nil)
        #expect(try await store.setSchedulePaused(id: "s2", paused: false, at: fixture.at(6)) == nil)
    }
}
