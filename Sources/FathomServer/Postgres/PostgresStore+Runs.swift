import FathomAPI
import FathomCore
import Foundation
import PostgresNIO

/// A query put together from parts, with `$n` placeholders numbered as values are added.
struct PostgresQueryBuilder {
    private(set) var bindings = PostgresBindings()

    /// The placeholder for `value`.
    mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value) -> String {
        bindings.append(value)
        return "$\(bindings.count)"
    }

    /// The placeholder for `value`, which may be NULL.
    mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value?) -> String {
        bindings.append(value)
        return "$\(bindings.count)"
    }

    func query(_ sql: String) -> PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: bindings) }
}

extension PostgresStore: RunStore {
    public func insertRun(_ new: NewFlowRun) async throws -> FlowRun {
        try await transaction { connection in
            if let existing = try await insertRunRow(connection, new) { return existing }
            guard let run = try await fetchRun(connection, id: new.id, includeHistory: true) else {
                throw StoreError.runNotFound(new.id)
            }
            return run
        }
    }

    /// Inserts `new` unless a run already holds its id, idempotency key, schedule slot or attempt; returns that run then.
    func insertRunRow(_ connection: PostgresConnection, _ new: NewFlowRun) async throws -> FlowRun? {
        let at = new.createdAt.timeIntervalSince1970
        let overrides = try new.overrides.map { try StoreJSON.text($0) }
        let inserted = try await Self.row(
            connection,
            """
            INSERT INTO flow_runs (id, flow_name, version_id, flow_version, parameters, state, state_message, queue,
                idempotency_key, created_at, updated_at, schedule_id, scheduled_for, attempt, retry_of, resume_of, overrides, tags)
            VALUES (\(new.id), \(new.version.flowName), \(new.version.id), \(new.version.version), \(try StoreJSON.text(new.parameters)),
                \(FlowRunState.scheduled.rawValue), \(new.message), \(new.version.queue), \(new.idempotencyKey), \(at), \(at),
                \(new.scheduleID), \(new.scheduledFor?.timeIntervalSince1970), \(new.attempt), \(new.retryOf), \(new.resumeOf), \(overrides),
                \(try StoreJSON.text(new.tags)))
            ON CONFLICT DO NOTHING RETURNING id
            """, logger: logger) { try $0.text("id") }
        if inserted != nil {
            try await appendHistory(connection, runID: new.id, state: .scheduled, message: new.message, at: at)
            return nil
        }
        let existing = try await Self.row(
            connection,
            """
            SELECT * FROM flow_runs WHERE idempotency_key = \(new.idempotencyKey)
                OR (schedule_id = \(new.scheduleID) AND scheduled_for = \(new.scheduledFor?.timeIntervalSince1970))
                OR (retry_of = \(new.retryOf) AND attempt = \(new.attempt)) OR id = \(new.id)
            LIMIT 1
            """, logger: logger) { $0 }
        guard let existing else { throw StoreError.conflict("flow run \(new.id) conflicts with a run that cannot be found") }
        return try StoreRows.run(existing, history: try await history(connection, runID: try existing.text("id")))
    }

    public func run(id: FlowRunID, includeHistory: Bool) async throws -> FlowRun? {
        try await transaction { connection in try await fetchRun(connection, id: id, includeHistory: includeHistory) }
    }

    func fetchRun(_ connection: PostgresConnection, id: FlowRunID, includeHistory: Bool) async throws -> FlowRun? {
        guard let row = try await Self.row(connection, "SELECT * FROM flow_runs WHERE id = \(id)", logger: logger, { $0 }) else { return nil }
        return try StoreRows.run(row, history: includeHistory ? try await history(connection, runID: id) : nil)
    }

    func history(_ connection: PostgresConnection, runID: FlowRunID) async throws -> [StateChange] {
        try await Self.rows(
            connection, "SELECT state, message, at FROM state_history WHERE run_id = \(runID) ORDER BY seq", logger: logger
        ) { row in
            StateChange(
                state: FlowRunState(rawValue: try row.text("state")) ?? .crashed, message: try row.text("message"),
                at: Date(timeIntervalSince1970: try row.real("at")))
        }
    }

    func appendHistory(_ connection: PostgresConnection, runID: FlowRunID, state: FlowRunState, message: String, at: Double) async throws {
        try await connection.query(
            """
            INSERT INTO state_history (run_id, seq, state, message, at)
            VALUES (\(runID), (SELECT COALESCE(MAX(seq), 0) + 1 FROM state_history WHERE run_id = \(runID)), \(state.rawValue), \(message), \(at))
            """, logger: logger)
    }

