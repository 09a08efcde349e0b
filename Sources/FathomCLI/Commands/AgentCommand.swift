import ArgumentParser
import FathomAPI
import FathomAgent
import Foundation
import Logging
import FathomProcess

/// `fathom agent`: claims runs and launches them.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent", abstract: "Claim runs from a work queue and launch them.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var agent: AgentOptions

    @Option(help: "The agent's name (default: this host's name).")
    var name: String?

    @Option(help: "How runs are launched: local.")
    var launcher = "local"

    @Option(name: .customLong("runner-api-url"), help: "The coordinator URL the flow processes use (default: --api-url).")
    var runnerAPIURL: String?

    func run() async throws {
        guard launcher == "local" else {
            throw ValidationError("--launcher '\(launcher)' is not available in this build; use --launcher local")
        }
        let apiClient = client.makeClient()
        let agentTask = try makeAgent(client: apiClient, name: name ?? ProcessInfo.processInfo.hostName)
        print("fathom agent claiming queue '\(agent.queue)' from \(client.resolvedURL)")
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
        let launcher = LocalLauncher(
            fathomExecutable: CurrentExecutable.path, apiURL: runnerAPIURL ?? client.resolvedURL,
            token: client.resolvedToken, volumes: try agent.parsedVolumes(), client: apiClient)
        return Agent(client: apiClient, launcher: launcher, configuration: configuration, logger: Logger(label: "fathom.agent"))
    }
}
