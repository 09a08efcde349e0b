import FathomAPI
import FathomCore
import FathomServer
import Foundation
import Logging
import Testing

/// The PostgreSQL store's first part (flows, runs, migrations) against a real PostgreSQL the tests start themselves.
/// Each test does the same steps on it and on SQLite and expects the same answers: the SQLite store is the reference
/// until the PostgreSQL store implements every role and joins ``StoreKind``.
@Suite(.serialized, .enabled(if: PostgresServer.unavailableReason == nil, "\(PostgresServer.unavailableReason ?? "")"))
struct PostgresStoreTests {
    static let logger = Logger(label: "test.postgres")
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func connect() async throws -> PostgresStore {
        let url = try await PostgresServer.shared().createDatabase()
        return try await PostgresStore.connect(try PostgresSettings(url: url), maximumConnections: 8, logger: Self.logger)
    }

    func version(_ flow: String, labels: [String: String] = [:], retries: Int? = nil) -> FlowVersion {
        FlowVersion(
            id: Identifier.make(), flowName: flow, version: 0, bundleSHA256: String(repeating: "ab", count: 32),
            storageURL: "file:///nowhere/bundle", summary: "", parameters: [], runConfig: .local, labels: labels, queue: "default",
            createdAt: start, retryPolicy: retries.map { RunRetryPolicy(retries: $0) })
    }

    @Test func serversStartingTogetherMigrateOnce() async throws {
        let url = try await PostgresServer.shared().createDatabase()
        let settings = try PostgresSettings(url: url)
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresStore.connect(settings, maximumConnections: 2, logger: Self.logger) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(stores.count == 4, "every server started: none saw a half-made schema")
        try await stores[0].checkWritable()
        for store in stores { await store.shutdown() }
    }

    @Test func flowsAndRunsAnswerAsSQLiteDoes() async throws {
        let postgres = try await connect()
        defer { Task { await postgres.shutdown() } }
        let directory = TemporaryDirectory("pg-parity")
        let sqlite = try SQLiteStore(path: directory.file("fathom.sqlite"))
        let a1 = version("a"), b1 = version("b"), a2 = version("a", labels: ["gpu": "yes"], retries: 2)
        for store in [postgres, sqlite] as [any RunStore & FlowVersionStore] {
            let numbered = try await store.insertVersions([a1, b1]) + (try await store.insertVersions([a2]))
            #expect(numbered.map(\.version) == [1, 1, 2])
            #expect(try await store.flowNames() == ["a", "b"])
            #expect(try await store.versions(flowName: "a").map(\.id) == [a2.id, a1.id])
            #expect(try await store.version(flowName: "a", number: nil)?.retryPolicy?.retries == 2)
            #expect(try await store.version(id: b1.id)?.flowName == "b")
        }

        // The same runs, keys, slots and attempts, the same moves: the same answers, field for field.
        let stored = try await postgres.version(flowName: "a", number: 1)!
        let ids = (0..<4).map { _ in Identifier.make() }
        let slot = start.addingTimeInterval(3600)
        func script(_ store: any RunStore) async throws -> [FlowRun?] {
            var seen: [FlowRun?] = []
            seen.append(try await store.insertRun(NewFlowRun(id: ids[0], version: stored, parameters: ["n": 1], idempotencyKey: "k", createdAt: start)))
            seen.append(try await store.insertRun(NewFlowRun(id: Identifier.make(), version: stored, parameters: [:], idempotencyKey: "k", createdAt: start)))
            seen.append(try await store.insertRun(NewFlowRun(id: ids[1], version: stored, parameters: [:], createdAt: start, scheduleID: "s", scheduledFor: slot)))
            seen.append(try await store.insertRun(NewFlowRun(id: Identifier.make(), version: stored, parameters: [:], createdAt: start, scheduleID: "s", scheduledFor: slot)))
            seen.append(try await store.insertRun(NewFlowRun(
                id: ids[2], version: stored, parameters: [:], createdAt: start.addingTimeInterval(1), attempt: 2, retryOf: ids[0], resumeOf: ids[0],
                overrides: RunOverrides(memoryMiB: 1024), message: "retry: out of memory")))
            let at = { (seconds: Double) in self.start.addingTimeInterval(seconds) }
            seen.append(try await store.compareAndSetState(StateWrite(runID: ids[0], from: .running, to: .completed, message: "no", at: at(1))))
            seen.append(try await store.compareAndSetState(StateWrite(runID: ids[0], from: .scheduled, to: .pending, message: "claimed", at: at(2), agentID: "agent", leaseExpiresAt: at(60))))
            seen.append(try await store.compareAndSetState(StateWrite(runID: ids[0], from: .pending, to: .running, message: "", at: at(3))))
            seen.append(try await store.mergeInfrastructure(runID: ids[0], facts: ["pid": "42"], at: at(4)))
            _ = try await store.recordHeartbeat(runID: ids[0], at: at(5))
            seen.append(try await store.compareAndSetState(StateWrite(
                runID: ids[0], from: .running, to: .crashed, message: "silent", at: at(6), revivable: true, cause: .outOfMemory)))
            seen.append(try await store.revive(runID: ids[0], message: "back", at: at(7))?.run)
            seen.append(try await store.run(id: ids[2], includeHistory: true))
            seen.append(try await store.run(id: ids[0], includeHistory: true))
            seen += try await store.runs(RunFilter(flowName: "a", limit: 10)).runs.map { $0 }
            seen += try await store.runs(RunFilter(attemptsOf: ids[0], limit: 10)).runs.map { $0 }
            seen += try await store.runs(RunFilter(activeOnly: true, limit: 1, offset: 0)).runs.map { $0 }
            return seen
        }
        let onPostgres = try await script(postgres)
        let onSQLite = try await script(sqlite)
        #expect(onPostgres.count == onSQLite.count)
        for (index, (p, s)) in zip(onPostgres, onSQLite).enumerated() {
            #expect(p == s, "step \(index): PostgreSQL \(String(describing: p)) / SQLite \(String(describing: s))")
        }
        #expect(onPostgres[10]?.state == .running && onPostgres[10]?.endCause == nil, "revived")
        #expect(onPostgres[11] == nil, "the retry was withdrawn by the revival")
        #expect(try await postgres.runs(RunFilter(limit: 10)).total == (try await sqlite.runs(RunFilter(limit: 10)).total))
        #expect(try await postgres.stateCounts() == (try await sqlite.stateCounts()))
    }

    @Test func aDatabaseURLIsCheckedPartByPart() throws {
        let good = try PostgresSettings(url: "postgres://fathom:secret@db.internal:6543/coordinator?sslmode=verify-full")
        #expect(good.host == "db.internal" && good.port == 6543 && good.database == "coordinator" && good.sslMode == "verify-full")
        #expect(!good.description.contains("secret"), "the password never shows: \(good)")
        #expect(try PostgresSettings(url: "postgresql://u@h/d").sslMode == "prefer", "libpq's default")
        for (url, words) in [
            ("mysql://u@h/d", "is not a postgres:// URL"), ("postgres://h/d", "names no user"), ("postgres://u@h", "names no database"),
            ("postgres://u@h:0/d", "port 0, outside 1–65535"), ("postgres://u@h/d?sslmode=sometimes", "sslmode 'sometimes'"),
            ("postgres://u@h/d?connect_timeout=3", "the parameter 'connect_timeout'"),
        ] {
            #expect {
                try PostgresSettings(url: url)
            } throws: { error in
                let text = "\(error)"
                return text.contains(words) && text.contains("--database") && text.contains("sslmode=require")
            }
        }
    }
}