    public func runs(_ filter: RunFilter) async throws -> FlowRunList {
        var builder = PostgresQueryBuilder()
        var conditions: [String] = []
        if let flow = filter.flowName { conditions.append("flow_name = \(builder.bind(flow))") }
        if let state = filter.state { conditions.append("state = \(builder.bind(state.rawValue))") }
        if let agent = filter.agentID { conditions.append("agent_id = \(builder.bind(agent))") }
        if filter.activeOnly { conditions.append("state IN \(FlowRunState.activeSQLList)") }
        if let schedule = filter.scheduleID { conditions.append("schedule_id = \(builder.bind(schedule))") }
        if let first = filter.attemptsOf {
            let placeholder = builder.bind(first)
            conditions.append("(id = \(placeholder) OR retry_of = \(placeholder))")
        }
        if let after = filter.createdAfter { conditions.append("created_at >= \(builder.bind(after.timeIntervalSince1970))") }
        if let dueBy = filter.dueBy {
            conditions.append("(state != 'Scheduled' OR scheduled_for IS NULL OR scheduled_for <= \(builder.bind(dueBy.timeIntervalSince1970)))")
        }
        if let before = filter.createdBefore { conditions.append("created_at < \(builder.bind(before.timeIntervalSince1970))") }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let countQuery = builder.query("SELECT COUNT(*) AS total FROM flow_runs \(whereClause)")
        let limit = builder.bind(filter.limit), offset = builder.bind(filter.offset)
        let pageQuery = builder.query("SELECT * FROM flow_runs \(whereClause) ORDER BY created_at DESC, seq DESC LIMIT \(limit) OFFSET \(offset)")
        return try await transaction { connection in
            let total = try await Self.row(connection, countQuery, logger: logger) { try $0.integer("total") } ?? 0
            let runs = try await Self.rows(connection, pageQuery, logger: logger) { try StoreRows.run($0, history: nil) }
            return FlowRunList(runs: runs, total: total)
        }
    }

    public func runDigests(flowName: String?, since: Date, limit: Int) async throws -> [RunDigest] {
        var builder = PostgresQueryBuilder()
        var conditions = ["created_at >= \(builder.bind(since.timeIntervalSince1970))"]
        if let flowName { conditions.append("flow_name = \(builder.bind(flowName))") }
        let limit = builder.bind(limit)
        let query = builder.query("""
            SELECT id, state, created_at, started_at, ended_at, infrastructure::jsonb ->> 'costUSD' AS cost,
                infrastructure::jsonb ->> 'workspaceBytes' AS bytes
            FROM flow_runs WHERE \(conditions.joined(separator: " AND ")) ORDER BY created_at DESC, seq DESC LIMIT \(limit)
            """)
        return try await transaction { connection in
            try await Self.rows(connection, query, logger: logger) { try StoreRows.digest($0) }
        }
    }

    public func stateCounts() async throws -> [FlowRunState: Int] {
        try await transaction { connection in
            var counts: [FlowRunState: Int] = [:]
            for (state, count) in try await Self.rows(
                connection, "SELECT state, COUNT(*) AS count FROM flow_runs GROUP BY state", logger: logger, { (try $0.text("state"), try $0.integer("count")) })
            {
                if let state = FlowRunState(rawValue: state) { counts[state] = count }
            }
            return counts
        }
    }

    public func compareAndSetState(_ write: StateWrite) async throws -> FlowRun? {
        try await transaction { connection in try await applyStateWrite(connection, write) }
    }

