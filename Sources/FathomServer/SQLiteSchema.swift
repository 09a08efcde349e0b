import FathomAPI
import FathomCore
import Foundation
import GRDB

/// The SQLite schema, as ordered migrations.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE flows (name TEXT PRIMARY KEY, created_at REAL NOT NULL);
                CREATE TABLE flow_versions (
                    id TEXT PRIMARY KEY, flow_name TEXT NOT NULL REFERENCES flows(name), version INTEGER NOT NULL,
                    bundle_sha256 TEXT NOT NULL, storage_url TEXT NOT NULL, summary TEXT NOT NULL, parameters TEXT NOT NULL,
                    run_config TEXT NOT NULL, labels TEXT NOT NULL, queue TEXT NOT NULL, created_at REAL NOT NULL,
                    UNIQUE (flow_name, version));
                CREATE TABLE flow_runs (
                    id TEXT PRIMARY KEY, flow_name TEXT NOT NULL, version_id TEXT NOT NULL REFERENCES flow_versions(id),
                    flow_version INTEGER NOT NULL, parameters TEXT NOT NULL, state TEXT NOT NULL, state_message TEXT NOT NULL,
                    queue TEXT NOT NULL, agent_id TEXT, idempotency_key TEXT UNIQUE, lease_expires_at REAL,
                    heartbeat_at REAL, created_at REAL NOT NULL, updated_at REAL NOT NULL, started_at REAL, ended_at REAL,
                    infrastructure TEXT NOT NULL DEFAULT '{}', log_seq INTEGER NOT NULL DEFAULT 0);
                CREATE INDEX flow_runs_by_queue ON flow_runs (queue, state, created_at);
                CREATE INDEX flow_runs_by_flow ON flow_runs (flow_name, created_at);
                CREATE INDEX flow_runs_by_state ON flow_runs (state, created_at);
                CREATE INDEX flow_runs_by_agent ON flow_runs (agent_id, state);
                CREATE TABLE state_history (
                    run_id TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL, message TEXT NOT NULL, at REAL NOT NULL,
                    PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
                CREATE TABLE task_runs (
                    id TEXT PRIMARY KEY, run_id TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL, attempt INTEGER NOT NULL,
                    started_at REAL, ended_at REAL, message TEXT, result TEXT);
                CREATE INDEX task_runs_by_run ON task_runs (run_id);
                CREATE TABLE logs (
                    run_id TEXT NOT NULL, seq INTEGER NOT NULL, ts REAL NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL,
                    task_run_id TEXT, source TEXT NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
                CREATE TABLE agents (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, queue TEXT NOT NULL, labels TEXT NOT NULL, launcher TEXT NOT NULL,
                    last_seen_at REAL NOT NULL, created_at REAL NOT NULL);
                """)
        }
        migrator.registerMigration("v2-schedules-retries-limits") { db in
            try db.execute(sql: """
                ALTER TABLE flow_versions ADD COLUMN retry_policy TEXT;
                ALTER TABLE flow_runs ADD COLUMN schedule_id TEXT;
                ALTER TABLE flow_runs ADD COLUMN scheduled_for REAL;
                ALTER TABLE flow_runs ADD COLUMN late INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE flow_runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
                ALTER TABLE flow_runs ADD COLUMN retry_of TEXT;
                -- One run per schedule slot and one run per attempt, whoever (which server, which restart) makes it.
                CREATE UNIQUE INDEX flow_runs_schedule_slot ON flow_runs (schedule_id, scheduled_for) WHERE schedule_id IS NOT NULL;
                CREATE UNIQUE INDEX flow_runs_attempt ON flow_runs (retry_of, attempt) WHERE retry_of IS NOT NULL;
                CREATE INDEX flow_runs_due ON flow_runs (state, scheduled_for);
                CREATE TABLE schedules (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, flow_name TEXT NOT NULL, cron TEXT, timezone TEXT,
                    interval_seconds REAL, anchor REAL, parameters TEXT NOT NULL, paused INTEGER NOT NULL DEFAULT 0,
                    created_at REAL NOT NULL, updated_at REAL NOT NULL, last_error TEXT);
                CREATE TABLE concurrency_limits (
                    scope TEXT NOT NULL, name TEXT NOT NULL, max_active INTEGER NOT NULL, PRIMARY KEY (scope, name)) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v3-write-probe") { db in
            // One row /readyz rewrites, to prove the database takes writes.
            try db.execute(sql: "CREATE TABLE write_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at REAL NOT NULL)")
        }
        migrator.registerMigration("v4-agent-instances") { db in
            // Which process of an agent name is live, and where: a second one is refused while it is.
            try db.execute(sql: "ALTER TABLE agents ADD COLUMN instance TEXT")
            try db.execute(sql: "ALTER TABLE agents ADD COLUMN host TEXT")
        }
        migrator.registerMigration("v5-late-lines-revivable-runs") { db in
            // A line of the process's own output that the agent delivered after the run had ended.
            try db.execute(sql: "ALTER TABLE logs ADD COLUMN late INTEGER NOT NULL DEFAULT 0")
            // A run crashed on silence alone, which its own heartbeat may bring back.
            try db.execute(sql: "ALTER TABLE flow_runs ADD COLUMN revivable INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v6-resume") { db in
            // The attempt a run resumes, and each task run's cache key and the run a Cached task took its result from.
            try db.execute(sql: "ALTER TABLE flow_runs ADD COLUMN resume_of TEXT")
            try db.execute(sql: "ALTER TABLE task_runs ADD COLUMN cache_key TEXT")
            try db.execute(sql: "ALTER TABLE task_runs ADD COLUMN cached_from TEXT")
        }
        migrator.registerMigration("v7-task-outputs") { db in
            // The files a task declared as outputs (JSON: path, size, modification time), checked before reuse.
            try db.execute(sql: "ALTER TABLE task_runs ADD COLUMN outputs TEXT")
        }
        migrator.registerMigration("v8-end-cause-overrides") { db in
            // Why a run ended as its launcher saw it, and the launch settings a retry rule chose for it (JSON).
            try db.execute(sql: "ALTER TABLE flow_runs ADD COLUMN end_cause TEXT")
            try db.execute(sql: "ALTER TABLE flow_runs ADD COLUMN overrides TEXT")
        }
        migrator.registerMigration("v9-result-refs") { db in
            // Where a task's result too large for the coordinator is kept (JSON: url, size, sha256).
            try db.execute(sql: "ALTER TABLE task_runs ADD COLUMN result_ref TEXT")
        }
        return migrator
    }
}

