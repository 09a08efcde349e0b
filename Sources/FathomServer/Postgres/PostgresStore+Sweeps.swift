import FathomAPI
import FathomCore
import Foundation
import PostgresNIO

extension PostgresStore: RunSweepStore {
    public func insertScheduledRuns(_ runs: [NewFlowRun]) async throws -> [FlowRun] {
        guard !runs.isEmpty else { return [] }
        return try await transaction { connection in
            var inserted: [FlowRun] = []
            for run in runs where try await insertRunRow(connection, run) == nil {
                if let stored = try await fetchRun(connection, id: run.id, includeHistory: false) { inserted.append(stored) }
            }
            return inserted
        }
    }

    public func deleteUpcomingScheduledRuns(scheduleID: String?, flowName: String?, after: Date) async throws -> Int {
        var builder = PostgresQueryBuilder()
        var conditions = ["state = \(builder.bind(FlowRunState.scheduled.rawValue))", "scheduled_for > \(builder.bind(after.timeIntervalSince1970))"]
        conditions.append(scheduleID.map { "schedule_id = \(builder.bind($0))" } ?? "schedule_id IS NOT NULL")
        if let flowName { conditions.append("flow_name = \(builder.bind(flowName))") }
        let select = builder.query("SELECT id FROM flow_runs WHERE \(conditions.joined(separator: " AND ")) FOR UPDATE SKIP LOCKED")
        return try await transaction { connection in
            let ids = try await Self.rows(connection, select, logger: logger) { try $0.text("id") }
            for id in ids { try await deleteRun(connection, id: id) }
            return ids.count
        }
    }

    /// Deletes a run with its lines, accepted batch ids, history and task runs.
    func deleteRun(_ connection: PostgresConnection, id: FlowRunID) async throws {
        for table in StoreSQL.perRunTables {
            try await connection.query("DELETE FROM \(unescaped: table) WHERE run_id = \(id)", logger: logger)
        }
        try await connection.query("DELETE FROM flow_runs WHERE id = \(id)", logger: logger)
    }

    public func flagLateRuns(dueBefore before: Date, message: @escaping @Sendable (FlowRun, String) -> String) async throws -> [FlowRun] {
        try await transaction { connection in
            // SKIP LOCKED: a run another coordinator is flagging (or claiming) now is left to it.
            let rows = try await Self.rows(
                connection,
                """
                SELECT r.*, COALESCE(v.run_config::jsonb->>'launcher', 'local') AS run_launcher
                FROM flow_runs r JOIN flow_versions v ON v.id = r.version_id
                WHERE r.state = \(FlowRunState.scheduled.rawValue) AND NOT r.late
                    AND COALESCE(r.scheduled_for, r.created_at) < \(before.timeIntervalSince1970)
                FOR UPDATE OF r SKIP LOCKED
                """, logger: logger) { row in (run: try StoreRows.run(row, history: nil), launcher: try row.text("run_launcher")) }
            var flagged: [FlowRun] = []
            for (found, launcher) in rows {
                var run = found
                run.late = true
                run.stateMessage = message(run, launcher)
                try await connection.query(
                    "UPDATE flow_runs SET late = TRUE, state_message = \(run.stateMessage) WHERE id = \(run.id)", logger: logger)
                try await insertAlertEvent(connection, .late(runID: run.id, at: before))
                flagged.append(run)
            }
            return flagged
        }
    }

    public func queuesWithRunsDue(after: Date, through: Date) async throws -> Set<String> {
        try await transaction { connection in
            Set(try await Self.rows(
                connection,
                """
                SELECT DISTINCT queue FROM flow_runs WHERE state = \(FlowRunState.scheduled.rawValue)
                    AND scheduled_for > \(after.timeIntervalSince1970) AND scheduled_for <= \(through.timeIntervalSince1970)
                """, logger: logger) { try $0.text("queue") })
        }
    }

    public func runsWithHeartbeat(olderThan before: Date, in states: [FlowRunState]) async throws -> [FlowRun] {
        guard !states.isEmpty else { return [] }
        var builder = PostgresQueryBuilder()
        let marks = states.map { builder.bind($0.rawValue) }.joined(separator: ", ")
        let sql = "SELECT * FROM flow_runs WHERE state IN (\(marks)) AND COALESCE(heartbeat_at, started_at, updated_at) < \(builder.bind(before.timeIntervalSince1970))"
        let query = builder.query(sql)
        return try await transaction { connection in
            try await Self.rows(connection, query, logger: logger) { try StoreRows.run($0, history: nil) }
        }
    }

    public func runsWithExpiredLease(now: Date) async throws -> [FlowRun] {
        try await transaction { connection in
            try await Self.rows(
                connection,
                "SELECT * FROM flow_runs WHERE state = \(FlowRunState.pending.rawValue) AND lease_expires_at < \(now.timeIntervalSince1970)",
                logger: logger) { try StoreRows.run($0, history: nil) }
        }
    }

    public func extendLeases(until: Date) async throws -> Int {
        let seconds = until.timeIntervalSince1970
        return try await transaction { connection in
            try await Self.row(
                connection,
                """
                WITH moved AS (
                    UPDATE flow_runs SET lease_expires_at = \(seconds)
                    WHERE state = \(FlowRunState.pending.rawValue) AND lease_expires_at < \(seconds) RETURNING 1)
                SELECT COUNT(*) AS moved FROM moved
                """, logger: logger) { try $0.integer("moved") } ?? 0
        }
    }

    public func runsMissingRetry(endedAfter: Date) async throws -> [FlowRun] {
        try await transaction { connection in
            try await Self.rows(
                connection,
                """
                SELECT r.* FROM flow_runs r JOIN flow_versions v ON v.id = r.version_id
                WHERE r.state IN (\(FlowRunState.failed.rawValue), \(FlowRunState.crashed.rawValue)) AND r.ended_at > \(endedAfter.timeIntervalSince1970)
                    AND v.retry_policy IS NOT NULL
                    AND r.attempt <= COALESCE((v.retry_policy::jsonb->>'retries')::bigint, 0)
                    AND NOT EXISTS (SELECT 1 FROM flow_runs n WHERE n.retry_of = COALESCE(r.retry_of, r.id) AND n.attempt > r.attempt)
                """, logger: logger) { try StoreRows.run($0, history: nil) }
        }
    }
}
