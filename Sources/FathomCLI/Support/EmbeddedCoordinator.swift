import FathomAPI
import FathomAgent
import FathomServer
import Foundation
import Logging
import ServiceLifecycle

/// A coordinator (and optionally a local agent) running inside this process, for `dev`, `demo` and tests.
public final class EmbeddedCoordinator: Sendable {
    /// The URL it listens on.
    public let url: String
    public let server: FathomServer
    private let group: ServiceGroup
    private let runner: Task<Void, any Error>

    /// Starts the server and returns once it is listening.
    public static func start(
        configuration: ServerConfiguration, logger: Logger = Logger(label: "fathom"), handleSignals: Bool = false
    ) async throws -> EmbeddedCoordinator {
        let server = try await FathomServer.open(configuration: configuration, logger: logger)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let services = server.makeServices { port in continuation.yield(port) }
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [], logger: logger))
        let runner = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            let error: (any Error)? = await { do { try await runner.value; return nil } catch { return error } }()
            throw CLIError("the coordinator could not start on \(configuration.host):\(configuration.port): \(error.map { "\($0)" } ?? "unknown error")")
        }
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return EmbeddedCoordinator(url: "http://\(host == "0.0.0.0" ? "127.0.0.1" : host):\(port)", server: server, group: group, runner: runner)
    }

    private init(url: String, server: FathomServer, group: ServiceGroup, runner: Task<Void, any Error>) {
        self.url = url
        self.server = server
        self.group = group
        self.runner = runner
    }

    /// Waits until the server stops (a signal, or ``stop()``).
    public func wait() async throws {
        try await runner.value
    }

    /// Stops the server gracefully.
    public func stop() async {
        server.coordinator.closeLongPolls()
        await group.triggerGracefulShutdown()
        _ = try? await runner.value  // the server's own errors were logged as it stopped; stopping has nothing left to report
    }
}

/// The path of this very executable, so that launchers can start `fathom execute`.
public enum CurrentExecutable {
    public static var path: String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return resolved }  // not on Linux /proc: fall back to argv[0]
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }

    /// A file next to this executable (e.g. the example bundle built beside `fathom`).
    public static func sibling(_ name: String) -> String {
        URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(name).path
    }
}
