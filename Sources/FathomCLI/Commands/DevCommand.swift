import ArgumentParser
import FathomAPI
import FathomClient
import FathomAgent
import Foundation
import Logging

/// `fathom dev`: coordinator and a local agent in one process.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev", abstract: "Run a coordinator and a local agent in one process (data in ./.fathom).")

    @OptionGroup var serve: ServeOptions
    @OptionGroup var agent: AgentOptions
    @OptionGroup var logging: LogOptions

    @Option(name: .customLong("data-dir"), help: "Where the database, bundles and volumes live.")
    var dataDirectory = ".fathom"

    func run() async throws {
        logging.bootstrap()
        let local = try await LocalStack.start(
            serve: serve, agentOptions: agent, dataDirectory: dataDirectory, handleSignals: true)
        print("fathom dev: coordinator on \(local.coordinator.url), local agent ready, volumes: \(local.volumes.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ", "))")
        print("  web UI: \(local.coordinator.url)/")
        print("  export FATHOM_API_URL=\(local.coordinator.url)")
        try await local.coordinator.wait()
        await local.stop()
    }
}

/// A coordinator plus a local agent in this process: what `dev` and `demo` run.
struct LocalStack {
    let coordinator: EmbeddedCoordinator
    let agentTask: Task<Void, any Error>
    let volumes: [String: String]
    let client: APIClient

    static func start(
        serve: ServeOptions, agentOptions: AgentOptions, dataDirectory: String, handleSignals: Bool,
        logLevel: Logger.Level = .info
    ) async throws -> LocalStack {
        var serverLogger = Logger(label: "fathom.server")
        serverLogger.logLevel = logLevel
        var agentLogger = Logger(label: "fathom.agent")
        agentLogger.logLevel = logLevel
        let directory = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path
        let coordinator = try await EmbeddedCoordinator.start(
            configuration: try serve.serverConfiguration(dataDirectory: directory),
            logger: serverLogger, handleSignals: handleSignals)
        var volumes = try agentOptions.parsedVolumes()
        if volumes["scratch"] == nil {
            volumes["scratch"] = (directory as NSString).appendingPathComponent("volumes/scratch")
        }
        let client = APIClient(baseURL: coordinator.url, token: serve.resolvedToken)
        var configuration = AgentConfiguration(name: "local")
        configuration.queue = agentOptions.queue
        configuration.labels = try agentOptions.parsedLabels()
        configuration.maxConcurrentRuns = agentOptions.maxRuns
        // Bundles the flows run from stay under the data directory, unless the environment names a cache.
        let cache = ProcessInfo.processInfo.environment["FATHOM_BUNDLE_CACHE"] ?? (directory as NSString).appendingPathComponent("cache/bundles")
        let launcher = LocalLauncher(
            apiURL: coordinator.url, token: serve.resolvedToken, volumes: volumes,
            client: client, bundleCache: cache)
        let agent = Agent(client: client, launcher: launcher, configuration: configuration, logger: agentLogger)
        let agentTask = Task { try await agent.run() }
        return LocalStack(coordinator: coordinator, agentTask: agentTask, volumes: volumes, client: client)
    }

    func stop() async {
        agentTask.cancel()
        _ = try? await agentTask.value  // the agent was cancelled on purpose; its errors were logged
        await coordinator.stop()
    }
}
