import FathomAPI
import FathomCore
import Foundation
import Logging
import PostgresNIO

/// The coordinator's store on PostgreSQL, for several coordinators sharing one database (RDS, Aurora).
///
/// The same columns as ``SQLiteStore`` (times as epoch seconds, JSON as text), so one mapping (``StoreRows``) reads
/// both. Each method is one transaction. Claims lock the runs they hand out with `FOR UPDATE SKIP LOCKED`, so claims
/// through several coordinators never wait for each other's candidates nor take the same run; with concurrency
/// limits in force they count active runs under an advisory lock.
public final class PostgresStore: Store {
    let client: PostgresClient
    let logger: Logger
    private let running: Task<Void, Never>

    /// Connects (a pool of up to `maximumConnections`) and migrates the schema under an advisory lock.
    public static func connect(_ settings: PostgresSettings, maximumConnections: Int = 20, logger: Logger) async throws -> PostgresStore {
        let client = PostgresClient(configuration: settings.clientConfiguration(maximumConnections: maximumConnections), backgroundLogger: logger)
        let store = PostgresStore(client: client, logger: logger)
        do {
            try await PostgresSchema.migrate(client, logger: logger)
        } catch {
            await store.shutdown()
            throw error
        }
        return store
    }

    private init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        running = Task { await client.run() }
    }

    deinit {
        running.cancel()
    }

    /// Closes the pool.
    public func shutdown() async {
        running.cancel()
        _ = await running.value
    }

    /// Runs `body` in one transaction; an error `body` throws comes out as itself (the rollback done).
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let closureError = error.closureError { throw closureError }
            throw error
        }
    }

    /// Runs one statement, atomic by itself, and drops its rows.
    func execute(_ query: PostgresQuery) async throws {
        _ = try await client.query(query, logger: logger)
    }

    /// All rows of a query, mapped.
    static func rows<T>(_ connection: PostgresConnection, _ query: PostgresQuery, logger: Logger, _ map: (PostgresStoreRow) throws -> T) async throws -> [T] {
        var mapped: [T] = []
        for try await row in try await connection.query(query, logger: logger) { mapped.append(try map(PostgresStoreRow(row))) }
        return mapped
    }

    /// The first row of a query, mapped; nil when there is none.
    static func row<T>(_ connection: PostgresConnection, _ query: PostgresQuery, logger: Logger, _ map: (PostgresStoreRow) throws -> T) async throws -> T? {
        for try await row in try await connection.query(query, logger: logger) { return try map(PostgresStoreRow(row)) }
        return nil
    }

    /// Proves the database takes writes now (`/readyz`).
    public func checkWritable() async throws {
        let now = Date().timeIntervalSince1970
        try await client.query(
            "INSERT INTO write_probe (id, at) VALUES (1, \(now)) ON CONFLICT (id) DO UPDATE SET at = excluded.at", logger: logger)
    }
}

// MARK: Flows

extension PostgresStore: FlowVersionStore {
    public func insertVersions(_ versions: [FlowVersion]) async throws -> [FlowVersion] {
        try await transaction { connection in
            var stored: [FlowVersion] = []
            for var version in versions {
                let created = version.createdAt.timeIntervalSince1970
                try await connection.query(
                    "INSERT INTO flows (name, created_at) VALUES (\(version.flowName), \(created)) ON CONFLICT DO NOTHING", logger: logger)
                // The flow's row, locked: two coordinators registering one flow number its versions one after the other.
                try await connection.query("SELECT name FROM flows WHERE name = \(version.flowName) FOR UPDATE", logger: logger)
                let last = try await Self.row(
                    connection, "SELECT COALESCE(MAX(version), 0) AS last FROM flow_versions WHERE flow_name = \(version.flowName)",
                    logger: logger) { try $0.integer("last") } ?? 0
                version.version = last + 1
                let retryPolicy = try version.retryPolicy.map { try StoreJSON.text($0) }
                try await connection.query(
                    """
                    INSERT INTO flow_versions (id, flow_name, version, bundle_sha256, storage_url, summary, parameters, run_config,
                        labels, queue, created_at, retry_policy)
                    VALUES (\(version.id), \(version.flowName), \(version.version), \(version.bundleSHA256), \(version.storageURL),
                        \(version.summary), \(try StoreJSON.text(version.parameters)), \(try StoreJSON.text(version.runConfig)),
                        \(try StoreJSON.text(version.labels)), \(version.queue), \(created), \(retryPolicy))
                    """, logger: logger)
                stored.append(version)
            }
            return stored
        }
    }

    public func flowNames() async throws -> [String] {
        try await transaction { connection in
            try await Self.rows(connection, "SELECT name FROM flows ORDER BY name", logger: logger) { try $0.text("name") }
        }
    }

    public func versions(flowName: String) async throws -> [FlowVersion] {
        try await transaction { connection in
            try await Self.rows(
                connection, "SELECT * FROM flow_versions WHERE flow_name = \(flowName) ORDER BY version DESC", logger: logger,
                StoreRows.version)
        }
    }

    public func version(flowName: String, number: Int?) async throws -> FlowVersion? {
        try await transaction { connection in
            if let number {
                return try await Self.row(
                    connection, "SELECT * FROM flow_versions WHERE flow_name = \(flowName) AND version = \(number)", logger: logger,
                    StoreRows.version)
            }
            return try await Self.row(
                connection, "SELECT * FROM flow_versions WHERE flow_name = \(flowName) ORDER BY version DESC LIMIT 1", logger: logger,
                StoreRows.version)
        }
    }

    public func version(id: String) async throws -> FlowVersion? {
        try await transaction { connection in
            try await Self.row(connection, "SELECT * FROM flow_versions WHERE id = \(id)", logger: logger, StoreRows.version)
        }
    }
}

// MARK: Changes between coordinators

extension PostgresStore: SharedChanges {
    /// The channel coordinators sharing this database NOTIFY and LISTEN on.
    static let changeChannel = "fathom_changes"

    public func publish(_ topics: [String]) async throws {
        guard !topics.isEmpty else { return }
        try await execute("SELECT pg_notify(\(Self.changeChannel), topic) FROM UNNEST(\(topics)::text[]) AS topic")
    }

    public func listen(listening: @Sendable () -> Void, receive: @Sendable (String) -> Void) async throws {
        try await client.withConnection { connection in
            try await connection.listen(on: Self.changeChannel) { notifications in
                listening()
                for try await notification in notifications { receive(notification.payload) }
            }
        }
    }
}
