import FathomAPI
import FathomCore
import FathomServer
import Foundation
import Logging

/// The store implementations every conformance test runs against.
enum StoreKind: String, CaseIterable, CustomStringConvertible, Sendable {
    case sqlite
    case memory
    /// A database of its own on the tests' PostgreSQL server.
    case postgres

    var description: String { rawValue }
}

/// A fresh store of one kind, with helpers that write the rows a test starts from.
struct StoreFixture {
    let store: any Store
    /// Keeps the SQLite file alive for the test.
    let directory = TemporaryDirectory("store-conformance")
    /// Whole seconds, so that every store gives back exactly the dates it was given.
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    init(_ kind: StoreKind) async throws {
        switch kind {
        case .sqlite: store = try SQLiteStore(path: directory.file("fathom.sqlite"))
        case .memory: store = InMemoryStore()
        case .postgres: store = try await Self.postgres()
        }
    }

    /// A store on a new database of the tests' PostgreSQL server.
    static func postgres() async throws -> PostgresStore {
        let url = try await PostgresServer.shared().createDatabase()
        var logger = Logger(label: "test.postgres")
        logger.logLevel = .error
        return try await PostgresStore.connect(try PostgresSettings(url: url), maximumConnections: 4, logger: logger)
    }

    /// `seconds` after ``start``.
    func at(_ seconds: Double) -> Date { start.addingTimeInterval(seconds) }

    /// Registers one version of `flow`.
    func version(
        _ flow: String, labels: [String: String] = [:], launcher: LauncherKind = .local, queue: String = "default",
        retries: Int? = nil
    ) async throws -> FlowVersion {
        let version = FlowVersion(
            id: Identifier.make(), flowName: flow, version: 0, bundleSHA256: String(repeating: "ab", count: 32),
            storageURL: "file:///nowhere/bundle", summary: "", parameters: [],
            runConfig: RunConfig(launcher: launcher, settings: .object([:])), labels: labels, queue: queue, createdAt: start,
            retryPolicy: retries.map { RunRetryPolicy(retries: $0) })
        return try await store.insertVersions([version])[0]
    }

    /// A version of flow `flow` and two runs of it.
    func twoRuns(of flow: String) async throws -> (FlowRun, FlowRun) {
        let version = try await version(flow)
        return (try await run(version), try await run(version))
    }

    /// Inserts a run of `version` created `createdAfter` seconds after ``start``.
    @discardableResult
    func run(
        _ version: FlowVersion, createdAfter seconds: Double = 0, key: String? = nil, due: Date? = nil, schedule: String? = nil,
        attempt: Int = 1, retryOf: FlowRunID? = nil
    ) async throws -> FlowRun {
        try await store.insertRun(NewFlowRun(
            id: Identifier.make(), version: version, parameters: [:], idempotencyKey: key, createdAt: at(seconds),
            scheduleID: schedule, scheduledFor: due, attempt: attempt, retryOf: retryOf))
    }

    /// Moves a run along `states` (each from the one before), at `seconds`.
    @discardableResult
    func move(_ run: FlowRun, through states: [FlowRunState], at seconds: Double = 1, agent: AgentID? = nil) async throws -> FlowRun {
        var current = run
        for state in states {
            let write = StateWrite(
                runID: run.id, from: current.state, to: state, message: "to \(state)", at: at(seconds), agentID: agent,
                leaseExpiresAt: state == .pending ? at(seconds + 30) : nil)
            guard let moved = try await store.compareAndSetState(write) else {
                throw StoreError.conflict("\(run.id) is not in \(current.state)")
            }
            current = moved
        }
        return current
    }

    /// Registers an agent.
    func agent(
        _ name: String, queue: String = "default", labels: [String: String] = [:], launcher: LauncherKind = .local,
        instance: String? = "i-1", seen seconds: Double = 0
    ) async throws -> AgentInfo {
        try await store.upsertAgent(
            AgentRegistration(name: name, queue: queue, labels: labels, launcher: launcher, instance: instance, host: "h"),
            id: "agent-\(name)", at: at(seconds))
    }

    /// Claims for `agent` at `seconds`, returning the run ids handed over.
    func claim(_ agent: AgentInfo, capacity: Int, at seconds: Double = 10) async throws -> [FlowRunID] {
        try await store.claim(agent: agent, capacity: capacity, leaseExpiresAt: at(seconds + 30), now: at(seconds)).runs.map(\.run.id)
    }

    /// A log entry at `seconds`.
    func line(_ message: String, at seconds: Double = 2, source: LogSource = .flow) -> LogEntry {
        LogEntry(timestamp: at(seconds), level: .info, message: message, source: source)
    }
}
