import ArgumentParser
import FathomAPI
import FathomCore
import Foundation

/// `fathom run FLOW`: starts a run, optionally following it.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Start a run of a registered flow.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "The flow's name.")
    var flow: String

    @Option(name: .customLong("param"), help: "A parameter (key=value), typed by the flow's parameters; repeat for more.")
    var parameters: [String] = []

    @Option(help: "A specific flow version (default: the latest).")
    var version: Int?

    @Option(name: .customLong("tag"), help: "A tag for the run (nightly, team:data); repeat for more. Alert rules can match tags; retries keep them.")
    var tags: [String] = []

    @Flag(help: "Follow states and logs until the run ends; exit 0 only if it Completed.")
    var watch = false

    func run() async throws {
        let api = client.makeClient()
        let summary = try await api.flow(named: flow)
        let values = try ParameterArguments.values(parameters, for: summary)
        let run = try await api.createRun(CreateFlowRunRequest(flow: flow, version: version, parameters: values, tags: tags.isEmpty ? nil : tags))
        print("flow run \(run.id) (\(run.flowName) v\(run.flowVersion)) \(run.state)")
        guard watch else { return }
        let final = try await RunFollower(client: api).follow(run.id, follow: true)
        if final.state != .completed { throw ExitCode(1) }
    }
}
