import FathomAPI
import FathomClient
import FathomCore
import FathomServer
import Foundation
import Testing

/// Schedules make their runs ahead, once per slot, across restarts and servers sharing a database.
@Suite struct ScheduleTests {
    let nightly = FlowDescription(name: "nightly", parameters: [ParameterSpec(name: "depth", type: .int, defaultValue: .int(1))])

    @Test(arguments: StoreKind.allCases) func runsAreMadeAheadOncePerSlot(store: StoreKind) async throws {
        let directory = TemporaryDirectory("schedules")
        let clock = TestClock(date("2026-11-29T10:00:30Z"))
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock, store: store)
        try await server.register([nightly])
        let schedule = try await server.coordinator.createSchedule(CreateScheduleRequest(
            flow: "nightly", intervalSeconds: 600, anchor: date("2026-11-29T00:00:00Z"), parameters: ["depth": .int(3)]))
        #expect(schedule.nextRuns == [date("2026-11-29T10:10:00Z"), date("2026-11-29T10:20:00Z"), date("2026-11-29T10:30:00Z")])

        // The next hour's slots exist at once, each with the schedule's parameters, due at its slot.
        var runs = try await server.runs(ofSchedule: schedule.id)
        #expect(runs.map(\.scheduledFor) == (1...6).map { date("2026-11-29T10:00:00Z").addingTimeInterval(Double($0) * 600) })
        #expect(runs.allSatisfy { $0.state == .scheduled && $0.parameters["depth"] == .int(3) && $0.scheduleID == schedule.id })

