import AWS
import FathomAlerts
import FathomAPI
import FathomCore
import FathomStorage
import FathomWebUI
import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// How to run the coordinator.
public struct ServerConfiguration: Sendable {
    /// The address to bind. Anything but loopback requires ``token``.
    public var host: String = "127.0.0.1"
    /// The port; 0 picks a free one.
    public var port: Int = 4200
    /// Where the database and bundles live.
    public var dataDirectory: String
    /// A PostgreSQL database (`postgres://user:password@host:5432/db?sslmode=require`) that several coordinators
    /// share; nil for the embedded SQLite file `<data dir>/fathom.sqlite`.
    public var databaseURL: String?
    /// The API token every `/api/` call must carry, if set.
    public var token: String?
    /// Where uploaded bundles go: nil for `<data dir>/bundles`, or `s3://bucket/prefix`.
    public var storageURL: String?
    /// The coordinator's rules: heartbeat timeout, leases, long-poll limits, bundle prefixes and size.
    public var coordinator = CoordinatorSettings()
    /// How often the housekeeper looks for stale heartbeats and leases, due and late runs, and schedule slots.
    public var reaperInterval: Duration = .seconds(1)
    /// Where `/metrics` comes from; a fresh registry when nil.
    public var metricsRegistry: PrometheusCollectorRegistry?
    /// The coordinator's clock (tests set one).
    public var clock: @Sendable () -> Date = Date.init
    /// How long a web UI sign-in lasts.
    public var sessionLifetime: Duration = .seconds(12 * 3600)
    /// What sends alerts (webhooks and Slack over HTTP by default).
    public var alertSender: any AlertSender = HTTPAlertSender()

    /// The defaults (127.0.0.1:4200, no token, bundles in the data directory) over `dataDirectory`.
    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    /// Whether `host` only accepts connections from this machine.
    public var isLoopback: Bool {
        host == "127.0.0.1" || host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Refuses to serve beyond loopback without a token.
    public func validate() throws(ValidationError) {
        if !isLoopback && (token ?? "").isEmpty {
            throw ValidationError(
                code: "token_required", field: "--host",
                problem: "binding \(host) exposes the API beyond this machine, and no token is set",
                fix: "Pass --token (or set FATHOM_TOKEN), or bind 127.0.0.1.")
        }
    }
}

/// The coordinator: store, storage, rules and HTTP API in one value.
public struct FathomServer: Sendable {
    /// What it was started with.
    public let configuration: ServerConfiguration
    /// The rules every route and page goes through.
    public let coordinator: Coordinator
    let logger: Logger

    /// Opens the data directory (`fathom.sqlite`, `bundles/`) and checks the configuration.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "fathom.server")) throws {
        try configuration.validate()  // before anything is written
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: (configuration.dataDirectory as NSString).appendingPathComponent("fathom.sqlite"))
        try self.init(configuration: configuration, store: store, logger: logger)
    }

    /// Opens the database the configuration names (PostgreSQL for ``ServerConfiguration/databaseURL``, else the
    /// data directory's SQLite file), migrating it, and checks the configuration.
    public static func open(configuration: ServerConfiguration, logger: Logger = Logger(label: "fathom.server")) async throws -> FathomServer {
        guard let url = configuration.databaseURL else { return try FathomServer(configuration: configuration, logger: logger) }
        try configuration.validate()
        let settings = try PostgresSettings(url: url)
        let store: PostgresStore
        do {
            store = try await PostgresStore.connect(settings, logger: logger)
        } catch {
            throw ValidationError(
                code: "database_unreachable", field: "--database", problem: "cannot open \(settings): \(String(describing: error).prefix(500))",
                fix: "Check that the server is up and reachable from here, the user, password and database, and sslmode.")
        }
        logger.info("database: PostgreSQL \(settings)")
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        return try FathomServer(configuration: configuration, store: store, logger: logger)
    }

    /// A coordinator over `store`; bundles in the configured storage (else the data directory).
    public init(configuration: ServerConfiguration, store: any Store, logger: Logger = Logger(label: "fathom.server")) throws {
        try configuration.validate()
        ServerMemory.returnLargeBlocks
        let storage: any FlowStorage
        if let given = configuration.storageURL {
            guard let opened = try FlowStorages.open(given) else {
                throw ValidationError(
                    code: "invalid_storage", field: "--storage", problem: "'\(given)' is not s3://bucket/prefix or a directory",
                    fix: "Pass s3://bucket/prefix, or leave it out for <data dir>/bundles.")
            }
            storage = opened
        } else {
            storage = try LocalFlowStorage(root: (configuration.dataDirectory as NSString).appendingPathComponent("bundles"))
        }
        self.configuration = configuration
        self.logger = logger
        self.coordinator = Coordinator(
            store: store, storage: storage, settings: configuration.coordinator, logger: logger,
            metrics: ServerMetrics(registry: configuration.metricsRegistry ?? PrometheusCollectorRegistry()),
            clock: configuration.clock)
    }

    /// The HTTP router with every route.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(metrics: coordinator.metrics))
        router.add(middleware: RequestIDMiddleware(logger: logger))
        router.add(middleware: PlainPathMiddleware())
        let routeTable = MethodNotAllowedMiddleware<BasicRequestContext>.Table()
        router.add(middleware: MethodNotAllowedMiddleware(table: routeTable))
        router.add(middleware: APIOriginMiddleware())
        let ui = WebUI()
        let session = UISession(token: configuration.token, lifetime: configuration.sessionLifetime, clock: configuration.clock)
        router.add(middleware: UIGuardMiddleware(session: session, ui: ui))
        if let token = configuration.token, !token.isEmpty {
            router.add(middleware: TokenMiddleware(token: token))
        }
        HealthRoutes(coordinator: coordinator).add(to: router)
        UIRoutes(coordinator: coordinator, ui: ui, session: session).add(to: router)
        let api = router.group("api/v1")
        FlowRoutes(coordinator: coordinator).add(to: api)
        RunRoutes(coordinator: coordinator).add(to: api)
        AgentRoutes(coordinator: coordinator).add(to: api)
        ScheduleRoutes(coordinator: coordinator).add(to: api)
        AlertRoutes(coordinator: coordinator).add(to: api)
        routeTable.load(router.routes.map { ($0.path.description, $0.method) })
        return router
    }

    /// The HTTP application plus the reaper, as services to run in a `ServiceGroup`.
    /// `onListening` receives the bound port (useful with port 0).
    public func makeServices(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> [any Service] {
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "fathom"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        let housekeeper = Housekeeper(coordinator: coordinator, interval: configuration.reaperInterval, logger: logger)
        let alerts = AlertDispatcher(coordinator: coordinator, sender: configuration.alertSender, interval: .seconds(1), logger: logger)
        guard let shared = coordinator.store as? any SharedChanges else { return [app, housekeeper, alerts] }
        return [app, housekeeper, alerts, ChangeRelay(shared: shared, notifier: coordinator.notifier, logger: logger)]
    }
}
