import FathomAPI
import FathomClient
import FathomCore
import Foundation
import Testing

/// `fathom db migrate-from-sqlite`: an embedded coordinator's data, copied into PostgreSQL, reads the same through
/// a coordinator on PostgreSQL.
@Suite(.serialized, .enabled(if: PostgresServer.unavailableReason == nil, "\(PostgresServer.unavailableReason ?? "")"))
struct DatabaseMigrationTests {
    @Test func anEmbeddedCoordinatorsDataReadsTheSameFromPostgreSQL() async throws {
        // Some history on SQLite: a completed run, a failed one resumed (task runs, cache keys, results), a schedule, a limit.
        let stack = try await DevStack()
        #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
        // An alert rule whose target refuses connections (port 9 on loopback): its delivery stays in the log.
        #expect(try await stack.fathom([
            "alert", "add", "--name", "migrated", "--on", "Failed", "--running-longer-than", "2h", "--webhook", "http://127.0.0.1:9/hook",
            "--tag", "nightly",
        ]).exit == 0)
        let dir = stack.directory.path + "/work"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: dir + "/fail", contents: Data()))
        let failed = try await stack.startRun("resumable", ["dir=\(dir)"], tags: ["nightly", "team:data"])
        #expect(await stack.waitFor(failed, .failed, timeout: .seconds(30)))
        try FileManager.default.removeItem(atPath: dir + "/fail")
        #expect(try await stack.fathom(["retry", failed, "--resume", "--watch"]).exit == 0)
        #expect(try await stack.fathom(["schedule", "add", "sleeper", "--name", "nightly", "--cron", "0 3 * * *", "--param", "seconds=1"]).exit == 0)
        #expect(try await stack.fathom(["limit", "set", "flow", "sleeper", "2"]).exit == 0)
        let before = try await Snapshot(stack.client)
        await stack.process.stop()

        let database = try await PostgresServer.shared().createDatabase()
        let sqlite = stack.directory.path + "/.fathom/fathom.sqlite"
        let migrated = try await runCommand(TestPaths.fathom, ["db", "migrate-from-sqlite", sqlite, "--database", database])
        #expect(migrated.exit.succeeded, "\(migrated.output)")
        #expect(migrated.output.contains("flow_runs: \(before.runs.count) rows"), "\(migrated.output)")
        #expect(migrated.output.contains { $0.hasPrefix("logs: ") && !$0.hasSuffix(": 0 rows") })

        // A second copy into the same database is refused, and changes nothing.
        let again = try await runCommand(TestPaths.fathom, ["db", "migrate-from-sqlite", sqlite, "--database", database])
        #expect(!again.exit.succeeded && again.output.contains { $0.contains("already holds") && $0.contains("empty database") }, "\(again.output)")

        let server = BackgroundProcess(
            TestPaths.fathom, ["server", "--port", "0", "--data-dir", stack.directory.path + "/pg-server"],
            environment: ["FATHOM_DATABASE_URL": database])
        defer { Task { await server.stop() } }
        let url = try #require(BackgroundProcess.url(in: try await server.waitForLine { $0.contains("coordinator listening on http://") }))
        let after = try await Snapshot(APIClient(baseURL: url))
        #expect(after == before, "the same flows, runs (states, histories, task runs, logs), schedules, limits and alerts")
        #expect(before.alertRules.map(\.name) == ["migrated"] && before.alertDeliveries.count == 1)
        #expect(before.alertRules.first?.tags == ["nightly"] && before.runs.filter { $0.tags == ["nightly", "team:data"] }.count == 2,
                "tags of the rule, the run and its resumed attempt are carried over")

        // And it goes on from there: a new run gets the next place in the lists.
        let next = try await APIClient(baseURL: url).createRun(CreateFlowRunRequest(flow: "sleeper", parameters: ["seconds": 0]))
        #expect(try await APIClient(baseURL: url).listRuns(limit: 1).runs.first?.id == next.id)

        let missing = try await runCommand(TestPaths.fathom, ["db", "migrate-from-sqlite", "/nowhere/fathom.sqlite", "--database", database])
        #expect(!missing.exit.succeeded && missing.output.contains { $0.contains("there is no SQLite database at /nowhere/fathom.sqlite") })
        await server.stop()
    }

    /// What a coordinator answers about everything it holds.
    struct Snapshot: Equatable {
        var flows: [String]
        var runs: [FlowRun]
        var tasks: [[TaskRunUpdate]]
        var logs: [[LogLine]]
        var schedules: [Schedule]
        var limits: [ConcurrencyLimit]
        var alertRules: [AlertRule]
        /// Id and event of each delivery: its attempts may go on while the snapshot is taken.
        var alertDeliveries: [String]

        init(_ client: APIClient) async throws {
            flows = try await client.listFlows().map(\.name).sorted()
            runs = []
            for summary in try await client.listRuns(limit: 500).runs { runs.append(try await client.run(summary.id)) }
            tasks = []
            logs = []
            for run in runs {
                tasks.append(try await client.taskRuns(run.id))
                logs.append(try await client.logs(run.id, limit: 5000).lines)
            }
            schedules = try await client.listSchedules()
            limits = try await client.listConcurrencyLimits()
            alertRules = try await client.listAlertRules()
            alertDeliveries = try await client.alertDeliveries().map { "\($0.id) \($0.event)" }
        }
    }
}
