import FathomAPI
import FathomCore
import FathomServer
import FathomStorage
import Foundation
import Logging
import Synchronization

/// A clock a test moves by hand.
final class TestClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date) { current = Mutex(start) }

    var now: Date { current.withLock { $0 } }
    func set(_ date: Date) { current.withLock { $0 = date } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// A coordinator over a real SQLite file, with a test clock: for schedules, retries and limits.
struct ClockedCoordinator {
    let coordinator: Coordinator
    let store: any Store

    /// Opens `database` (a new store each time: a restart), sharing `clock`; with `kind` `.memory`, a new empty
    /// in-memory store instead (no restart survives it); with `.postgres`, a PostgreSQL database that stands for
    /// `database` (the same path opens the same database again: a restart).
    init(
        database: String, clock: TestClock, settings given: CoordinatorSettings = CoordinatorSettings(), store kind: StoreKind = .sqlite
    ) async throws {
        var settings = given
        settings.bundleURLPrefixes.append("file:///nowhere/")
        switch kind {
        case .sqlite: store = try SQLiteStore(path: database)
        case .memory: store = InMemoryStore()
        case .postgres:
            var logger = Logger(label: "test.postgres")
            logger.logLevel = .error
            let url = try await PostgresDatabases.shared.url(standingFor: database)
            store = try await PostgresStore.connect(try PostgresSettings(url: url), maximumConnections: 4, logger: logger)
        }
        let storage = try LocalFlowStorage(root: (database as NSString).deletingLastPathComponent + "/bundles")
        var logger = Logger(label: "test.clocked")
        logger.logLevel = .critical
        coordinator = Coordinator(store: store, storage: storage, settings: settings, logger: logger, clock: { clock.now })
    }

    /// Registers flows with no bundle behind them (the storage URL is given, so nothing is uploaded).
    @discardableResult
    func register(_ flows: [FlowDescription], retryPolicy: RunRetryPolicy? = nil, queue: String? = nil) async throws -> [FlowVersion] {
        try await coordinator.register(RegisterFlowsRequest(
            bundleSHA256: String(repeating: "ab", count: 32), storageURL: "file:///nowhere/bundle", flows: flows,
            queue: queue, retryPolicy: retryPolicy))
    }

    /// Every run of a schedule, oldest slot first.
    func runs(ofSchedule id: String) async throws -> [FlowRun] {
        try await store.runs(RunFilter(scheduleID: id, limit: 10_000)).runs.sorted { ($0.scheduledFor ?? .distantPast) < ($1.scheduledFor ?? .distantPast) }
    }
}

/// The PostgreSQL databases that stand for SQLite paths in tests that restart a coordinator on "the same file".
actor PostgresDatabases {
    static let shared = PostgresDatabases()
    private var urls: [String: String] = [:]

    func url(standingFor path: String) async throws -> String {
        if let url = urls[path] { return url }
        let url = try await PostgresServer.shared().createDatabase()
        urls[path] = url
        return url
    }
}

/// ISO 8601 dates in tests: `date("2026-03-29T01:30:00Z")`.
func date(_ text: String) -> Date {
    try! Date(text, strategy: .iso8601)
}