/// JSON columns, written with the API's coders.
enum SQLiteJSON {
    static func text<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try APICoding.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try APICoding.decode(type, from: Data(text.utf8))
    }
}

/// Row → API type mapping.
enum SQLiteRows {
    static func version(_ row: Row) throws -> FlowVersion {
        FlowVersion(
            id: row["id"], flowName: row["flow_name"], version: row["version"], bundleSHA256: row["bundle_sha256"],
            storageURL: row["storage_url"], summary: row["summary"],
            parameters: try SQLiteJSON.decode([ParameterSpec].self, row["parameters"]),
            runConfig: try SQLiteJSON.decode(RunConfig.self, row["run_config"]),
            labels: try SQLiteJSON.decode([String: String].self, row["labels"]), queue: row["queue"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            retryPolicy: try (row["retry_policy"] as String?).map { try SQLiteJSON.decode(RunRetryPolicy.self, $0) })
    }

    static func run(_ row: Row, history: [StateChange]?) throws -> FlowRun {
        func date(_ column: String) -> Date? { (row[column] as Double?).map(Date.init(timeIntervalSince1970:)) }
        return FlowRun(
            id: row["id"], flowName: row["flow_name"], flowVersion: row["flow_version"], versionID: row["version_id"],
            parameters: try SQLiteJSON.decode([String: JSONValue].self, row["parameters"]),
            state: FlowRunState(rawValue: row["state"]) ?? .crashed, stateMessage: row["state_message"], queue: row["queue"],
            agentID: row["agent_id"], createdAt: date("created_at")!, updatedAt: date("updated_at")!,
            startedAt: date("started_at"), endedAt: date("ended_at"), heartbeatAt: date("heartbeat_at"),
            infrastructure: try SQLiteJSON.decode([String: String].self, row["infrastructure"]), history: history,
            scheduleID: row["schedule_id"], scheduledFor: date("scheduled_for"), late: row["late"], attempt: row["attempt"],
            retryOf: row["retry_of"], resumeOf: row["resume_of"],
            endCause: (row["end_cause"] as String?).flatMap(EndCause.init(rawValue:)),
            overrides: try (row["overrides"] as String?).map { try SQLiteJSON.decode(RunOverrides.self, $0) }.flatMap { $0.isValid ? $0 : nil })
    }

    static func schedule(_ row: Row) throws -> Schedule {
        Schedule(
            id: row["id"], name: row["name"], flowName: row["flow_name"], cron: row["cron"], timezone: row["timezone"],
            intervalSeconds: row["interval_seconds"], anchor: (row["anchor"] as Double?).map(Date.init(timeIntervalSince1970:)),
            parameters: try SQLiteJSON.decode([String: JSONValue].self, row["parameters"]), paused: row["paused"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]), updatedAt: Date(timeIntervalSince1970: row["updated_at"]),
            lastError: row["last_error"])
    }
}