    func applyStateWrite(_ connection: PostgresConnection, _ write: StateWrite) async throws -> FlowRun? {
        let at = write.at.timeIntervalSince1970
        var builder = PostgresQueryBuilder()
        var assignments = [
            "state = \(builder.bind(write.to.rawValue))", "state_message = \(builder.bind(write.message))",
            "updated_at = \(builder.bind(at))", "revivable = \(builder.bind(write.revivable))",
        ]
        if write.to == .running {
            let time = builder.bind(at)
            assignments += ["started_at = COALESCE(started_at, \(time))", "heartbeat_at = \(time)"]
        }
        if write.to.isFinal {
            assignments += ["ended_at = \(builder.bind(at))", "end_cause = \(builder.bind(write.cause?.rawValue))"]
        }
        if write.to == .pending {
            assignments += ["agent_id = \(builder.bind(write.agentID))", "lease_expires_at = \(builder.bind(write.leaseExpiresAt?.timeIntervalSince1970))"]
        }
        if write.to == .scheduled { assignments += ["agent_id = NULL", "lease_expires_at = NULL"] }
        let sql = "UPDATE flow_runs SET \(assignments.joined(separator: ", ")) WHERE id = \(builder.bind(write.runID)) AND state = \(builder.bind(write.from.rawValue)) RETURNING id"
        guard try await Self.row(connection, builder.query(sql), logger: logger, { try $0.text("id") }) != nil else { return nil }
        try await appendHistory(connection, runID: write.runID, state: write.to, message: write.message, at: at)
        if let event = AlertEvent.of(write) { try await insertAlertEvent(connection, event) }
        return try await fetchRun(connection, id: write.runID, includeHistory: true)
    }

    public func recordHeartbeat(runID: FlowRunID, at: Date) async throws -> FlowRunState? {
        try await transaction { connection in
            try await Self.row(
                connection, "UPDATE flow_runs SET heartbeat_at = \(at.timeIntervalSince1970) WHERE id = \(runID) RETURNING state",
                logger: logger) { try $0.text("state") }.flatMap(FlowRunState.init(rawValue:))
        }
    }

    public func mergeInfrastructure(runID: FlowRunID, facts: [String: String], at: Date) async throws -> FlowRun? {
        try await transaction { connection in
            guard try await mergeInfrastructure(connection, runID: runID, facts: facts, at: at) else { return nil }
            return try await fetchRun(connection, id: runID, includeHistory: false)
        }
    }

    /// Merges facts into a run's infrastructure (the row locked meanwhile); `at` also moves `updated_at`. False when
    /// the run does not exist.
    func mergeInfrastructure(_ connection: PostgresConnection, runID: FlowRunID, facts: [String: String], at: Date?) async throws -> Bool {
        guard let text = try await Self.row(
            connection, "SELECT infrastructure FROM flow_runs WHERE id = \(runID) FOR UPDATE", logger: logger, { try $0.text("infrastructure") })
        else { return false }
        var merged = try StoreJSON.decode([String: String].self, text)
        merged.merge(facts) { _, new in new }
        let mergedText = try StoreJSON.text(merged)
        if let at {
            try await connection.query(
                "UPDATE flow_runs SET infrastructure = \(mergedText), updated_at = \(at.timeIntervalSince1970) WHERE id = \(runID)", logger: logger)
        } else {
            try await connection.query("UPDATE flow_runs SET infrastructure = \(mergedText) WHERE id = \(runID)", logger: logger)
        }
        return true
    }

    public func revive(runID: FlowRunID, message: String, at: Date) async throws -> (run: FlowRun, withdrawn: [FlowRunID])? {
        try await transaction { connection in
            guard let (attempt, first) = try await Self.row(
                connection,
                """
                SELECT attempt, COALESCE(retry_of, id) AS first FROM flow_runs
                WHERE id = \(runID) AND state = \(FlowRunState.crashed.rawValue) AND revivable FOR UPDATE
                """, logger: logger, { (try $0.integer("attempt"), try $0.text("first")) })
            else { return nil }
            let later = try await Self.rows(
                connection, "SELECT id, state FROM flow_runs WHERE retry_of = \(first) AND attempt > \(attempt) FOR UPDATE", logger: logger
            ) { (id: try $0.text("id"), state: try $0.text("state")) }
            // A later attempt that an agent took holds the work now: this one stays crashed.
            guard later.allSatisfy({ $0.state == FlowRunState.scheduled.rawValue }) else { return nil }
            let withdrawn = later.map(\.id)
            for id in withdrawn { try await deleteRun(connection, id: id) }
            let seconds = at.timeIntervalSince1970
            try await connection.query(
                """
                UPDATE flow_runs SET state = \(FlowRunState.running.rawValue), state_message = \(message), ended_at = NULL, end_cause = NULL,
                    heartbeat_at = \(seconds), updated_at = \(seconds), revivable = FALSE
                WHERE id = \(runID) AND state = \(FlowRunState.crashed.rawValue)
                """, logger: logger)
            try await appendHistory(connection, runID: runID, state: .running, message: message, at: seconds)
            guard let revived = try await fetchRun(connection, id: runID, includeHistory: true) else { return nil }
            return (revived, withdrawn)
        }
    }
}
