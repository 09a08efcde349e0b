import FathomAPI
import FathomCore
import FathomServer
import Foundation
import Testing

/// What every ``Store`` must do, run against SQLite and the in-memory store. A new store (PostgreSQL) joins
/// ``StoreKind`` and must pass all of it.
@Suite struct StoreConformanceTests {
    @Test(arguments: StoreKind.allCases)
    func versionsAreNumberedPerFlowAndReadNewestFirst(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let a1 = try await fixture.version("a")
        let b1 = try await fixture.version("b")
        let a2 = try await fixture.version("a", labels: ["gpu": "yes"])
        #expect([a1.version, b1.version, a2.version] == [1, 1, 2] as [Int])
        let store = fixture.store
        #expect(try await store.flowNames() == ["a", "b"])
        #expect(try await store.versions(flowName: "a") == [a2, a1])
        #expect(try await store.versions(flowName: "nobody").isEmpty)
        #expect(try await store.version(flowName: "a", number: nil) == a2)
        #expect(try await store.version(flowName: "a", number: 1) == a1)
        #expect(try await store.version(flowName: "a", number: 3) == nil)
        #expect(try await store.version(id: b1.id) == b1)
    }

    @Test(arguments: StoreKind.allCases)
    func aRunIsInsertedOnceByIdIdempotencyKeyScheduleSlotOrAttempt(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let version = try await fixture.version("a")
        let keyed = try await fixture.run(version, key: "nightly-1")
        #expect(keyed.state == .scheduled && keyed.history?.map(\.state) == [.scheduled] && keyed.attempt == 1)
        #expect(try await fixture.run(version, createdAfter: 5, key: "nightly-1").id == keyed.id)

        let slot = fixture.at(3600)
        let scheduled = try await fixture.run(version, due: slot, schedule: "s1")
        #expect(try await fixture.run(version, due: slot, schedule: "s1").id == scheduled.id)
        #expect(try await fixture.run(version, due: slot, schedule: "s2").id != scheduled.id, "another schedule's slot")

        let retry = try await fixture.store.insertRun(NewFlowRun(
            id: Identifier.make(), version: version, parameters: [:], createdAt: fixture.start, attempt: 2, retryOf: keyed.id,
            resumeOf: keyed.id))
        #expect(retry.resumeOf == keyed.id && retry.retryOf == keyed.id)
        #expect(try await fixture.store.run(id: retry.id, includeHistory: false)?.resumeOf == keyed.id)
        #expect(try await fixture.run(version, attempt: 2, retryOf: keyed.id).id == retry.id)
        #expect(try await fixture.store.runs(RunFilter(limit: 100)).total == 4)

        let inserted = try await fixture.store.insertScheduledRuns([
            NewFlowRun(id: Identifier.make(), version: version, parameters: [:], createdAt: fixture.start, scheduleID: "s1", scheduledFor: slot),
            NewFlowRun(id: Identifier.make(), version: version, parameters: [:], createdAt: fixture.start, scheduleID: "s1", scheduledFor: fixture.at(7200)),
        ])
        #expect(inserted.map(\.scheduledFor) == [fixture.at(7200)], "only the slot that had no run")
    }

    @Test(arguments: StoreKind.allCases)
    func aStateWriteHappensOnlyFromTheExpectedStateAndSetsWhatTheStateMeans(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let run = try await fixture.run(try await fixture.version("a"))
        let store = fixture.store
        #expect(try await store.compareAndSetState(StateWrite(runID: run.id, from: .running, to: .completed, message: "", at: fixture.at(1))) == nil)
        #expect(try await store.compareAndSetState(StateWrite(runID: "no-such-run", from: .scheduled, to: .pending, message: "", at: fixture.at(1))) == nil)

        let pending = try await fixture.move(run, through: [.pending], at: 1, agent: "agent-x")
        #expect(pending.agentID == "agent-x" && pending.state == .pending && pending.stateMessage == "to Pending")
        let running = try await fixture.move(pending, through: [.running], at: 2)
        #expect(running.startedAt == fixture.at(2) && running.heartbeatAt == fixture.at(2) && running.endedAt == nil)
        let completed = try await fixture.move(running, through: [.completed], at: 5)
        #expect(completed.endedAt == fixture.at(5) && completed.startedAt == fixture.at(2) && completed.updatedAt == fixture.at(5))
        #expect(completed.history?.map(\.state) == [.scheduled, .pending, .running, .completed])
        #expect(completed.history?.last?.at == fixture.at(5))
        #expect(try await store.run(id: run.id, includeHistory: false)?.history == nil)

        // Back to Scheduled (an expired lease) frees the run from its agent.
        let other = try await fixture.move(try await fixture.run(try await fixture.version("b")), through: [.pending], agent: "agent-x")
        let requeued = try await store.compareAndSetState(StateWrite(runID: other.id, from: .pending, to: .scheduled, message: "lease", at: fixture.at(40)))
        #expect(requeued?.agentID == nil && requeued?.state == .scheduled)
        #expect(try await store.runsWithExpiredLease(now: fixture.at(1000)).isEmpty)
        #expect(try await store.stateCounts() == [.completed: 1, .scheduled: 1])
    }

