import FathomAPI
import FathomCore
import Foundation
import Logging
import PostgresNIO

extension PostgresStore: AgentStore {
    public func upsertAgent(_ registration: AgentRegistration, id: AgentID, at: Date) async throws -> AgentInfo {
        try await transaction { connection in
            let seen = at.timeIntervalSince1970
            try await connection.query(
                """
                INSERT INTO agents (id, name, queue, labels, launcher, last_seen_at, created_at, instance, host)
                VALUES (\(id), \(registration.name), \(registration.queue), \(try StoreJSON.text(registration.labels)),
                    \(registration.launcher.rawValue), \(seen), \(seen), \(registration.instance), \(registration.host))
                ON CONFLICT (id) DO UPDATE SET name = excluded.name, queue = excluded.queue, labels = excluded.labels,
                    launcher = excluded.launcher, last_seen_at = excluded.last_seen_at, instance = excluded.instance, host = excluded.host
                """, logger: logger)
            guard let agent = try await fetchAgent(connection, id: id) else { throw StoreError.conflict("agent \(id) vanished as it was written") }
            return agent
        }
    }

    public func agent(id: AgentID) async throws -> AgentInfo? {
        try await transaction { connection in try await fetchAgent(connection, id: id) }
    }

    public func agents() async throws -> [AgentInfo] {
        try await transaction { connection in
            var agents: [AgentInfo] = []
            for id in try await Self.rows(connection, "SELECT id FROM agents ORDER BY last_seen_at DESC", logger: logger, { try $0.text("id") }) {
                if let agent = try await fetchAgent(connection, id: id) { agents.append(agent) }
            }
            return agents
        }
    }

    func fetchAgent(_ connection: PostgresConnection, id: AgentID) async throws -> AgentInfo? {
        guard let row = try await Self.row(
            connection,
            """
            SELECT a.*, (SELECT COUNT(*) FROM flow_runs r WHERE r.agent_id = a.id AND r.state IN \(unescaped: FlowRunState.activeSQLList)) AS in_flight
            FROM agents a WHERE a.id = \(id)
            """, logger: logger, { $0 })
        else { return nil }
        return try StoreRows.agent(row, runsInFlight: try row.integer("in_flight"))
    }

    public func agentStopped(id: AgentID, instance: String) async throws -> Bool {
        try await transaction { connection in
            try await Self.row(
                connection, "UPDATE agents SET instance = NULL WHERE id = \(id) AND instance = \(instance) RETURNING id", logger: logger,
                { try $0.text("id") }) != nil
        }
    }

    public func claim(agent: AgentInfo, capacity: Int, leaseExpiresAt: Date, now: Date) async throws -> (runs: [ClaimedRun], cancel: [FlowRunID]) {
        try await transaction { connection in
            let at = now.timeIntervalSince1970
            try await connection.query("UPDATE agents SET last_seen_at = \(at) WHERE id = \(agent.id)", logger: logger)
            try await connection.query(
                """
                UPDATE flow_runs SET lease_expires_at = \(leaseExpiresAt.timeIntervalSince1970)
                WHERE agent_id = \(agent.id) AND state = \(FlowRunState.pending.rawValue)
                """, logger: logger)
            let cancel = try await Self.rows(
                connection, "SELECT id FROM flow_runs WHERE agent_id = \(agent.id) AND state = \(FlowRunState.cancelling.rawValue)",
                logger: logger) { try $0.text("id") }
            guard capacity > 0 else { return ([], cancel) }
            var room = try await PostgresClaimRoom.measure(connection, queue: agent.queue, logger: logger)
            guard room.queueHasRoom else { return ([], cancel) }
            var builder = PostgresQueryBuilder()
            let blocked = room.fullFlows.sorted()
            let exclusion = blocked.isEmpty ? "" : "AND r.flow_name NOT IN (\(blocked.map { builder.bind($0) }.joined(separator: ", ")))"
            // Queue, due time, launcher, labels (the agent's labels hold every label the version needs, with the same
            // value) and full flows are matched here, so runs this agent cannot take never stand in front of those it
            // can. SKIP LOCKED: a run another coordinator is handing out now is left to it, not waited for.
            let sql = """
                SELECT r.id AS run_id, r.flow_name AS run_flow, v.* FROM flow_runs r JOIN flow_versions v ON v.id = r.version_id
                WHERE r.queue = \(builder.bind(agent.queue)) AND r.state = \(builder.bind(FlowRunState.scheduled.rawValue))
                    AND (r.scheduled_for IS NULL OR r.scheduled_for <= \(builder.bind(at)))
                    AND COALESCE(v.run_config::jsonb->>'launcher', 'local') = \(builder.bind(agent.launcher.rawValue))
                    AND \(builder.bind(try StoreJSON.text(agent.labels)))::jsonb @> v.labels::jsonb
                    \(exclusion)
                ORDER BY COALESCE(r.scheduled_for, r.created_at), r.seq LIMIT \(builder.bind(max(capacity * 4, 32)))
                FOR UPDATE OF r SKIP LOCKED
                """
            let candidates = try await Self.rows(connection, builder.query(sql), logger: logger) { row in
                (run: try row.text("run_id"), flow: try row.text("run_flow"), version: try StoreRows.version(row))
            }
            var claimed: [ClaimedRun] = []
            for candidate in candidates where claimed.count < capacity && room.queueHasRoom {
                // Two runs of one flow in this claim can fill its limit between them.
                guard room.flowHasRoom(candidate.flow) else { continue }
                let write = StateWrite(
                    runID: candidate.run, from: .scheduled, to: .pending, message: "claimed by agent \(agent.name)",
                    at: now, agentID: agent.id, leaseExpiresAt: leaseExpiresAt)
                if let run = try await applyStateWrite(connection, write) {
                    room.take(flow: run.flowName)
                    claimed.append(ClaimedRun(run: run, version: candidate.version, leaseExpiresAt: leaseExpiresAt))
                }
            }
            return (claimed, cancel)
        }
    }

