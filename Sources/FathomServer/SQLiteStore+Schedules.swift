import FathomAPI
import FathomCore
import Foundation
import GRDB

extension SQLiteStore {
    // MARK: Scheduled runs

    public func insertScheduledRuns(_ runs: [NewFlowRun]) async throws -> [FlowRun] {
        guard !runs.isEmpty else { return [] }
        return try await pool.write { db in
            var inserted: [FlowRun] = []
            for run in runs where try Self.insertRunRow(db, run) == nil {
                inserted.append(try Self.fetchRun(db, id: run.id, includeHistory: false)!)
            }
            return inserted
        }
    }

    public func deleteUpcomingScheduledRuns(scheduleID: String?, flowName: String?, after: Date) async throws -> Int {
        try await pool.write { db in
            var condition = "schedule_id IS NOT NULL"
            var arguments: StatementArguments = [FlowRunState.scheduled.rawValue, after.timeIntervalSince1970]
            if let scheduleID {
                condition = "schedule_id = ?"
                arguments += [scheduleID]
            }
            if let flowName {
                condition += " AND flow_name = ?"
                arguments += [flowName]
            }
            let ids = try String.fetchAll(
                db, sql: "SELECT id FROM flow_runs WHERE state = ? AND scheduled_for > ? AND \(condition)", arguments: arguments)
            for id in ids {
                for table in StoreSQL.perRunTables {
                    try db.execute(sql: "DELETE FROM \(table) WHERE run_id = ?", arguments: [id])
                }
                try db.execute(sql: "DELETE FROM flow_runs WHERE id = ? AND state = ?", arguments: [id, FlowRunState.scheduled.rawValue])
            }
            return ids.count
        }
    }

    public func flagLateRuns(dueBefore before: Date, message: @escaping @Sendable (FlowRun, String) -> String) async throws -> [FlowRun] {
        try await pool.write { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT r.*, COALESCE(json_extract(v.run_config, '$.launcher'), 'local') AS run_launcher
                    FROM flow_runs r JOIN flow_versions v ON v.id = r.version_id
                    WHERE r.state = ? AND r.late = 0 AND COALESCE(r.scheduled_for, r.created_at) < ?
                    """,
                arguments: [FlowRunState.scheduled.rawValue, before.timeIntervalSince1970])
            return try rows.map { row in
                var run = try StoreRows.run(row, history: nil)
                run.late = true
                run.stateMessage = message(run, row["run_launcher"])
                try db.execute(
                    sql: "UPDATE flow_runs SET late = 1, state_message = ? WHERE id = ?", arguments: [run.stateMessage, run.id])
                try Self.insertAlertEvent(db, .late(runID: run.id, at: before))
                return run
            }
        }
    }

    public func queuesWithRunsDue(after: Date, through: Date) async throws -> Set<String> {
        try await pool.read { db in
            Set(try String.fetchAll(
                db, sql: "SELECT DISTINCT queue FROM flow_runs WHERE state = ? AND scheduled_for > ? AND scheduled_for <= ?",
                arguments: [FlowRunState.scheduled.rawValue, after.timeIntervalSince1970, through.timeIntervalSince1970]))
        }
    }

    public func stateCounts() async throws -> [FlowRunState: Int] {
        try await pool.read { db in
            var counts: [FlowRunState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM flow_runs GROUP BY state") {
                if let state = FlowRunState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            return counts
        }
    }

    // MARK: Schedules

    public func insertSchedule(_ schedule: Schedule) async throws {
        do {
            try await insertScheduleRow(schedule)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw StoreError.conflict("a schedule named '\(schedule.name)' already exists")
        }
    }

    private func insertScheduleRow(_ schedule: Schedule) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO schedules (id, name, flow_name, cron, timezone, interval_seconds, anchor, parameters, paused,
                        created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    schedule.id, schedule.name, schedule.flowName, schedule.cron, schedule.timezone, schedule.intervalSeconds,
                    schedule.anchor?.timeIntervalSince1970, try StoreJSON.text(schedule.parameters), schedule.paused,
                    schedule.createdAt.timeIntervalSince1970, schedule.updatedAt.timeIntervalSince1970,
                ])
        }
    }

    public func schedules(flowName: String?) async throws -> [Schedule] {
        try await pool.read { db in try Self.fetchSchedules(db, flowName: flowName) }
    }

    static func fetchSchedules(_ db: Database, flowName: String?) throws -> [Schedule] {
        let rows = try flowName.map {
            try Row.fetchAll(db, sql: "SELECT * FROM schedules WHERE flow_name = ? ORDER BY name", arguments: [$0])
        } ?? Row.fetchAll(db, sql: "SELECT * FROM schedules ORDER BY name")
        return try rows.map(StoreRows.schedule)
    }

    public func schedule(_ key: String) async throws -> Schedule? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM schedules WHERE id = ? OR name = ?", arguments: [key, key])
                .map(StoreRows.schedule)
        }
    }

    public func setSchedulePaused(id: String, paused: Bool, at: Date) async throws -> Schedule? {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE schedules SET paused = ?, updated_at = ? WHERE id = ?", arguments: [paused, at.timeIntervalSince1970, id])
            return try Row.fetchOne(db, sql: "SELECT * FROM schedules WHERE id = ?", arguments: [id]).map(StoreRows.schedule)
        }
    }

    public func setScheduleError(id: String, error: String?) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE schedules SET last_error = ? WHERE id = ?", arguments: [error, id])
        }
    }

    public func deleteSchedule(id: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM schedules WHERE id = ?", arguments: [id])
        }
    }

    // MARK: Concurrency limits

    public func setConcurrencyLimit(scope: String, name: String, limit: Int) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO concurrency_limits (scope, name, max_active) VALUES (?, ?, ?)
                    ON CONFLICT(scope, name) DO UPDATE SET max_active = excluded.max_active
                    """,
                arguments: [scope, name, limit])
        }
    }

    public func deleteConcurrencyLimit(scope: String, name: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM concurrency_limits WHERE scope = ? AND name = ?", arguments: [scope, name])
            return db.changesCount > 0
        }
    }

    public func concurrencyLimits() async throws -> [ConcurrencyLimit] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM concurrency_limits ORDER BY scope, name").map { row in
                let scope: String = row["scope"], name: String = row["name"]
                let column = scope == "queue" ? "queue" : "flow_name"
                let active = try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM flow_runs WHERE \(column) = ? AND state IN \(FlowRunState.activeSQLList)",
                    arguments: [name]) ?? 0
                return ConcurrencyLimit(scope: scope, name: name, limit: row["max_active"], active: active)
            }
        }
    }
}