    @Test(arguments: StoreKind.allCases)
    func runListsAreNewestFirstFilteredAndPagedWithTheirTotal(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let a = try await fixture.version("a"), b = try await fixture.version("b")
        var made: [FlowRun] = []
        for second in 0..<5 { made.append(try await fixture.run(second.isMultiple(of: 2) ? a : b, createdAfter: Double(second))) }
        let sameSecond = try await fixture.run(a, createdAfter: 4)
        let upcoming = try await fixture.run(a, createdAfter: 4, due: fixture.at(9999), schedule: "s")
        try await fixture.move(made[1], through: [.pending, .running], agent: "agent-x")
        let store = fixture.store

        let all = try await store.runs(RunFilter(limit: 3, offset: 1))
        #expect(all.total == 7)
        #expect(all.runs.map(\.id) == [sameSecond.id, made[4].id, made[3].id], "created desc, then last inserted first")
        #expect(try await store.runs(RunFilter(flowName: "b", limit: 10)).runs.map(\.id) == [made[3].id, made[1].id])
        #expect(try await store.runs(RunFilter(activeOnly: true, limit: 10)).runs.map(\.id) == [made[1].id])
        #expect(try await store.runs(RunFilter(agentID: "agent-x", limit: 10)).runs.map(\.id) == [made[1].id])
        #expect(try await store.runs(RunFilter(state: .running, limit: 10)).total == 1)
        #expect(try await store.runs(RunFilter(scheduleID: "s", limit: 10)).runs.map(\.id) == [upcoming.id])
        #expect(try await store.runs(RunFilter(dueBy: fixture.at(100), limit: 10)).total == 6, "the upcoming slot is left out")
        let window = try await store.runs(RunFilter(createdAfter: fixture.at(1), createdBefore: fixture.at(3), limit: 10))
        #expect(window.runs.map(\.id) == [made[2].id, made[1].id])
        let retry = try await fixture.run(a, createdAfter: 6, attempt: 2, retryOf: made[0].id)
        #expect(Set(try await store.runs(RunFilter(attemptsOf: made[0].id, limit: 10)).runs.map(\.id)) == [made[0].id, retry.id])
    }

    @Test(arguments: StoreKind.allCases)
    func logLinesAreNumberedPerRunAndAnEndedRunKeepsMarksOrRefusesThem(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let version = try await fixture.version("a")
        let run = try await fixture.run(version)
        let store = fixture.store
        let first = try await store.appendLogs(
            runID: run.id, [fixture.line("one"), fixture.line("two")], infrastructure: ["pid": "7"], afterEnd: .refuse)
        #expect(first.accepted == 2 && first.lastSeq == 2)
        #expect(try await store.run(id: run.id, includeHistory: false)?.infrastructure == ["pid": "7"])
        try await fixture.move(run, through: [.pending, .running, .completed])

        await #expect(throws: StoreError.self) {
            try await store.appendLogs(runID: run.id, [fixture.line("too late")], infrastructure: ["pid": "8"], afterEnd: .refuse)
        }
        #expect(try await store.run(id: run.id, includeHistory: false)?.infrastructure == ["pid": "7"], "a refusal writes nothing")
        let late = try await store.appendLogs(
            runID: run.id, [fixture.line("stderr", at: 9, source: .stderr), fixture.line("printed before the end", at: 0.5, source: .stdout)],
            infrastructure: [:], afterEnd: .markLate)
        #expect(late.lastSeq == 4, "the refused line took no number")
        _ = try await store.appendLogs(runID: run.id, [fixture.line("crash reason", source: .coordinator)], infrastructure: [:], afterEnd: .keep)

