import FathomCore
import Foundation
import GRDB
import Logging
import PostgresNIO

/// `fathom db migrate-from-sqlite`: copies an embedded coordinator's database into an empty PostgreSQL one, table by
/// table, in one PostgreSQL transaction (all or nothing), checking each table's row count before it commits.
public enum SQLiteToPostgres {
    /// How a column's SQLite value becomes a PostgreSQL one.
    enum Kind: Sendable { case text, real, integer, flag }

    /// A table and its columns, in the order rows are read (the order flow runs and task runs are listed in).
    struct Table: Sendable {
        let name: String
        let columns: [(name: String, kind: Kind)]
        let order: String
    }

    static func columns(_ text: String) -> [(name: String, kind: Kind)] {
        text.split(separator: " ").map { spec in
            let parts = spec.split(separator: ":")
            let kind: Kind = switch parts.count > 1 ? parts[1] : "t" {
            case "r": .real
            case "i": .integer
            case "b": .flag
            default: .text
            }
            return (String(parts[0]), kind)
        }
    }

    /// Every table, parents first. `:r` real, `:i` integer, `:b` boolean, else text.
    static let tables: [Table] = [
        Table(name: "flows", columns: columns("name created_at:r"), order: "rowid"),
        Table(
            name: "flow_versions",
            columns: columns("id flow_name version:i bundle_sha256 storage_url summary parameters run_config labels queue created_at:r retry_policy"),
            order: "rowid"),
        Table(
            name: "flow_runs",
            columns: columns("""
                id flow_name version_id flow_version:i parameters state state_message queue agent_id idempotency_key lease_expires_at:r \
                heartbeat_at:r created_at:r updated_at:r started_at:r ended_at:r infrastructure log_seq:i schedule_id scheduled_for:r late:b \
                attempt:i retry_of revivable:b resume_of end_cause overrides tags
                """),
            order: "rowid"),
        Table(name: "state_history", columns: columns("run_id seq:i state message at:r"), order: "run_id, seq"),
        Table(
            name: "task_runs",
            columns: columns("id run_id name state attempt:i started_at:r ended_at:r message result cache_key cached_from outputs result_ref"),
            order: "rowid"),
        Table(name: "logs", columns: columns("run_id seq:i ts:r level message task_run_id source late:b"), order: "run_id, seq"),
        Table(name: "log_batches", columns: columns("run_id batch_id accepted:i last_seq:i"), order: "run_id, batch_id"),
        Table(name: "agents", columns: columns("id name queue labels launcher last_seen_at:r created_at:r instance host"), order: "rowid"),
        Table(
            name: "schedules",
            columns: columns("id name flow_name cron timezone interval_seconds:r anchor:r parameters paused:b created_at:r updated_at:r last_error"),
            order: "rowid"),
        Table(name: "concurrency_limits", columns: columns("scope name max_active:i"), order: "scope, name"),
        Table(name: "alert_rules", columns: columns("""
                id name triggers flows targets created_at:r running_longer_than:r not_started_within:r consecutive_failures:r \
                agent_offline_seconds:r queue launcher offline_since:r tags
                """), order: "rowid"),
        Table(name: "alert_events", columns: columns("key run_id trigger at:r rule_id"), order: "rowid"),
        Table(
            name: "alert_deliveries",
            columns: columns("""
                id rule_id rule_name event run_id target payload status attempts:i last_status:r last_error created_at:r delivered_at:r                 next_attempt_at:r
                """),
            order: "rowid"),
    ]

    /// Rows per INSERT statement.
    static let batchRows = 500

