import FathomAPI
import FathomCore
import Foundation
import GRDB

extension SQLiteStore {
    // MARK: Logs

    public func appendLogs(
        runID: FlowRunID, _ logs: [LogEntry], infrastructure: [String: String], afterEnd: LinesAfterEnd, batchID: String?
    ) async throws -> LogAccepted {
        try await pool.write { db in
            if let batchID, try Row.fetchOne(
                db, sql: "INSERT INTO log_batches (run_id, batch_id, accepted, last_seq) VALUES (?, ?, ?, 0) \(StoreSQL.claimLogBatch)",
                arguments: [runID, batchID, logs.count]) == nil {
                let first = try Row.fetchOne(
                    db, sql: "SELECT accepted, last_seq FROM log_batches WHERE run_id = ? AND batch_id = ?", arguments: [runID, batchID])
                let accepted: Int? = first?["accepted"], lastSeq: Int64? = first?["last_seq"]
                return LogAccepted(accepted: accepted ?? 0, lastSeq: lastSeq ?? 0, repeated: true)
            }
            if !infrastructure.isEmpty {
                guard try Self.mergeInfrastructure(db, runID: runID, facts: infrastructure, at: nil) else { throw StoreError.runNotFound(runID) }
            }
            guard let row = try Row.fetchOne(
                db, sql: "UPDATE flow_runs SET log_seq = log_seq + ? WHERE id = ? RETURNING log_seq, state, ended_at",
                arguments: [logs.count, runID])
            else { throw StoreError.runNotFound(runID) }
            let last: Int64 = row["log_seq"]
            var lateAfter: Date?
            if let state = FlowRunState(rawValue: row["state"]), state.isFinal {
                switch afterEnd {
                case .keep: break
                case .markLate: lateAfter = (row["ended_at"] as Double?).map(Date.init(timeIntervalSince1970:)) ?? .distantPast
                case .refuse: throw StoreError.runFinal(runID, state)  // rolls back the sequence and the facts
                }
            }
            var seq = last - Int64(logs.count)
            let statement = try db.cachedStatement(
                sql: "INSERT INTO logs (run_id, seq, ts, level, message, task_run_id, source, late) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
            for entry in logs {
                seq += 1
                try statement.execute(arguments: [
                    runID, seq, entry.timestamp.timeIntervalSince1970, entry.level.rawValue, entry.message, entry.taskRunID, entry.source.rawValue,
                    lateAfter.map { entry.timestamp > $0 } ?? false,
                ])
            }
            if let batchID {
                try db.execute(sql: "UPDATE log_batches SET last_seq = ? WHERE run_id = ? AND batch_id = ?", arguments: [last, runID, batchID])
            }
            return LogAccepted(accepted: logs.count, lastSeq: last)
        }
    }

    public func logs(runID: FlowRunID, after: Int64, limit: Int) async throws -> [LogLine] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM logs WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?", arguments: [runID, after, limit]
            ).map(StoreRows.logLine)
        }
    }

    public func logTail(runID: FlowRunID, limit: Int) async throws -> [LogLine] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM logs WHERE run_id = ? ORDER BY seq DESC LIMIT ?", arguments: [runID, limit]
            ).reversed().map(StoreRows.logLine)
        }
    }

    // MARK: Task runs

    public func upsertTaskRuns(runID: FlowRunID, _ updates: [TaskRunUpdate]) async throws {
        try await pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM flow_runs WHERE id = ?", arguments: [runID]) != nil else {
                throw StoreError.runNotFound(runID)
            }
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO task_runs (id, run_id, name, state, attempt, started_at, ended_at, message, result, cache_key, cached_from,
                        outputs, result_ref)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    \(StoreSQL.taskRunMerge)
                    """)
            for update in updates {
                try statement.execute(arguments: [
                    update.id, runID, update.name, update.state.rawValue, update.attempt,
                    update.startedAt?.timeIntervalSince1970, update.endedAt?.timeIntervalSince1970, update.message,
                    try update.result.map { try StoreJSON.text($0) }, update.cacheKey, update.cachedFrom,
                    try update.outputs.map { try StoreJSON.text($0) }, try update.resultRef.map { try StoreJSON.text($0) },
                ])
            }
        }
    }

    public func taskRuns(runID: FlowRunID) async throws -> [TaskRunUpdate] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM task_runs WHERE run_id = ? ORDER BY rowid", arguments: [runID]).map(StoreRows.taskRun)
        }
    }

    // MARK: Agents and claims

    public func upsertAgent(_ registration: AgentRegistration, id: AgentID, at: Date) async throws -> AgentInfo {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO agents (id, name, queue, labels, launcher, last_seen_at, created_at, instance, host)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET name = excluded.name, queue = excluded.queue, labels = excluded.labels,
                        launcher = excluded.launcher, last_seen_at = excluded.last_seen_at, instance = excluded.instance,
                        host = excluded.host
                    """,
                arguments: [
                    id, registration.name, registration.queue, try StoreJSON.text(registration.labels), registration.launcher.rawValue,
                    at.timeIntervalSince1970, at.timeIntervalSince1970, registration.instance, registration.host,
                ])
            return try Self.fetchAgent(db, id: id)!
        }
    }

    public func agent(id: AgentID) async throws -> AgentInfo? {
        try await pool.read { db in try Self.fetchAgent(db, id: id) }
    }

    public func agents() async throws -> [AgentInfo] {
        try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT id FROM agents ORDER BY last_seen_at DESC").compactMap { try Self.fetchAgent(db, id: $0) }
        }
    }

    static func fetchAgent(_ db: Database, id: AgentID) throws -> AgentInfo? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM agents WHERE id = ?", arguments: [id]) else { return nil }
        let inFlight = try Int.fetchOne(
            db, sql: "SELECT COUNT(*) FROM flow_runs WHERE agent_id = ? AND state IN \(FlowRunState.activeSQLList)", arguments: [id]) ?? 0
        return try StoreRows.agent(row, runsInFlight: inFlight)
    }

    public func agentStopped(id: AgentID, instance: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE agents SET instance = NULL WHERE id = ? AND instance = ?", arguments: [id, instance])
            return db.changesCount > 0
        }
    }

    public func claim(
        agent: AgentInfo, capacity: Int, leaseExpiresAt: Date, now: Date
    ) async throws -> (runs: [ClaimedRun], cancel: [FlowRunID]) {
        try await pool.write { db in
            let at = now.timeIntervalSince1970
            try db.execute(sql: "UPDATE agents SET last_seen_at = ? WHERE id = ?", arguments: [at, agent.id])
            try db.execute(
                sql: "UPDATE flow_runs SET lease_expires_at = ? WHERE agent_id = ? AND state = ?",
                arguments: [leaseExpiresAt.timeIntervalSince1970, agent.id, FlowRunState.pending.rawValue])
            let cancel = try String.fetchAll(
                db, sql: "SELECT id FROM flow_runs WHERE agent_id = ? AND state = ?",
                arguments: [agent.id, FlowRunState.cancelling.rawValue])
            var claimed: [ClaimedRun] = []
            guard capacity > 0 else { return ([], cancel) }
            var room = try ClaimRoom(db, queue: agent.queue)
            guard room.queueHasRoom else { return ([], cancel) }
            let blocked = room.fullFlows
            let exclusion = blocked.isEmpty ? "" : "AND r.flow_name NOT IN (\(blocked.map { _ in "?" }.joined(separator: ",")))"
            // Queue, due time, launcher, labels (every label the version needs, the agent has with the same
            // value) and full flows are all matched here, so runs this agent cannot take never stand in
            // front of those it can, however many there are.
            let candidates = try Row.fetchAll(
                db,
                sql: """
                    SELECT r.id AS run_id, r.flow_name AS run_flow, v.* FROM flow_runs r JOIN flow_versions v ON v.id = r.version_id
                    WHERE r.queue = ? AND r.state = ? AND (r.scheduled_for IS NULL OR r.scheduled_for <= ?)
                        AND COALESCE(json_extract(v.run_config, '$.launcher'), 'local') = ?
                        AND NOT EXISTS (
                            SELECT 1 FROM json_each(v.labels) AS needed
                            WHERE NOT EXISTS (SELECT 1 FROM json_each(?) AS has WHERE has.key = needed.key AND has.value = needed.value))
                        \(exclusion)
                    ORDER BY COALESCE(r.scheduled_for, r.created_at), r.rowid LIMIT ?
                    """,
                arguments: [agent.queue, FlowRunState.scheduled.rawValue, now.timeIntervalSince1970, agent.launcher.rawValue, try StoreJSON.text(agent.labels)]
                    + StatementArguments(blocked.sorted()) + [max(capacity * 4, 32)])
            for row in candidates where claimed.count < capacity && room.queueHasRoom {
                let version = try StoreRows.version(row)
                // Two runs of one flow in this claim can fill its limit between them.
                guard room.flowHasRoom(row["run_flow"]) else { continue }
                let write = StateWrite(
                    runID: row["run_id"], from: .scheduled, to: .pending, message: "claimed by agent \(agent.name)",
                    at: now, agentID: agent.id, leaseExpiresAt: leaseExpiresAt)
                if let run = try Self.applyStateWrite(db, write) {
                    room.take(flow: run.flowName)
                    claimed.append(ClaimedRun(run: run, version: version, leaseExpiresAt: leaseExpiresAt))
                }
            }
            return (claimed, cancel)
        }
    }
}