        let lines = try await store.logs(runID: run.id, after: 0, limit: 100)
        #expect(lines.map(\.message) == ["one", "two", "stderr", "printed before the end", "crash reason"])
        #expect(lines.map(\.seq) == [1, 2, 3, 4, 5])
        #expect(lines.map(\.late) == [nil, nil, true, nil, nil], "late: delivered after the end (at 1) and stamped after it")
        #expect(lines[0].timestamp == fixture.at(2) && lines[2].source == .stderr)
        #expect(try await store.logs(runID: run.id, after: 1, limit: 2).map(\.seq) == [2, 3])
        #expect(try await store.logTail(runID: run.id, limit: 2).map(\.seq) == [4, 5])

        let other = try await fixture.run(version)
        #expect(try await store.appendLogs(runID: other.id, [fixture.line("own")], infrastructure: [:], afterEnd: .refuse).lastSeq == 1)
        await #expect(throws: StoreError.self) {
            try await store.appendLogs(runID: "no-such-run", [fixture.line("x")], infrastructure: [:], afterEnd: .keep)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aBatchSentAgainUnderItsIdIsStoredOnceAndAnsweredAsTheFirstTime(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let (run, other) = try await fixture.twoRuns(of: "a")
        let store = fixture.store
        let batch = [fixture.line("one"), fixture.line("two")]
        let first = try await store.appendLogs(runID: run.id, batch, infrastructure: ["read": "1"], afterEnd: .refuse, batchID: "b-1")
        #expect(first == LogAccepted(accepted: 2, lastSeq: 2))
        _ = try await store.appendLogs(runID: run.id, [fixture.line("three")], infrastructure: [:], afterEnd: .refuse, batchID: "b-2")
        let again = try await store.appendLogs(runID: run.id, batch, infrastructure: ["read": "9"], afterEnd: .refuse, batchID: "b-1")
        #expect(again == LogAccepted(accepted: 2, lastSeq: 2, repeated: true), "the first acceptance's numbers")
        #expect(try await store.run(id: run.id, includeHistory: false)?.infrastructure["read"] == "1", "a repeat merges no facts")

        try await fixture.move(run, through: [.pending, .running, .completed])
        let afterEnd = try await store.appendLogs(runID: run.id, [fixture.line("three")], infrastructure: [:], afterEnd: .refuse, batchID: "b-2")
        #expect(afterEnd == LogAccepted(accepted: 1, lastSeq: 3, repeated: true), "accepted before the end: no run_final for a repeat")
        await #expect(throws: StoreError.self, "a new batch to the ended run is still refused") {
            try await store.appendLogs(runID: run.id, [fixture.line("four")], infrastructure: [:], afterEnd: .refuse, batchID: "b-3")
        }
        let unnumbered = try await store.appendLogs(runID: run.id, [fixture.line("exit", source: .coordinator)], infrastructure: [:], afterEnd: .keep)
        #expect(unnumbered.lastSeq == 4, "the refused batch took no number and left no id behind")
        let refusedIDNowAccepted = try await store.appendLogs(
            runID: run.id, [fixture.line("four", source: .stderr)], infrastructure: [:], afterEnd: .markLate, batchID: "b-3")
        #expect(refusedIDNowAccepted.repeated == nil && refusedIDNowAccepted.lastSeq == 5)
        #expect(try await store.logs(runID: run.id, after: 0, limit: 100).map(\.message) == ["one", "two", "three", "exit", "four"])

