import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL schema, as ordered migrations. They run when a coordinator starts, inside one transaction that
/// holds an advisory lock, so that servers starting together migrate once and none sees a half-made schema.
enum PostgresSchema {
    /// The advisory lock key migrations hold (any constant; "fathom" in ASCII).
    static let migrationLock: Int64 = 0x6661_7468_6f6d

    /// Each migration: a name, recorded in `fathom_migrations` once applied, and its statements.
    static let migrations: [(name: String, statements: [String])] = [
        ("v1", [
            "CREATE TABLE flows (name TEXT PRIMARY KEY, created_at DOUBLE PRECISION NOT NULL)",
            """
            CREATE TABLE flow_versions (
                id TEXT PRIMARY KEY, flow_name TEXT NOT NULL REFERENCES flows(name), version BIGINT NOT NULL,
                bundle_sha256 TEXT NOT NULL, storage_url TEXT NOT NULL, summary TEXT NOT NULL, parameters TEXT NOT NULL,
                run_config TEXT NOT NULL, labels TEXT NOT NULL, queue TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
                retry_policy TEXT, UNIQUE (flow_name, version))
            """,
            """
            CREATE TABLE flow_runs (
                seq BIGSERIAL UNIQUE, id TEXT PRIMARY KEY, flow_name TEXT NOT NULL,
                version_id TEXT NOT NULL REFERENCES flow_versions(id), flow_version BIGINT NOT NULL, parameters TEXT NOT NULL,
                state TEXT NOT NULL, state_message TEXT NOT NULL, queue TEXT NOT NULL, agent_id TEXT,
                idempotency_key TEXT UNIQUE, lease_expires_at DOUBLE PRECISION, heartbeat_at DOUBLE PRECISION,
                created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL, started_at DOUBLE PRECISION,
                ended_at DOUBLE PRECISION, infrastructure TEXT NOT NULL DEFAULT '{}', log_seq BIGINT NOT NULL DEFAULT 0,
                schedule_id TEXT, scheduled_for DOUBLE PRECISION, late BOOLEAN NOT NULL DEFAULT FALSE,
                attempt BIGINT NOT NULL DEFAULT 1, retry_of TEXT, revivable BOOLEAN NOT NULL DEFAULT FALSE, resume_of TEXT,
                end_cause TEXT, overrides TEXT)
            """,
            "CREATE INDEX flow_runs_by_queue ON flow_runs (queue, state, created_at)",
            "CREATE INDEX flow_runs_by_flow ON flow_runs (flow_name, created_at)",
            "CREATE INDEX flow_runs_by_state ON flow_runs (state, created_at)",
            "CREATE INDEX flow_runs_by_agent ON flow_runs (agent_id, state)",
            "CREATE INDEX flow_runs_due ON flow_runs (state, scheduled_for)",
            // One run per schedule slot and one run per attempt, whichever coordinator makes it.
            "CREATE UNIQUE INDEX flow_runs_schedule_slot ON flow_runs (schedule_id, scheduled_for) WHERE schedule_id IS NOT NULL",
            "CREATE UNIQUE INDEX flow_runs_attempt ON flow_runs (retry_of, attempt) WHERE retry_of IS NOT NULL",
            """
            CREATE TABLE state_history (
                run_id TEXT NOT NULL, seq BIGINT NOT NULL, state TEXT NOT NULL, message TEXT NOT NULL,
                at DOUBLE PRECISION NOT NULL, PRIMARY KEY (run_id, seq))
            """,
            """
            CREATE TABLE task_runs (
                seq BIGSERIAL UNIQUE, id TEXT PRIMARY KEY, run_id TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,
                attempt BIGINT NOT NULL, started_at DOUBLE PRECISION, ended_at DOUBLE PRECISION, message TEXT, result TEXT,
                cache_key TEXT, cached_from TEXT, outputs TEXT, result_ref TEXT)
            """,
            "CREATE INDEX task_runs_by_run ON task_runs (run_id, seq)",
            """
            CREATE TABLE logs (
                run_id TEXT NOT NULL, seq BIGINT NOT NULL, ts DOUBLE PRECISION NOT NULL, level TEXT NOT NULL,
                message TEXT NOT NULL, task_run_id TEXT, source TEXT NOT NULL, late BOOLEAN NOT NULL DEFAULT FALSE,
                PRIMARY KEY (run_id, seq))
            """,
            """
            CREATE TABLE agents (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, queue TEXT NOT NULL, labels TEXT NOT NULL, launcher TEXT NOT NULL,
                last_seen_at DOUBLE PRECISION NOT NULL, created_at DOUBLE PRECISION NOT NULL, instance TEXT, host TEXT)
            """,
            """
            CREATE TABLE schedules (
                id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, flow_name TEXT NOT NULL, cron TEXT, timezone TEXT,
                interval_seconds DOUBLE PRECISION, anchor DOUBLE PRECISION, parameters TEXT NOT NULL,
                paused BOOLEAN NOT NULL DEFAULT FALSE, created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL, last_error TEXT)
            """,
            """
            CREATE TABLE concurrency_limits (
                scope TEXT NOT NULL, name TEXT NOT NULL, max_active BIGINT NOT NULL, PRIMARY KEY (scope, name))
            """,
            "CREATE TABLE write_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at DOUBLE PRECISION NOT NULL)",
        ]),
        // Alert rules, the outbox of events they fire on, and the deliveries with their attempts.
        ("v2-alerts", AlertSchema.statements),
        ("v3-tags", TagSchema.statements),
        // The log batch ids each run has accepted: a batch sent again is not stored twice.
        ("v4-log-batches", [StoreSQL.logBatchesTable]),
    ]

    /// Applies the migrations not yet recorded, under the advisory lock; returns the names it applied.
    @discardableResult
    static func migrate(_ client: PostgresClient, logger: Logger) async throws -> [String] {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS fathom_migrations (name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)",
                logger: logger)
            var applied: Set<String> = []
            for try await name in try await connection.query("SELECT name FROM fathom_migrations", logger: logger).decode(String.self) {
                applied.insert(name)
            }
            var made: [String] = []
            for migration in migrations where !applied.contains(migration.name) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                let now = Date().timeIntervalSince1970
                try await connection.query(
                    "INSERT INTO fathom_migrations (name, applied_at) VALUES (\(migration.name), \(now))", logger: logger)
                made.append(migration.name)
            }
            return made
        }
    }
}

/// A PostgreSQL row as the shared mappings read it. A missing column is an error, never a trap.
struct PostgresStoreRow: StoreRow {
    let row: PostgresRandomAccessRow

    init(_ row: PostgresRow) {
        self.row = row.makeRandomAccess()
    }

    private func cell(_ column: String) throws -> PostgresCell {
        guard row.contains(column) else { throw StoreError.conflict("the database row has no column '\(column)'") }
        return row[column]
    }

    func text(_ column: String) throws -> String { try cell(column).decode(String.self) }
    func optionalText(_ column: String) throws -> String? { try cell(column).decode(String?.self) }
    func real(_ column: String) throws -> Double { try cell(column).decode(Double.self) }
    func optionalReal(_ column: String) throws -> Double? { try cell(column).decode(Double?.self) }
    func integer(_ column: String) throws -> Int { try cell(column).decode(Int.self) }
    func flag(_ column: String) throws -> Bool { try cell(column).decode(Bool.self) }
}