    public func setConcurrencyLimit(scope: String, name: String, limit: Int) async throws {
        try await execute(
            """
            INSERT INTO concurrency_limits (scope, name, max_active) VALUES (\(scope), \(name), \(limit))
            ON CONFLICT (scope, name) DO UPDATE SET max_active = excluded.max_active
            """)
    }

    public func deleteConcurrencyLimit(scope: String, name: String) async throws -> Bool {
        try await transaction { connection in
            try await Self.row(
                connection, "DELETE FROM concurrency_limits WHERE scope = \(scope) AND name = \(name) RETURNING name", logger: logger,
                { try $0.text("name") }) != nil
        }
    }

    public func concurrencyLimits() async throws -> [ConcurrencyLimit] {
        try await transaction { connection in
            try await Self.rows(
                connection,
                """
                SELECT l.scope, l.name, l.max_active, (SELECT COUNT(*) FROM flow_runs r WHERE r.state IN \(unescaped: FlowRunState.activeSQLList)
                    AND ((l.scope = 'queue' AND r.queue = l.name) OR (l.scope = 'flow' AND r.flow_name = l.name))) AS active
                FROM concurrency_limits l ORDER BY l.scope, l.name
                """, logger: logger
            ) { row in
                ConcurrencyLimit(scope: try row.text("scope"), name: try row.text("name"), limit: try row.integer("max_active"), active: try row.integer("active"))
            }
        }
    }
}

/// The concurrency limits inside one PostgreSQL claim transaction. With limits in force the claim first takes an
/// advisory lock (the queue's, or with flow limits a global one), so that claims through several coordinators count
/// active runs one after another and never both take the last slot.
enum PostgresClaimRoom {
    static func measure(_ connection: PostgresConnection, queue: String, logger: Logger) async throws -> ClaimRoom {
        let limits = try await PostgresStore.rows(
            connection, "SELECT scope, name, max_active FROM concurrency_limits", logger: logger
        ) { (scope: try $0.text("scope"), name: try $0.text("name"), limit: try $0.integer("max_active")) }
        let relevant = limits.filter { $0.scope == "flow" || ($0.scope == "queue" && $0.name == queue) }
        guard !relevant.isEmpty else { return ClaimRoom(queueLeft: nil, flowLeft: [:]) }
        let lockName = relevant.contains { $0.scope == "flow" } ? "fathom-claims" : "fathom-claims:" + queue
        try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(lockName)))", logger: logger)
        var queueLeft: Int?
        var flowLeft: [String: Int] = [:]
        for limit in relevant {
            let column = limit.scope == "queue" ? "queue" : "flow_name"
            let active = try await PostgresStore.row(
                connection,
                "SELECT COUNT(*) AS active FROM flow_runs WHERE \(unescaped: column) = \(limit.name) AND state IN \(unescaped: FlowRunState.activeSQLList)",
                logger: logger) { try $0.integer("active") } ?? 0
            if limit.scope == "queue" { queueLeft = limit.limit - active } else { flowLeft[limit.name] = limit.limit - active }
        }
        return ClaimRoom(queueLeft: queueLeft, flowLeft: flowLeft)
    }
}