/// The concurrency limits as they stand inside one claim transaction: what each limited queue and flow has left.
struct ClaimRoom {
    private var queueLeft: Int?
    private var flowLeft: [String: Int]

    init(queueLeft: Int?, flowLeft: [String: Int]) {
        self.queueLeft = queueLeft
        self.flowLeft = flowLeft
    }

    /// Counts, in SQLite's claim transaction, what the limits that bear on `queue` have left.
    init(_ db: Database, queue: String) throws {
        var queueLeft: Int?
        var flowLeft: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT scope, name, max_active FROM concurrency_limits") {
            let scope: String = try row.text("scope"), name: String = try row.text("name"), limit = try row.integer("max_active")
            if scope == "queue", name == queue {
                let active = try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM flow_runs WHERE queue = ? AND state IN \(FlowRunState.activeSQLList)", arguments: [queue]) ?? 0
                queueLeft = limit - active
            } else if scope == "flow" {
                let active = try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM flow_runs WHERE flow_name = ? AND state IN \(FlowRunState.activeSQLList)", arguments: [name]) ?? 0
                flowLeft[name] = limit - active
            }
        }
        self.init(queueLeft: queueLeft, flowLeft: flowLeft)
    }

    var queueHasRoom: Bool { (queueLeft ?? 1) > 0 }
    /// Flows whose limit is reached.
    var fullFlows: Set<String> { Set(flowLeft.filter { $0.value <= 0 }.keys) }
    func flowHasRoom(_ flow: String) -> Bool { (flowLeft[flow] ?? 1) > 0 }

    mutating func take(flow: String) {
        queueLeft? -= 1
        flowLeft[flow]? -= 1
    }
}

/// A store failure that maps to an API answer.
public enum StoreError: Error, Sendable {
    case runNotFound(FlowRunID)
    case conflict(String)
    /// Lines were sent to a run that had already ended, by a writer whose lines are refused then.
    case runFinal(FlowRunID, FlowRunState)
}

/// What happens to log lines that reach a run after it ended.
public enum LinesAfterEnd: Sendable {
    /// Kept as they are: the coordinator's own notes (a crash reason, a retry's link).
    case keep
    /// Kept, those stamped after the run's end marked late: the process's own output as its agent copies it
    /// (a line printed before the end that the agent delivers afterwards belongs to the run as it was).
    case markLate
    /// Refused: anyone else's lines, e.g. a flow still logging after it was cancelled.
    case refuse
}
