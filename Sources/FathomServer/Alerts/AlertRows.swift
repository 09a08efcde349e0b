import FathomAlerts
import FathomAPI
import FathomCore
import Foundation

/// The alert tables' rows, read the same way from SQLite and PostgreSQL (the same columns in both).
enum AlertRows {
    static func rule(_ row: some StoreRow) throws -> StoredAlertRule {
        StoredAlertRule(
            id: try row.text("id"), name: try row.text("name"),
            triggers: try StoreJSON.decode([AlertTrigger].self, try row.text("triggers")),
            flows: try StoreJSON.decode([String].self, try row.text("flows")),
            targets: try StoreJSON.decode([StoredAlertTarget].self, try row.text("targets")),
            createdAt: Date(timeIntervalSince1970: try row.real("created_at")),
            runningLongerThan: try row.optionalReal("running_longer_than"), notStartedWithin: try row.optionalReal("not_started_within"),
            consecutiveFailures: try row.optionalReal("consecutive_failures").flatMap { Int(exactly: $0) },
            agentOfflineSeconds: try row.optionalReal("agent_offline_seconds"), queue: try row.optionalText("queue"),
            launcher: try row.optionalText("launcher").flatMap(LauncherKind.init(rawValue:)),
            offlineSince: try row.optionalReal("offline_since").map(Date.init(timeIntervalSince1970:)),
            tags: try StoreJSON.decode([String].self, try row.text("tags")))
    }

    static func event(_ row: some StoreRow) throws -> AlertEvent? {
        // A trigger this version does not know (written by a newer coordinator) is left for that one.
        guard let trigger = AlertTrigger(rawValue: try row.text("trigger")) else { return nil }
        return AlertEvent(
            key: try row.text("key"), runID: try row.optionalText("run_id"), trigger: trigger, at: Date(timeIntervalSince1970: try row.real("at")),
            ruleID: try row.optionalText("rule_id"))
    }

    static func due(_ row: some StoreRow) throws -> DueAlertDelivery {
        DueAlertDelivery(
            id: try row.text("id"), target: try StoreJSON.decode(StoredAlertTarget.self, try row.text("target")),
            payload: try row.text("payload"), attempts: try row.integer("attempts"))
    }

    static func delivery(_ row: some StoreRow) throws -> AlertDelivery {
        func date(_ column: String) throws -> Date? { try row.optionalReal(column).map(Date.init(timeIntervalSince1970:)) }
        let status = AlertDeliveryStatus(rawValue: try row.text("status")) ?? .failed
        return AlertDelivery(
            id: try row.text("id"), ruleID: try row.text("rule_id"), ruleName: try row.text("rule_name"), event: try row.text("event"),
            runID: try row.optionalText("run_id"), target: try StoreJSON.decode(StoredAlertTarget.self, try row.text("target")).shown,
            status: status, attempts: try row.integer("attempts"), lastStatus: try row.optionalReal("last_status").map { Int(exactly: $0.rounded()) ?? 0 },
            lastError: try row.optionalText("last_error"), createdAt: Date(timeIntervalSince1970: try row.real("created_at")),
            deliveredAt: try date("delivered_at"), nextAttemptAt: status == .pending ? try date("next_attempt_at") : nil)
    }
}

/// A run's tags and an alert rule's, added to both stores' tables.
enum TagSchema {
    static let statements = [
        "ALTER TABLE flow_runs ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE alert_rules ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'",
    ]
}

/// The alert tables, as both stores create them (SQLite reads DOUBLE PRECISION and BIGINT as REAL and INTEGER).
enum AlertSchema {
    static let statements = [
        """
        CREATE TABLE alert_rules (
            id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, triggers TEXT NOT NULL, flows TEXT NOT NULL, targets TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL, running_longer_than DOUBLE PRECISION, not_started_within DOUBLE PRECISION,
            consecutive_failures DOUBLE PRECISION, agent_offline_seconds DOUBLE PRECISION, queue TEXT, launcher TEXT,
            offline_since DOUBLE PRECISION)
        """,
        // The outbox: written by the change itself, removed once its deliveries are written.
        """
        CREATE TABLE alert_events (
            key TEXT PRIMARY KEY, run_id TEXT, trigger TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, rule_id TEXT)
        """,
        "CREATE INDEX alert_events_at ON alert_events (at)",
        """
        CREATE TABLE alert_deliveries (
            id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, rule_name TEXT NOT NULL, event TEXT NOT NULL, run_id TEXT,
            target TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,
            last_status DOUBLE PRECISION, last_error TEXT, created_at DOUBLE PRECISION NOT NULL, delivered_at DOUBLE PRECISION,
            next_attempt_at DOUBLE PRECISION NOT NULL)
        """,
        "CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt_at)",
        "CREATE INDEX alert_deliveries_created ON alert_deliveries (created_at)",
        // The deadline sweeps: Running runs by start, waiting runs by due time.
        "CREATE INDEX flow_runs_state_started ON flow_runs (state, started_at)",
    ]
}
