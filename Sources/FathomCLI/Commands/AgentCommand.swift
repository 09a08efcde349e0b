import ArgumentParser
import FathomAPI
import FathomClient
import FathomAgent
import FathomCore
import FathomECS
import Foundation
import Logging
import FathomProcess

/// `fathom agent`: claims runs and launches them.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent", abstract: "Claim runs from a work queue and launch them.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var agent: AgentOptions
    @OptionGroup var logging: LogOptions

    @Option(name: .customLong("metrics-address"), help: "Serve Prometheus /metrics (e.g. AWS API errors by code) on HOST:PORT.")
    var metricsAddress: String?

    @Option(help: "The agent's name (default: this host's name).")
    var name: String?

    @Option(help: "How runs are launched: local (a child process) or ecs (an ECS task).")
    var launcher = LauncherKind.local

    @Option(name: .customLong("poll-interval"), help: "ecs: seconds between DescribeTasks polls (one batched call for all tasks).")
    var pollInterval: Double = 3

    @Option(name: .customLong("cache-dir"), help: "local: where the agent caches verified bundles for its flow processes (default ~/.fathom/cache/bundles, or FATHOM_BUNDLE_CACHE).")
    var cacheDirectory: String?

    @Option(name: .customLong("runner-api-url"), help: "The coordinator URL the flow processes use (default: --api-url).")
    var runnerAPIURL: String?

    @Option(name: .customLong("fargate-prices"), help: "ecs: a JSON file of Fargate rates laid over the built-in table, {\"region/arch/FARGATE\": {\"vcpuHour\": …, \"gbHour\": …}} (docs/costs.md).")
    var fargatePrices: String?

    func run() async throws {
        logging.bootstrap()
        let metricsServer = try metricsAddress.map { try MetricsEndpoint.start(address: $0, registry: ProcessMetricsRegistry.shared) }
        defer { metricsServer?.cancel() }
        let apiClient = client.makeClient()
        let agentTask = try makeAgent(client: apiClient, name: name ?? ProcessInfo.processInfo.hostName)
        print("fathom agent (\(launcher) launcher) claiming queue '\(agent.queue)' from \(client.resolvedURL)")
        let task = Task { try await agentTask.run() }
        let watcher = SignalWatcher(signals: [SIGINT, SIGTERM]) { task.cancel() }
        defer { watcher.stop() }
        try await task.value
    }

    func makeAgent(client apiClient: APIClient, name: String) throws -> Agent {
        var configuration = AgentConfiguration(name: name)
        configuration.queue = agent.queue
        configuration.labels = try agent.parsedLabels()
        configuration.maxConcurrentRuns = agent.maxRuns
        let chosen: any Launcher
        switch launcher {
        case .ecs:
            guard let runnerAPIURL else {
                throw ArgumentParser.ValidationError("--launcher ecs needs --runner-api-url: the coordinator URL that ECS tasks reach (not 127.0.0.1)")
            }
            do {
                let interval = try NumberCheck.seconds(pollInterval, field: "--poll-interval", in: 0.05...3600)
                var pricing = FargatePricing.builtIn
                if let fargatePrices {
                    guard let data = FileManager.default.contents(atPath: fargatePrices) else {
                        throw ArgumentParser.ValidationError("--fargate-prices '\(fargatePrices)' cannot be read; give a JSON file of rates (docs/costs.md)")
                    }
                    pricing = try FargatePricing.withOverrides(json: data, field: "--fargate-prices")
                }
                chosen = try ECSLauncher(
                    api: apiClient, runnerAPIURL: runnerAPIURL, token: client.resolvedToken, pollInterval: interval, pricing: pricing)
            } catch {
                throw ArgumentParser.ValidationError("\(error)")
            }
        case .local:
            chosen = LocalLauncher(
                apiURL: runnerAPIURL ?? client.resolvedURL,
                token: client.resolvedToken, volumes: try agent.parsedVolumes(), client: apiClient, bundleCache: cacheDirectory)
        }
        return Agent(client: apiClient, launcher: chosen, configuration: configuration, logger: Logger(label: "fathom.agent"))
    }
}

/// `--launcher local|ecs`, with the known kinds in the error when another is given.
extension LauncherKind: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(rawValue: argument)
    }

    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}
