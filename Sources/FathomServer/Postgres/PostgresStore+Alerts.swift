import FathomAlerts
import FathomAPI
import FathomCore
import Foundation
import PostgresNIO

extension PostgresStore {
    /// Writes the outbox event of a change, in the caller's transaction; a second write of one event is a no-op.
    func insertAlertEvent(_ connection: PostgresConnection, _ event: AlertEvent) async throws {
        try await connection.query(
            """
            INSERT INTO alert_events (key, run_id, trigger, at, rule_id)
            VALUES (\(event.key), \(event.runID), \(event.trigger.rawValue), \(event.at.timeIntervalSince1970), \(event.ruleID))
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    public func insertAlertRule(_ rule: StoredAlertRule) async throws {
        do {
            try await execute(
                """
                INSERT INTO alert_rules (id, name, triggers, flows, targets, created_at, running_longer_than, not_started_within,
                    consecutive_failures, agent_offline_seconds, queue, launcher, tags)
                VALUES (\(rule.id), \(rule.name), \(try StoreJSON.text(rule.triggers)), \(try StoreJSON.text(rule.flows)),
                    \(try StoreJSON.text(rule.targets)), \(rule.createdAt.timeIntervalSince1970), \(rule.runningLongerThan),
                    \(rule.notStartedWithin), \(rule.consecutiveFailures.map(Double.init)), \(rule.agentOfflineSeconds), \(rule.queue),
                    \(rule.launcher?.rawValue), \(try StoreJSON.text(rule.tags)))
                """)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {  // unique_violation
            throw StoreError.conflict("an alert rule named '\(rule.name)' already exists")
        }
    }

    public func alertRules() async throws -> [StoredAlertRule] {
        try await transaction { connection in
            try await Self.rows(connection, "SELECT * FROM alert_rules ORDER BY name", logger: logger, AlertRows.rule)
        }
    }

    public func alertRule(_ key: String) async throws -> StoredAlertRule? {
        try await transaction { connection in
            try await Self.row(
                connection, "SELECT * FROM alert_rules WHERE id = \(key) OR name = \(key) ORDER BY id = \(key) DESC LIMIT 1",
                logger: logger, AlertRows.rule)
        }
    }

    public func setAlertRuleOffline(id: String, from: Date?, to: Date?, event: AlertEvent) async throws -> Bool {
        try await transaction { connection in
            let moved = try await Self.row(
                connection,
                """
                UPDATE alert_rules SET offline_since = \(to?.timeIntervalSince1970)
                WHERE id = \(id) AND offline_since IS NOT DISTINCT FROM \(from?.timeIntervalSince1970)::double precision RETURNING id
                """, logger: logger) { try $0.text("id") }
            guard moved != nil else { return false }
            try await insertAlertEvent(connection, event)
            return true
        }
    }

    public func deleteAlertRule(id: String) async throws -> Bool {
        try await transaction { connection in
            try await Self.row(connection, "DELETE FROM alert_rules WHERE id = \(id) RETURNING id", logger: logger) { try $0.text("id") } != nil
        }
    }

    public func alertEvents(limit: Int) async throws -> [AlertEvent] {
        try await transaction { connection in
            try await Self.rows(connection, "SELECT * FROM alert_events ORDER BY at, key LIMIT \(limit)", logger: logger, AlertRows.event)
                .compactMap { $0 }
        }
    }

    public func insertAlertEvents(_ events: [AlertEvent]) async throws {
        guard !events.isEmpty else { return }
        try await transaction { connection in
            for event in events { try await insertAlertEvent(connection, event) }
        }
    }

    public func runs(in states: [FlowRunState], _ time: RunTime, after: Date, through: Date, limit: Int) async throws -> [FlowRun] {
        let column = time == .started ? "started_at" : "COALESCE(scheduled_for, created_at)"
        var builder = PostgresQueryBuilder()
        let sql = """
            SELECT * FROM flow_runs WHERE state IN (\(states.map { builder.bind($0.rawValue) }.joined(separator: ", ")))
                AND \(column) > \(builder.bind(after.timeIntervalSince1970)) AND \(column) <= \(builder.bind(through.timeIntervalSince1970))
            ORDER BY \(column) LIMIT \(builder.bind(limit))
            """
        return try await transaction { connection in
            try await Self.rows(connection, builder.query(sql), logger: logger) { try StoreRows.run($0, history: nil) }
        }
    }

    public func settleAlertEvent(key: String?, deliveries: [NewAlertDelivery]) async throws {
        try await transaction { connection in
            for delivery in deliveries {
                let created = delivery.createdAt.timeIntervalSince1970
                try await connection.query(
                    """
                    INSERT INTO alert_deliveries (id, rule_id, rule_name, event, run_id, target, payload, status, attempts, created_at,
                        next_attempt_at)
                    VALUES (\(delivery.id), \(delivery.ruleID), \(delivery.ruleName), \(delivery.event), \(delivery.runID),
                        \(try StoreJSON.text(delivery.target)), \(delivery.payload), \(AlertDeliveryStatus.pending.rawValue), 0, \(created),
                        \(created))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
            if let key { try await connection.query("DELETE FROM alert_events WHERE key = \(key)", logger: logger) }
        }
    }

    public func claimDueAlertDeliveries(now: Date, leaseUntil: Date, limit: Int) async throws -> [DueAlertDelivery] {
        try await transaction { connection in
            // SKIP LOCKED: a delivery another coordinator is taking now is left to it.
            try await Self.rows(
                connection,
                """
                UPDATE alert_deliveries SET next_attempt_at = \(leaseUntil.timeIntervalSince1970)
                WHERE id IN (
                    SELECT id FROM alert_deliveries
                    WHERE status = \(AlertDeliveryStatus.pending.rawValue) AND next_attempt_at <= \(now.timeIntervalSince1970)
                    ORDER BY next_attempt_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING *
                """, logger: logger, AlertRows.due)
        }
    }

    public func recordAlertAttempt(_ attempt: AlertAttempt) async throws {
        try await execute(
            """
            UPDATE alert_deliveries SET status = \(attempt.outcome.rawValue), attempts = attempts + 1,
                last_status = \(attempt.status.map(Double.init)), last_error = \(attempt.error),
                delivered_at = \(attempt.error == nil ? attempt.at.timeIntervalSince1970 : nil),
                next_attempt_at = COALESCE(\(attempt.retryAt?.timeIntervalSince1970), next_attempt_at)
            WHERE id = \(attempt.deliveryID) AND status = \(AlertDeliveryStatus.pending.rawValue)
            """)
    }

    public func alertDeliveries(ruleID: String?, limit: Int) async throws -> [AlertDelivery] {
        try await transaction { connection in
            if let ruleID {
                return try await Self.rows(
                    connection, "SELECT * FROM alert_deliveries WHERE rule_id = \(ruleID) ORDER BY created_at DESC, id LIMIT \(limit)",
                    logger: logger, AlertRows.delivery)
            }
            return try await Self.rows(
                connection, "SELECT * FROM alert_deliveries ORDER BY created_at DESC, id LIMIT \(limit)", logger: logger, AlertRows.delivery)
        }
    }
}
