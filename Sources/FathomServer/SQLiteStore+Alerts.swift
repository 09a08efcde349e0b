import FathomAlerts
import FathomAPI
import FathomCore
import Foundation
import GRDB

extension SQLiteStore {
    /// Writes the outbox event of a change, in the caller's transaction; a second write of one event is a no-op.
    static func insertAlertEvent(_ db: Database, _ event: AlertEvent) throws {
        try db.execute(
            sql: "INSERT INTO alert_events (key, run_id, trigger, at, rule_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            arguments: [event.key, event.runID, event.trigger.rawValue, event.at.timeIntervalSince1970, event.ruleID])
    }

    public func insertAlertRule(_ rule: StoredAlertRule) async throws {
        do {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO alert_rules (id, name, triggers, flows, targets, created_at, running_longer_than, not_started_within,
                            consecutive_failures, agent_offline_seconds, queue, launcher, tags)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        rule.id, rule.name, try StoreJSON.text(rule.triggers), try StoreJSON.text(rule.flows),
                        try StoreJSON.text(rule.targets), rule.createdAt.timeIntervalSince1970, rule.runningLongerThan, rule.notStartedWithin,
                        rule.consecutiveFailures.map(Double.init), rule.agentOfflineSeconds, rule.queue, rule.launcher?.rawValue,
                        try StoreJSON.text(rule.tags),
                    ])
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw StoreError.conflict("an alert rule named '\(rule.name)' already exists")
        }
    }

    public func alertRules() async throws -> [StoredAlertRule] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM alert_rules ORDER BY name").map(AlertRows.rule) }
    }

    public func alertRule(_ key: String) async throws -> StoredAlertRule? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM alert_rules WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1", arguments: [key, key, key])
                .map(AlertRows.rule)
        }
    }

    public func setAlertRuleOffline(id: String, from: Date?, to: Date?, event: AlertEvent) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE alert_rules SET offline_since = ? WHERE id = ? AND offline_since IS ?",
                arguments: [to?.timeIntervalSince1970, id, from?.timeIntervalSince1970])
            guard db.changesCount == 1 else { return false }
            try Self.insertAlertEvent(db, event)
            return true
        }
    }

    public func deleteAlertRule(id: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM alert_rules WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    public func alertEvents(limit: Int) async throws -> [AlertEvent] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM alert_events ORDER BY at, key LIMIT ?", arguments: [limit]).compactMap(AlertRows.event)
        }
    }

    public func insertAlertEvents(_ events: [AlertEvent]) async throws {
        guard !events.isEmpty else { return }
        try await pool.write { db in
            for event in events { try Self.insertAlertEvent(db, event) }
        }
    }

    public func runs(in states: [FlowRunState], _ time: RunTime, after: Date, through: Date, limit: Int) async throws -> [FlowRun] {
        let column = time == .started ? "started_at" : "COALESCE(scheduled_for, created_at)"
        let marks = Array(repeating: "?", count: states.count).joined(separator: ", ")
        return try await pool.read { db in
            var arguments = StatementArguments(states.map(\.rawValue))
            arguments += [after.timeIntervalSince1970, through.timeIntervalSince1970, limit]
            return try Row.fetchAll(
                db, sql: "SELECT * FROM flow_runs WHERE state IN (\(marks)) AND \(column) > ? AND \(column) <= ? ORDER BY \(column) LIMIT ?",
                arguments: arguments
            ).map { try StoreRows.run($0, history: nil) }
        }
    }

    public func settleAlertEvent(key: String?, deliveries: [NewAlertDelivery]) async throws {
        try await pool.write { db in
            for delivery in deliveries {
                try db.execute(
                    sql: """
                        INSERT INTO alert_deliveries (id, rule_id, rule_name, event, run_id, target, payload, status, attempts,
                            created_at, next_attempt_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT DO NOTHING
                        """,
                    arguments: [
                        delivery.id, delivery.ruleID, delivery.ruleName, delivery.event, delivery.runID, try StoreJSON.text(delivery.target),
                        delivery.payload, AlertDeliveryStatus.pending.rawValue, delivery.createdAt.timeIntervalSince1970,
                        delivery.createdAt.timeIntervalSince1970,
                    ])
            }
            if let key { try db.execute(sql: "DELETE FROM alert_events WHERE key = ?", arguments: [key]) }
        }
    }

    public func claimDueAlertDeliveries(now: Date, leaseUntil: Date, limit: Int) async throws -> [DueAlertDelivery] {
        try await pool.write { db in
            let due = try Row.fetchAll(
                db, sql: "SELECT * FROM alert_deliveries WHERE status = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
                arguments: [AlertDeliveryStatus.pending.rawValue, now.timeIntervalSince1970, limit]
            ).map(AlertRows.due)
            for delivery in due {
                try db.execute(
                    sql: "UPDATE alert_deliveries SET next_attempt_at = ? WHERE id = ?", arguments: [leaseUntil.timeIntervalSince1970, delivery.id])
            }
            return due
        }
    }

    public func recordAlertAttempt(_ attempt: AlertAttempt) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE alert_deliveries SET status = ?, attempts = attempts + 1, last_status = ?, last_error = ?,
                        delivered_at = ?, next_attempt_at = COALESCE(?, next_attempt_at)
                    WHERE id = ? AND status = ?
                    """,
                arguments: [
                    attempt.outcome.rawValue, attempt.status, attempt.error, attempt.error == nil ? attempt.at.timeIntervalSince1970 : nil,
                    attempt.retryAt?.timeIntervalSince1970, attempt.deliveryID, AlertDeliveryStatus.pending.rawValue,
                ])
        }
    }

    public func alertDeliveries(ruleID: String?, limit: Int) async throws -> [AlertDelivery] {
        try await pool.read { db in
            let rows = try ruleID.map {
                try Row.fetchAll(db, sql: "SELECT * FROM alert_deliveries WHERE rule_id = ? ORDER BY created_at DESC, id LIMIT ?", arguments: [$0, limit])
            } ?? Row.fetchAll(db, sql: "SELECT * FROM alert_deliveries ORDER BY created_at DESC, id LIMIT ?", arguments: [limit])
            return try rows.map(AlertRows.delivery)
        }
    }
}
