import ArgumentParser
import FathomAlerts
import FathomCore
import FathomServer
import FathomToolkit
import Foundation
import Logging
import Prometheus

/// `fathom server`: the coordinator.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "server", abstract: "Run the coordinator (HTTP API).")

    @OptionGroup var serve: ServeOptions
    @OptionGroup var logging: LogOptions

    @Option(name: .customLong("data-dir"), help: "Where the database and bundles live (default ~/.fathom).")
    var dataDirectory: String?

    @Option(help: """
        A PostgreSQL database that several coordinators share: postgres://USER:PASSWORD@HOST:5432/DB?sslmode=require \
        (env: FATHOM_DATABASE_URL, which keeps the password out of the process list; or the password alone in \
        FATHOM_DATABASE_PASSWORD, e.g. from an ECS secret). Default: SQLite in --data-dir.
        """)
    var database: String?

    func run() async throws {
        logging.bootstrap()
        let logger = Logger(label: "fathom.server")
        let directory = dataDirectory ?? (NSHomeDirectory() as NSString).appendingPathComponent(".fathom")
        var configuration = try serve.serverConfiguration(dataDirectory: directory)
        let environment = ProcessInfo.processInfo.environment
        configuration.databaseURL = (database ?? environment["FATHOM_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 })
            .map { Self.url($0, password: environment["FATHOM_DATABASE_PASSWORD"]) }
        var location = "data: \(directory)"
        if let url = configuration.databaseURL {
            do {
                location = "database: \(try PostgresSettings(url: url))"
            } catch {
                throw ArgumentParser.ValidationError(error.description)
            }
            if configuration.storageURL == nil {
                logger.warning("bundles go to \(directory)/bundles, which only this coordinator sees; with several coordinators on one database, pass --storage s3://bucket/prefix")
            }
        }
        let coordinator = try await EmbeddedCoordinator.start(configuration: configuration, logger: logger, handleSignals: true)
        print("fathom coordinator listening on \(coordinator.url) (\(location)); web UI at \(coordinator.url)/")
        try await coordinator.wait()
    }

    /// The database URL with `password` in it, when it has none (the password percent-encoded, whatever it holds).
    static func url(_ text: String, password: String?) -> String {
        guard let password, !password.isEmpty, var components = URLComponents(string: text), components.password == nil else { return text }
        components.percentEncodedPassword = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return components.string ?? text
    }
}

extension ServeOptions {
    func serverConfiguration(dataDirectory: String) throws -> ServerConfiguration {
        var configuration = ServerConfiguration(dataDirectory: URL(fileURLWithPath: dataDirectory).standardizedFileURL.path)
        configuration.host = host
        configuration.port = port
        configuration.token = resolvedToken
        configuration.storageURL = storage ?? ProcessInfo.processInfo.environment["FATHOM_STORAGE"]
        configuration.metricsRegistry = ProcessMetricsRegistry.shared
        do {
            configuration.coordinator.heartbeatTimeout = try NumberCheck.seconds(heartbeatTimeout, field: "--heartbeat-timeout", in: 1...86_400)
            configuration.coordinator.maxWait = try NumberCheck.seconds(maxLongPoll, field: "--max-long-poll", in: 0...3600)
            configuration.coordinator.maxBundleBytes = Int64(try ByteSize(parsing: maxBundleSize, field: "--max-bundle-size").bytes)
        } catch {
            throw ArgumentParser.ValidationError("\(error)")
        }
        configuration.coordinator.bundleURLPrefixes = bundlePrefixes
        configuration.coordinator.alertHosts = alertHosts
        configuration.coordinator.publicURL = publicURL ?? ProcessInfo.processInfo.environment["FATHOM_PUBLIC_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let url = configuration.coordinator.publicURL {
            guard let components = URLComponents(string: url), ["http", "https"].contains(components.scheme?.lowercased() ?? ""),
                  !(components.host ?? "").isEmpty
            else {
                throw ArgumentParser.ValidationError("--public-url '\(url)' is not an http(s) URL with a host; write e.g. https://fathom.example.com")
            }
        }
        if let mail = try smtpSettings() {
            configuration.alertSender = AlertSenders(email: SMTPAlertSender(settings: mail))
            configuration.coordinator.sendsEmail = true
        }
        do {
            try configuration.validate()
        } catch {
            throw ArgumentParser.ValidationError(error.description)
        }
        return configuration
    }
}

extension ServeOptions {
    /// The mail server for email alerts, from `--smtp-url`/`FATHOM_SMTP_URL` and `--smtp-from`/`FATHOM_SMTP_FROM`; none when no URL is given.
    func smtpSettings() throws -> SMTPSettings? {
        let environment = ProcessInfo.processInfo.environment
        guard let url = smtpURL ?? environment["FATHOM_SMTP_URL"].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        guard let from = smtpFrom ?? environment["FATHOM_SMTP_FROM"].flatMap({ $0.isEmpty ? nil : $0 }) else {
            throw ArgumentParser.ValidationError("--smtp-url needs --smtp-from (env: FATHOM_SMTP_FROM): the address email alerts come from, e.g. fathom@example.com")
        }
        if let caFile = smtpCAFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw ArgumentParser.ValidationError("--smtp-ca-file '\(caFile)' cannot be read; give a PEM file of the CAs that signed the mail server's certificate")
        }
        do {
            return try SMTPSettings.parse(url: url, from: from, password: environment["FATHOM_SMTP_PASSWORD"], caFile: smtpCAFile)
        } catch {
            throw ArgumentParser.ValidationError(error.description)
        }
    }
}

/// This process's metrics registry: the coordinator's `/metrics` (or the agent's) and the global
/// `MetricsSystem` (the AWS client's error counts) share it.
enum ProcessMetricsRegistry {
    static let shared: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        ServerMetrics.bootstrapProcessMetrics(registry)
        return registry
    }()
}
