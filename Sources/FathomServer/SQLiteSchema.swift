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
        migrator.registerMigration("v10-alerts") { db in
            // Alert rules, the outbox of events they fire on, and the deliveries with their attempts.
            for statement in AlertSchema.statements { try db.execute(sql: statement) }
        }
        migrator.registerMigration("v11-tags") { db in
            // A run's tags, and the tags an alert rule asks for (JSON arrays).
            for statement in TagSchema.statements { try db.execute(sql: statement) }
        }
        migrator.registerMigration("v12-log-batches") { db in
            // The log batch ids each run has accepted: a batch sent again is not stored twice.
            try db.execute(sql: StoreSQL.logBatchesTable)
        }
        return migrator
    }
}

/// GRDB's rows as the shared mappings read them.
extension Row: StoreRow {
    func text(_ column: String) throws -> String {
        guard let value: String = self[column] else { throw StoreError.conflict("column '\(column)' is empty in the database") }
        return value
    }

    func optionalText(_ column: String) throws -> String? { self[column] }

    func real(_ column: String) throws -> Double {
        guard let value: Double = self[column] else { throw StoreError.conflict("column '\(column)' is empty in the database") }
        return value
    }

    func optionalReal(_ column: String) throws -> Double? { self[column] }

    func integer(_ column: String) throws -> Int {
        guard let value: Int = self[column] else { throw StoreError.conflict("column '\(column)' is empty in the database") }
        return value
    }

    func flag(_ column: String) throws -> Bool { (self[column] as Bool?) ?? false }
}
