import FathomAPI
import FathomCore
import Foundation
import GRDB

/// The embedded store: one SQLite file in WAL mode, through GRDB.
///
/// Writes are serialized by SQLite, which is what makes claims exactly-once: the select and the
/// update of a claim happen in one write transaction.
public final class SQLiteStore: Store {
    let pool: DatabasePool

    /// Opens (creating and migrating if needed) the database at `path`.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL + NORMAL: a committed transaction survives a process crash; only power loss can undo the last ones.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try SQLiteSchema.migrator.migrate(pool)
    }

    // MARK: Flows

    public func insertVersions(_ versions: [FlowVersion]) async throws -> [FlowVersion] {
        try await pool.write { db in
            var stored: [FlowVersion] = []
            for var version in versions {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO flows (name, created_at) VALUES (?, ?)",
                    arguments: [version.flowName, version.createdAt.timeIntervalSince1970])
                let last = try Int.fetchOne(
                    db, sql: "SELECT MAX(version) FROM flow_versions WHERE flow_name = ?", arguments: [version.flowName]) ?? 0
                version.version = last + 1
                try db.execute(
                    sql: """
                        INSERT INTO flow_versions (id, flow_name, version, bundle_sha256, storage_url, summary, parameters,
                            run_config, labels, queue, created_at, retry_policy)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        version.id, version.flowName, version.version, version.bundleSHA256, version.storageURL,
                        version.summary, try StoreJSON.text(version.parameters), try StoreJSON.text(version.runConfig),
                        try StoreJSON.text(version.labels), version.queue, version.createdAt.timeIntervalSince1970,
                        try version.retryPolicy.map { try StoreJSON.text($0) },
                    ])
                stored.append(version)
            }
            return stored
        }
    }

    public func flowNames() async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM flows ORDER BY name") }
    }

    public func versions(flowName: String) async throws -> [FlowVersion] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM flow_versions WHERE flow_name = ? ORDER BY version DESC", arguments: [flowName]
            ).map(StoreRows.version)
        }
    }

    public func version(flowName: String, number: Int?) async throws -> FlowVersion? {
        try await pool.read { db in
            let row: Row?
            if let number {
                row = try Row.fetchOne(
                    db, sql: "SELECT * FROM flow_versions WHERE flow_name = ? AND version = ?", arguments: [flowName, number])
            } else {
                row = try Row.fetchOne(
                    db, sql: "SELECT * FROM flow_versions WHERE flow_name = ? ORDER BY version DESC LIMIT 1", arguments: [flowName])
            }
            return try row.map(StoreRows.version)
        }
    }

    public func version(id: String) async throws -> FlowVersion? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM flow_versions WHERE id = ?", arguments: [id]).map(StoreRows.version)
        }
    }

    // MARK: Runs

    public func insertRun(_ new: NewFlowRun) async throws -> FlowRun {
        try await pool.write { db in
            if let existing = try Self.insertRunRow(db, new) { return existing }
            return try Self.fetchRun(db, id: new.id, includeHistory: true)!
        }
    }

    /// Inserts `new` unless a run already holds its idempotency key, schedule slot or attempt; returns that run then.
    static func insertRunRow(_ db: Database, _ new: NewFlowRun) throws -> FlowRun? {
        let at = new.createdAt.timeIntervalSince1970
        try db.execute(
            sql: """
                INSERT INTO flow_runs (id, flow_name, version_id, flow_version, parameters, state, state_message, queue,
                    idempotency_key, created_at, updated_at, schedule_id, scheduled_for, attempt, retry_of, resume_of, overrides, tags)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT DO NOTHING
                """,
            arguments: [
                new.id, new.version.flowName, new.version.id, new.version.version, try StoreJSON.text(new.parameters),
                FlowRunState.scheduled.rawValue, new.message, new.version.queue, new.idempotencyKey, at, at, new.scheduleID,
                new.scheduledFor?.timeIntervalSince1970, new.attempt, new.retryOf, new.resumeOf,
                try new.overrides.map { try StoreJSON.text($0) }, try StoreJSON.text(new.tags),
            ])
        guard db.changesCount == 0 else {
            try appendHistory(db, runID: new.id, state: .scheduled, message: new.message, at: at)
            return nil
        }
        let existing = try Row.fetchOne(
            db,
            sql: """
                SELECT * FROM flow_runs WHERE idempotency_key = ? OR (schedule_id = ? AND scheduled_for = ?)
                    OR (retry_of = ? AND attempt = ?) OR id = ?
                """,
            arguments: [
                new.idempotencyKey, new.scheduleID, new.scheduledFor?.timeIntervalSince1970, new.retryOf, new.attempt, new.id,
            ])
        guard let existing else { throw StoreError.conflict("flow run \(new.id) conflicts with a run that cannot be found") }
        return try StoreRows.run(existing, history: try history(db, runID: existing["id"]))
    }

    public func run(id: FlowRunID, includeHistory: Bool) async throws -> FlowRun? {
        try await pool.read { db in try Self.fetchRun(db, id: id, includeHistory: includeHistory) }
    }

    static func fetchRun(_ db: Database, id: FlowRunID, includeHistory: Bool) throws -> FlowRun? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM flow_runs WHERE id = ?", arguments: [id]) else { return nil }
        return try StoreRows.run(row, history: includeHistory ? try history(db, runID: id) : nil)
    }

    static func history(_ db: Database, runID: FlowRunID) throws -> [StateChange] {
        try Row.fetchAll(
            db, sql: "SELECT state, message, at FROM state_history WHERE run_id = ? ORDER BY seq", arguments: [runID]
        ).map { row in
            StateChange(
                state: FlowRunState(rawValue: row["state"]) ?? .crashed, message: row["message"],
                at: Date(timeIntervalSince1970: row["at"]))
        }
    }

    static func appendHistory(_ db: Database, runID: FlowRunID, state: FlowRunState, message: String, at: Double) throws {
        try db.execute(
            sql: """
                INSERT INTO state_history (run_id, seq, state, message, at)
                VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM state_history WHERE run_id = ?), ?, ?, ?)
                """,
            arguments: [runID, runID, state.rawValue, message, at])
    }

    public func runs(_ filter: RunFilter) async throws -> FlowRunList {
        try await pool.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let flow = filter.flowName {
                conditions.append("flow_name = ?")
                arguments += [flow]
            }
            if let state = filter.state {
                conditions.append("state = ?")
                arguments += [state.rawValue]
            }
            if let agent = filter.agentID {
                conditions.append("agent_id = ?")
                arguments += [agent]
            }
            if filter.activeOnly {
                conditions.append("state IN \(FlowRunState.activeSQLList)")
            }
            if let schedule = filter.scheduleID {
                conditions.append("schedule_id = ?")
                arguments += [schedule]
            }
            if let first = filter.attemptsOf {
                conditions.append("(id = ? OR retry_of = ?)")
                arguments += [first, first]
            }
            if let after = filter.createdAfter {
                conditions.append("created_at >= ?")
                arguments += [after.timeIntervalSince1970]
            }
            if let dueBy = filter.dueBy {
                conditions.append("(state != 'Scheduled' OR scheduled_for IS NULL OR scheduled_for <= ?)")
                arguments += [dueBy.timeIntervalSince1970]
            }
            if let before = filter.createdBefore {
                conditions.append("created_at < ?")
                arguments += [before.timeIntervalSince1970]
            }
            let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM flow_runs \(whereClause)", arguments: arguments) ?? 0
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM flow_runs \(whereClause) ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
                arguments: arguments + [filter.limit, filter.offset])
            return FlowRunList(runs: try rows.map { try StoreRows.run($0, history: nil) }, total: total)
        }
    }

    public func runDigests(flowName: String?, since: Date, limit: Int) async throws -> [RunDigest] {
        try await pool.read { db in
            let flowCondition = flowName == nil ? "" : "AND flow_name = ?"
            var arguments: StatementArguments = [since.timeIntervalSince1970]
            if let flowName { arguments += [flowName] }
            arguments += [limit]
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, state, created_at, started_at, ended_at, json_extract(infrastructure, '$.costUSD') AS cost,
                        json_extract(infrastructure, '$.workspaceBytes') AS bytes
                    FROM flow_runs WHERE created_at >= ? \(flowCondition) ORDER BY created_at DESC, rowid DESC LIMIT ?
                    """,
                arguments: arguments)
            return try rows.map { try StoreRows.digest($0) }
        }
    }

    public func compareAndSetState(_ write: StateWrite) async throws -> FlowRun? {
        try await pool.write { db in try Self.applyStateWrite(db, write) }
    }

    static func applyStateWrite(_ db: Database, _ write: StateWrite) throws -> FlowRun? {
        let at = write.at.timeIntervalSince1970
        var assignments = ["state = ?", "state_message = ?", "updated_at = ?", "revivable = ?"]
        var arguments: StatementArguments = [write.to.rawValue, write.message, at, write.revivable]
        if write.to == .running {
            assignments.append("started_at = COALESCE(started_at, ?)")
            assignments.append("heartbeat_at = ?")
            arguments += [at, at]
        }
        if write.to.isFinal {
            assignments.append("ended_at = ?")
            assignments.append("end_cause = ?")
            arguments += [at, write.cause?.rawValue]
        }
        if write.to == .pending {
            assignments.append("agent_id = ?")
            assignments.append("lease_expires_at = ?")
            arguments += [write.agentID, write.leaseExpiresAt?.timeIntervalSince1970]
        }
        if write.to == .scheduled {
            assignments.append("agent_id = NULL")
            assignments.append("lease_expires_at = NULL")
        }
        arguments += [write.runID, write.from.rawValue]
        try db.execute(
            sql: "UPDATE flow_runs SET \(assignments.joined(separator: ", ")) WHERE id = ? AND state = ?", arguments: arguments)
        guard db.changesCount == 1 else { return nil }
        try appendHistory(db, runID: write.runID, state: write.to, message: write.message, at: at)
        if let event = AlertEvent.of(write) { try insertAlertEvent(db, event) }
        return try fetchRun(db, id: write.runID, includeHistory: true)
    }

    public func revive(runID: FlowRunID, message: String, at: Date) async throws -> (run: FlowRun, withdrawn: [FlowRunID])? {
        try await pool.write { db in
            guard let run = try Row.fetchOne(
                db, sql: "SELECT attempt, COALESCE(retry_of, id) AS first FROM flow_runs WHERE id = ? AND state = ? AND revivable = 1",
                arguments: [runID, FlowRunState.crashed.rawValue])
            else { return nil }
            let attempt: Int = run["attempt"]
            let later = try Row.fetchAll(
                db, sql: "SELECT id, state FROM flow_runs WHERE retry_of = ? AND attempt > ?", arguments: [run["first"] as String, attempt])
            // A later attempt that an agent took holds the work now: this one stays crashed.
            guard later.allSatisfy({ ($0["state"] as String) == FlowRunState.scheduled.rawValue }) else { return nil }
            // The retry made for the crash never ran: it is withdrawn, so that the next attempt, if one is
            // needed, keeps its number.
            let withdrawn: [FlowRunID] = later.map { $0["id"] }
            for id in withdrawn {
                for table in StoreSQL.perRunTables {
                    try db.execute(sql: "DELETE FROM \(table) WHERE run_id = ?", arguments: [id])
                }
                try db.execute(sql: "DELETE FROM flow_runs WHERE id = ?", arguments: [id])
            }
            let seconds = at.timeIntervalSince1970
            try db.execute(
                sql: """
                    UPDATE flow_runs SET state = ?, state_message = ?, ended_at = NULL, end_cause = NULL, heartbeat_at = ?, updated_at = ?, revivable = 0
                    WHERE id = ? AND state = ?
                    """,
                arguments: [FlowRunState.running.rawValue, message, seconds, seconds, runID, FlowRunState.crashed.rawValue])
            try Self.appendHistory(db, runID: runID, state: .running, message: message, at: seconds)
            guard let revived = try Self.fetchRun(db, id: runID, includeHistory: true) else { return nil }
            return (revived, withdrawn)
        }
    }

    public func recordHeartbeat(runID: FlowRunID, at: Date) async throws -> FlowRunState? {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE flow_runs SET heartbeat_at = ? WHERE id = ?", arguments: [at.timeIntervalSince1970, runID])
            return try String.fetchOne(db, sql: "SELECT state FROM flow_runs WHERE id = ?", arguments: [runID])
                .flatMap(FlowRunState.init(rawValue:))
        }
    }

    /// Rewrites the one probe row: fails when the database (its file, the WAL, the directory) refuses writes.
    public func checkWritable() async throws {
        try await pool.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO write_probe (id, at) VALUES (1, ?)", arguments: [Date().timeIntervalSince1970])
        }
    }

    public func mergeInfrastructure(runID: FlowRunID, facts: [String: String], at: Date) async throws -> FlowRun? {
        try await pool.write { db in
            guard try Self.mergeInfrastructure(db, runID: runID, facts: facts, at: at) else { return nil }
            return try Self.fetchRun(db, id: runID, includeHistory: false)
        }
    }

    /// Merges facts into a run's infrastructure; `at` also moves `updated_at`. False when the run does not exist.
    static func mergeInfrastructure(_ db: Database, runID: FlowRunID, facts: [String: String], at: Date?) throws -> Bool {
        guard let text = try String.fetchOne(db, sql: "SELECT infrastructure FROM flow_runs WHERE id = ?", arguments: [runID])
        else { return false }
        var merged = try StoreJSON.decode([String: String].self, text)
        merged.merge(facts) { _, new in new }
        if let at {
            try db.execute(
                sql: "UPDATE flow_runs SET infrastructure = ?, updated_at = ? WHERE id = ?",
                arguments: [try StoreJSON.text(merged), at.timeIntervalSince1970, runID])
        } else {
            try db.execute(sql: "UPDATE flow_runs SET infrastructure = ? WHERE id = ?", arguments: [try StoreJSON.text(merged), runID])
        }
        return true
    }

    public func runsWithHeartbeat(olderThan before: Date, in states: [FlowRunState]) async throws -> [FlowRun] {
        try await pool.read { db in
            let marks = states.map { _ in "?" }.joined(separator: ",")
            let arguments = StatementArguments(states.map(\.rawValue)) + [before.timeIntervalSince1970]
            return try Row.fetchAll(
                db,
                sql: "SELECT * FROM flow_runs WHERE state IN (\(marks)) AND COALESCE(heartbeat_at, started_at, updated_at) < ?",
                arguments: arguments
            ).map { try StoreRows.run($0, history: nil) }
        }
    }

    public func runsMissingRetry(endedAfter: Date) async throws -> [FlowRun] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT r.* FROM flow_runs r JOIN flow_versions v ON v.id = r.version_id
                    WHERE r.state IN (?, ?) AND r.ended_at > ? AND v.retry_policy IS NOT NULL
                        AND r.attempt <= COALESCE(json_extract(v.retry_policy, '$.retries'), 0)
                        AND NOT EXISTS (SELECT 1 FROM flow_runs n WHERE n.retry_of = COALESCE(r.retry_of, r.id) AND n.attempt > r.attempt)
                    """,
                arguments: [FlowRunState.failed.rawValue, FlowRunState.crashed.rawValue, endedAfter.timeIntervalSince1970]
            ).map { try StoreRows.run($0, history: nil) }
        }
    }

    public func extendLeases(until: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE flow_runs SET lease_expires_at = ? WHERE state = ? AND lease_expires_at < ?",
                arguments: [until.timeIntervalSince1970, FlowRunState.pending.rawValue, until.timeIntervalSince1970])
            return db.changesCount
        }
    }

    public func runsWithExpiredLease(now: Date) async throws -> [FlowRun] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM flow_runs WHERE state = ? AND lease_expires_at < ?",
                arguments: [FlowRunState.pending.rawValue, now.timeIntervalSince1970]
            ).map { try StoreRows.run($0, history: nil) }
        }
    }
}