    /// Copies every table of the SQLite database at `path` (brought to the current schema first, as a server
    /// start would) into `store`'s database, which must hold no flows yet; returns each table's row count.
    public static func copy(
        sqlitePath path: String, to store: PostgresStore, progress: @Sendable (String, Int) -> Void = { _, _ in }
    ) async throws -> [(table: String, rows: Int)] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError(
                code: "not_found", field: "PATH", problem: "there is no SQLite database at \(path)",
                fix: "Name the coordinator's fathom.sqlite (in its --data-dir, ~/.fathom by default).")
        }
        let source = try SQLiteStore(path: path)
        return try await store.transaction { connection in
            let existing = try await PostgresStore.row(connection, "SELECT COUNT(*) AS n FROM flows", logger: store.logger) { try $0.integer("n") } ?? 0
            guard existing == 0 else {
                throw ValidationError(
                    code: "database_not_empty", field: "--database",
                    problem: "the PostgreSQL database already holds \(existing) flows",
                    fix: "Migrate into a new, empty database (createdb), so that nothing is mixed or overwritten.")
            }
            var counts: [(table: String, rows: Int)] = []
            // One read transaction: a consistent snapshot even if a server still writes the file.
            let snapshot = try await source.pool.read { db in
                try tables.map { table in
                    let names = table.columns.map(\.name).joined(separator: ", ")
                    let rows = try Row.fetchAll(db, sql: "SELECT \(names) FROM \(table.name) ORDER BY \(table.order)")
                    return (table, rows.map { row in table.columns.indices.map { row[$0] as DatabaseValue } })
                }
            }
            for (table, rows) in snapshot {
                for start in stride(from: 0, to: rows.count, by: batchRows) {
                    try await insert(rows[start..<min(start + batchRows, rows.count)], into: table, connection: connection, logger: store.logger)
                }
                let copied = try await PostgresStore.row(
                    connection, PostgresQuery(unsafeSQL: "SELECT COUNT(*) AS n FROM \(table.name)"), logger: store.logger) { try $0.integer("n") } ?? -1
                guard copied == rows.count else {
                    throw StoreError.conflict("\(table.name): \(rows.count) rows read, \(copied) in PostgreSQL; nothing was committed")
                }
                counts.append((table.name, rows.count))
                progress(table.name, rows.count)
            }
            // The sequences behind flow_runs.seq and task_runs.seq continue after the copied rows.
            for table in ["flow_runs", "task_runs"] {
                try await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT setval(pg_get_serial_sequence('\(table)', 'seq'), COALESCE((SELECT MAX(seq) FROM \(table)), 0) + 1, false)"),
                    logger: store.logger)
            }
            return counts
        }
    }

    static func insert(_ rows: ArraySlice<[DatabaseValue]>, into table: Table, connection: PostgresConnection, logger: Logger) async throws {
        guard !rows.isEmpty else { return }
        var bindings = PostgresBindings(capacity: rows.count * table.columns.count)
        var tuples: [String] = []
        for row in rows {
            var marks: [String] = []
            for (index, column) in table.columns.enumerated() {
                try bind(row[index], as: column.kind, column: "\(table.name).\(column.name)", into: &bindings)
                marks.append("$\(bindings.count)")
            }
            tuples.append("(" + marks.joined(separator: ", ") + ")")
        }
        let names = table.columns.map(\.name).joined(separator: ", ")
        try await connection.query(
            PostgresQuery(unsafeSQL: "INSERT INTO \(table.name) (\(names)) VALUES \(tuples.joined(separator: ", "))", binds: bindings),
            logger: logger)
    }

    static func bind(_ value: DatabaseValue, as kind: Kind, column: String, into bindings: inout PostgresBindings) throws {
        switch (value.storage, kind) {
        case (.null, .text): bindings.append(String?.none)
        case (.null, .real): bindings.append(Double?.none)
        case (.null, .integer): bindings.append(Int64?.none)
        case (.null, .flag): bindings.append(Bool?.none)
        case (.string(let text), .text): bindings.append(text)
        case (.double(let number), .real): bindings.append(number)
        case (.int64(let number), .real): bindings.append(Double(number))
        case (.int64(let number), .integer): bindings.append(number)
        case (.int64(let number), .flag): bindings.append(number != 0)
        default: throw StoreError.conflict("\(column) holds \(value), which is not what Fathom writes there; nothing was committed")
        }
    }
}