        let elsewhere = try await store.appendLogs(runID: other.id, batch, infrastructure: [:], afterEnd: .refuse, batchID: "b-1")
        #expect(elsewhere == LogAccepted(accepted: 2, lastSeq: 2), "ids are per run")
        // Two attempts at once (a retry while the first is still in flight, perhaps on another coordinator).
        async let one = store.appendLogs(runID: other.id, [fixture.line("raced")], infrastructure: [:], afterEnd: .refuse, batchID: "b-race")
        async let two = store.appendLogs(runID: other.id, [fixture.line("raced")], infrastructure: [:], afterEnd: .refuse, batchID: "b-race")
        let answers = try await [one, two]
        #expect(answers.filter { $0.repeated == true }.count == 1 && Set(answers.map(\.lastSeq)) == [3], "\(answers)")
        #expect(try await store.logs(runID: other.id, after: 0, limit: 10).map(\.message) == ["one", "two", "raced"])
        await #expect(throws: StoreError.self) {
            try await store.appendLogs(runID: "no-such-run", batch, infrastructure: [:], afterEnd: .keep, batchID: "b-9")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func taskRunsKeepTheirFirstStartAndNeverMoveToAnotherRun(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let (run, other) = try await fixture.twoRuns(of: "a")
        let store = fixture.store
        try await store.upsertTaskRuns(runID: run.id, [
            TaskRunUpdate(id: "t1", name: "sort", state: .running, attempt: 1, startedAt: fixture.at(1), endedAt: nil, cacheKey: "k1"),
            TaskRunUpdate(id: "t2", name: "compress", state: .pending, attempt: 1, startedAt: nil, endedAt: nil),
        ])
        try await store.upsertTaskRuns(runID: run.id, [
            TaskRunUpdate(id: "t1", name: "renamed", state: .completed, attempt: 2, startedAt: nil, endedAt: fixture.at(4), result: .int(3)),
        ])
        try await store.upsertTaskRuns(runID: other.id, [
            TaskRunUpdate(id: "t2", name: "stolen", state: .failed, attempt: 9, startedAt: nil, endedAt: nil),
        ])
        let taskRuns = try await store.taskRuns(runID: run.id)
        #expect(taskRuns.map(\.id) == ["t1", "t2"])
        #expect(taskRuns[0] == TaskRunUpdate(
            id: "t1", name: "sort", state: .completed, attempt: 2, startedAt: fixture.at(1), endedAt: fixture.at(4), result: .int(3),
            cacheKey: "k1"), "the key stays when a later update leaves it out")
        try await store.upsertTaskRuns(runID: other.id, [
            TaskRunUpdate(
                id: "t3", name: "sort", state: .cached, attempt: 1, startedAt: nil, endedAt: nil, result: .int(3), cacheKey: "k1",
                cachedFrom: run.id, outputs: [TaskOutputFile(path: "/v/sorted.txt", size: 42, modifiedNanoseconds: 1_800_000_000_123_456_789)]),
        ])
        let cached = try await store.taskRuns(runID: other.id).first
        #expect(cached?.cachedFrom == run.id)
        #expect(cached?.outputs == [TaskOutputFile(path: "/v/sorted.txt", size: 42, modifiedNanoseconds: 1_800_000_000_123_456_789)])
        #expect(taskRuns[1].state == .pending, "another run cannot write it")
        #expect(try await store.taskRuns(runID: other.id).map(\.id) == ["t3"], "t2 stayed with its run")
        await #expect(throws: StoreError.self) { try await store.upsertTaskRuns(runID: "no-such-run", []) }
    }
}

/// The one-query read behind the flow page's sums and charts and the runs page's strip, on every store.
@Suite struct RunDigestConformanceTests {
    @Test(arguments: StoreKind.allCases)
    func digestsAreTheWindowsRunsNewestFirstWithTheirFacts(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let a = try await fixture.version("a"), b = try await fixture.version("b")
        let old = try await fixture.run(a, createdAfter: 0)
        let first = try await fixture.run(a, createdAfter: 100)
        let other = try await fixture.run(b, createdAfter: 150)
        let second = try await fixture.run(a, createdAfter: 200)
        let ended = try await fixture.move(first, through: [.pending, .running], at: 110)
        _ = try await fixture.move(ended, through: [.completed], at: 170)
        _ = try await fixture.store.mergeInfrastructure(
            runID: first.id, facts: ["costUSD": "0.325350", "workspaceBytes": "scratch=4096,data=8192", "pid": "12"], at: fixture.at(171))
        _ = try await fixture.store.mergeInfrastructure(runID: second.id, facts: ["costUSD": "not a number"], at: fixture.at(201))

        let window = try await fixture.store.runDigests(flowName: "a", since: fixture.at(50), limit: 10)
        #expect(window.map(\.id) == [second.id, first.id], "flow a's runs since then, newest first")
        let digest = try #require(window.last)
        #expect(digest.state == .completed && digest.durationSeconds == 60 && digest.createdAt == fixture.at(100))
        #expect(digest.costUSD == 0.32535 && digest.workspaceBytes == ["scratch": 4096, "data": 8192])
        #expect(window.first?.costUSD == nil && window.first?.costText == "not a number", "read, never trusted")
        let stored = try #require(try await fixture.store.run(id: first.id, includeHistory: false))
        #expect(RunDigest(stored) == digest, "the SQL read and the full run agree")
        #expect(try await fixture.store.runDigests(flowName: nil, since: fixture.at(50), limit: 2).map(\.id) == [second.id, other.id])
        #expect(try await fixture.store.runDigests(flowName: nil, since: fixture.at(0), limit: 10).last?.id == old.id)
    }
}