        // Looking again changes nothing; as time passes, new slots are added at the far end only.
        for _ in 0..<3 { await server.coordinator.housekeeping() }
        #expect(try await server.runs(ofSchedule: schedule.id).count == 6)
        clock.advance(1800)
        await server.coordinator.housekeeping()
        runs = try await server.runs(ofSchedule: schedule.id)
        #expect(runs.count == 9)
        #expect(Set(runs.compactMap(\.scheduledFor)).count == runs.count, "one run per slot")
        #expect(runs.last?.scheduledFor == date("2026-11-29T11:30:00Z"))
    }

    @Test func aRestartMakesNoDuplicates() async throws {
        let directory = TemporaryDirectory("schedules-restart")
        let clock = TestClock(date("2026-11-29T10:00:00Z"))
        let database = directory.file("fathom.sqlite")
        let first = try await ClockedCoordinator(database: database, clock: clock)
        try await first.register([nightly])
        let schedule = try await first.coordinator.createSchedule(CreateScheduleRequest(flow: "nightly", cron: "*/5 * * * *"))
        let before = try await first.runs(ofSchedule: schedule.id)
        #expect(before.count == 12)
        // A new process on the same file knows nothing of what the first made; the database does.
        for _ in 0..<3 {
            let restarted = try await ClockedCoordinator(database: database, clock: clock)
            await restarted.coordinator.housekeeping()
        }
        let after = try await first.runs(ofSchedule: schedule.id)
        #expect(after.map(\.id) == before.map(\.id), "the same runs, none added")
    }

    @Test(arguments: [StoreKind.sqlite, .postgres])
    func fourServersOnOneDatabaseMakeEachSlotOnce(store: StoreKind) async throws {
        let directory = TemporaryDirectory("schedules-four")
        let clock = TestClock(date("2026-11-29T10:00:00Z"))
        let database = directory.file("fathom.sqlite")
        var servers: [ClockedCoordinator] = []
        for _ in 0..<4 { servers.append(try await ClockedCoordinator(database: database, clock: clock, store: store)) }
        let (a, b) = (servers[0], servers[1])
        try await a.register([nightly])
        let every = try await a.coordinator.createSchedule(CreateScheduleRequest(flow: "nightly", name: "every-minute", intervalSeconds: 60))
        let cron = try await b.coordinator.createSchedule(CreateScheduleRequest(flow: "nightly", name: "quarterly", cron: "*/15 * * * *"))
        // All four look at the same moments, concurrently, while time moves on.
        for _ in 0..<40 {
            await withTaskGroup(of: Void.self) { group in
                for server in servers { group.addTask { await server.coordinator.housekeeping() } }
            }
            clock.advance(97)
        }
        for schedule in [every, cron] {
            let runs = try await a.runs(ofSchedule: schedule.id)
            let slots = runs.compactMap(\.scheduledFor)
            #expect(Set(slots).count == slots.count, "\(schedule.name): \(slots.count - Set(slots).count) duplicate slots")
            #expect(!slots.isEmpty)
        }
        // Every minute from 10:01 to the last look (39 × 97 s later) plus the one-hour horizon, each once.
        #expect(try await a.runs(ofSchedule: every.id).count == (39 * 97 + 3600) / 60)
    }

    @Test(arguments: StoreKind.allCases) func pauseRemovesUpcomingRunsAndResumeMakesThemAgain(store: StoreKind) async throws {
        let directory = TemporaryDirectory("schedules-pause")
        let clock = TestClock(date("2026-11-29T10:00:00Z"))
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock, store: store)
        try await server.register([nightly])
        let schedule = try await server.coordinator.createSchedule(CreateScheduleRequest(flow: "nightly", cron: "0 * * * *"))
        #expect(try await server.runs(ofSchedule: schedule.id).count == 3, "at least three upcoming runs")

        let paused = try await server.coordinator.setSchedulePaused("nightly", paused: true)
        #expect(paused.paused && paused.nextRuns.isEmpty)
        #expect(try await server.runs(ofSchedule: schedule.id).isEmpty)
        clock.advance(3 * 3600)
        await server.coordinator.housekeeping()
        #expect(try await server.runs(ofSchedule: schedule.id).isEmpty, "a paused schedule makes nothing")

        let resumed = try await server.coordinator.setSchedulePaused(schedule.id, paused: false)
        #expect(!resumed.paused)
        let runs = try await server.runs(ofSchedule: schedule.id)
        #expect(runs.compactMap(\.scheduledFor) == [date("2026-11-29T14:00:00Z"), date("2026-11-29T15:00:00Z"), date("2026-11-29T16:00:00Z")],
                "resumed from now: the slots missed while paused are not made up")

        _ = try await server.coordinator.deleteSchedule("nightly")
        #expect(try await server.runs(ofSchedule: schedule.id).isEmpty)
        await #expect(throws: CoordinatorError.self) { try await server.coordinator.schedule("nightly") }
    }

    @Test(arguments: StoreKind.allCases) func cronSlotsFollowTheTimeZoneThroughDaylightSaving(store: StoreKind) async throws {
        let directory = TemporaryDirectory("schedules-dst")
        let clock = TestClock(date("2026-03-28T12:00:00Z"))
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock, store: store)
        try await server.register([nightly])
        let schedule = try await server.coordinator.createSchedule(CreateScheduleRequest(
            flow: "nightly", cron: "30 2 * * *", timezone: "Europe/Berlin"))
        #expect(try await server.runs(ofSchedule: schedule.id).compactMap(\.scheduledFor)
            == [date("2026-03-29T01:30:00Z"), date("2026-03-30T00:30:00Z"), date("2026-03-31T00:30:00Z")])
    }

    @Test(arguments: StoreKind.allCases) func lateRunsAreFlaggedAndNotClaimedEarly(store: StoreKind) async throws {
        let directory = TemporaryDirectory("schedules-late")
        let clock = TestClock(date("2026-11-29T10:00:00Z"))
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock, store: store)
        try await server.register([nightly])
        let schedule = try await server.coordinator.createSchedule(CreateScheduleRequest(flow: "nightly", cron: "5 10 * * *"))
        let agent = try await server.coordinator.registerAgent(AgentRegistration(name: "a"))
        #expect(try await server.coordinator.claim(agentID: agent.id, ClaimRequest(waitSeconds: 0, capacity: 5)).runs.isEmpty, "not due yet")

        clock.set(date("2026-11-29T10:05:30Z"))
        await server.coordinator.housekeeping()
        #expect(try await server.runs(ofSchedule: schedule.id).first?.late == false, "30 s after its slot is not late yet")
        clock.set(date("2026-11-29T10:06:10Z"))
        await server.coordinator.housekeeping()
        let late = try #require(try await server.runs(ofSchedule: schedule.id).first)
        #expect(late.late && late.state == .scheduled)
        #expect(late.stateMessage.contains("Late: due at 2026-11-29T10:05:00Z"), "\(late.stateMessage)")
        let logs = try await server.store.logs(runID: late.id, after: 0, limit: 10)
        #expect(logs.contains { $0.level == "warning" && $0.message.hasPrefix("Late:") })

        let claimed = try await server.coordinator.claim(agentID: agent.id, ClaimRequest(waitSeconds: 0, capacity: 5))
        #expect(claimed.runs.map(\.run.id) == [late.id], "a late run is still claimed, and only the due one")
    }

    @Test(arguments: StoreKind.allCases) func aRunNoLiveAgentCanServeSaysSoAndHowToStartOne(store: StoreKind) async throws {
        let directory = TemporaryDirectory("schedules-unserved")
        let clock = TestClock(date("2026-11-29T10:00:00Z"))
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock, store: store)
        _ = try await server.coordinator.register(RegisterFlowsRequest(
            bundleSHA256: String(repeating: "ab", count: 32), storageURL: "file:///nowhere/bundle", flows: [nightly],
            runConfig: RunConfig(launcher: .ecs, settings: ECSConfigTests.good), queue: "batch"))
        _ = try await server.coordinator.registerAgent(AgentRegistration(name: "dev", queue: "batch", launcher: .local))
        let run = try await server.coordinator.createRun(CreateFlowRunRequest(flow: "nightly"))
        clock.set(date("2026-11-29T10:00:30Z"))
        await server.coordinator.housekeeping()
        #expect(try await server.coordinator.run(run.id).stateMessage.isEmpty, "30 s unclaimed is not flagged yet")
        clock.set(date("2026-11-29T10:01:10Z"))
        _ = try await server.coordinator.registerAgent(AgentRegistration(name: "dev", queue: "batch", launcher: .local))
        await server.coordinator.housekeeping()
        let flagged = try await server.coordinator.run(run.id)
        #expect(flagged.state == .scheduled)
        #expect(flagged.stateMessage.contains("Unclaimed: created at 2026-11-29T10:00:00Z and not claimed after 60 s"), "\(flagged.stateMessage)")
        #expect(flagged.stateMessage.contains("no live agent serves the 'ecs' launcher on queue 'batch' (live agents: local on 'batch')"), "\(flagged.stateMessage)")
        #expect(flagged.stateMessage.contains("Start one: fathom agent --launcher ecs --queue batch"))
        let logs = try await server.store.logs(runID: run.id, after: 0, limit: 10)
        #expect(logs.contains { $0.level == "warning" && $0.message.hasPrefix("Unclaimed:") })
    }

    @Test(arguments: StoreKind.allCases) func badSchedulesAreRefusedByField(store: StoreKind) async throws {
        let directory = TemporaryDirectory("schedules-bad")
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: TestClock(Date()), store: store)
        try await server.register([nightly])
        func problems(_ request: CreateScheduleRequest) async -> [String] {
            do {
                _ = try await server.coordinator.createSchedule(request)
                return []
            } catch let error as CoordinatorError {
                return (error.body.error.problems ?? []).map { "\($0.field): \($0.problem)" }
            } catch {
                return ["\(error)"]
            }
        }
        #expect(await problems(CreateScheduleRequest(flow: "nightly", cron: "0 3 * *", parameters: ["deep": .int(1)]))
            == ["cron: '0 3 * *' has 4 fields, not 5", "parameters.deep: flow 'nightly' has no parameter 'deep'"])
        #expect(await problems(CreateScheduleRequest(flow: "nightly", cron: "0 3 * * *", timezone: "Berlin")) == ["timezone: 'Berlin' is not a time zone"])
        #expect(await problems(CreateScheduleRequest(flow: "nightly")).first?.hasPrefix("cron: the schedule has neither") == true)
        _ = try await server.coordinator.createSchedule(CreateScheduleRequest(flow: "nightly", intervalSeconds: 3600))
        #expect(await problems(CreateScheduleRequest(flow: "nightly", intervalSeconds: 60)) == ["name: a schedule named 'nightly' already exists"])
    }

    @Test(arguments: StoreKind.allCases) func aNewFlowVersionRemakesUpcomingRunsWithIt(store: StoreKind) async throws {
        let directory = TemporaryDirectory("schedules-version")
        let clock = TestClock(date("2026-11-29T10:00:00Z"))
        let server = try await ClockedCoordinator(database: directory.file("fathom.sqlite"), clock: clock, store: store)
        try await server.register([nightly])
        let schedule = try await server.coordinator.createSchedule(CreateScheduleRequest(flow: "nightly", cron: "0 * * * *"))
        #expect(try await server.runs(ofSchedule: schedule.id).allSatisfy { $0.flowVersion == 1 })
        var changed = nightly
        changed.summary = "now deeper"
        try await server.register([changed])
        let runs = try await server.runs(ofSchedule: schedule.id)
        #expect(runs.count == 3 && runs.allSatisfy { $0.flowVersion == 2 })
    }

    @Test func twoServerProcessesOnOneDataDirectoryMakeEachSlotOnce() async throws {
        let directory = TemporaryDirectory("schedules-processes")
        var servers: [BackgroundProcess] = []
        defer { for server in servers { server.kill9() } }
        var urls: [String] = []
        for _ in 0..<2 {
            let server = BackgroundProcess(TestPaths.fathom, ["server", "--port", "0", "--data-dir", directory.path])
            servers.append(server)
            let line = try await server.waitForLine { $0.contains("listening on http://") }
            urls.append(try #require(BackgroundProcess.url(in: line)))
        }
        let a = APIClient(baseURL: urls[0]), b = APIClient(baseURL: urls[1])
        _ = try await registerTestFlows(a)
        _ = try await a.createSchedule(CreateScheduleRequest(flow: "sleeper", name: "each-second", intervalSeconds: 1))
        _ = try await b.createSchedule(CreateScheduleRequest(flow: "sleeper", name: "each-two", intervalSeconds: 2))
        // Both servers' schedulers run every second on the same SQLite file while slots come and go.
        try await Task.sleep(for: .seconds(5))
        for name in ["each-second", "each-two"] {
            let schedule = try await b.schedule(name)
            var slots: [Date] = []
            var offset = 0
            while true {
                let page = try await a.send(.GET, "/api/v1/flow-runs?limit=1000&offset=\(offset)") as FlowRunList
                slots += page.runs.filter { $0.scheduleID == schedule.id }.compactMap(\.scheduledFor)
                offset += page.runs.count
                if page.runs.isEmpty || offset >= page.total { break }
            }
            #expect(slots.count >= 100, "\(name): the next 100 slots exist")
            #expect(Set(slots).count == slots.count, "\(name): \(slots.count - Set(slots).count) slots have two runs")
        }
    }
}
