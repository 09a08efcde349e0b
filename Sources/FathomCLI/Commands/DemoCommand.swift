import ArgumentParser
import FathomAPI
import FathomCore
import Foundation

/// `fathom demo`: the whole path on this machine, in one command.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start a coordinator and a local agent in-process, register the example bundle, run the hello flow, and print its logs.")

    @Option(name: .customLong("data-dir"), help: "Where the database, bundles and volumes live.")
    var dataDirectory = ".fathom"

    @Option(help: "The example bundle (default: fathom-examples next to this executable).")
    var bundle: String?

    @Option(help: "The flow to run.")
    var flow = "hello"

    func run() async throws {
        var serve = try ServeOptions.parse([])
        serve.port = 0
        let stack = try await LocalStack.start(
            serve: serve, agentOptions: try AgentOptions.parse([]), dataDirectory: dataDirectory, handleSignals: false,
            logLevel: .warning)
        do {
            let bundlePath = bundle ?? CurrentExecutable.sibling("fathom-examples")
            print("fathom demo: coordinator on \(stack.coordinator.url), volume scratch=\(stack.volumes["scratch"] ?? "?")")
            let versions = try await BundleRegistrar(client: stack.client).register(bundleAt: bundlePath, runConfig: nil)
            print("registered: \(versions.map { "\($0.flowName) v\($0.version)" }.joined(separator: ", "))")
            let run = try await stack.client.createRun(CreateFlowRunRequest(flow: flow))
            print("flow run \(run.id) (\(flow)) Scheduled")
            let final = try await RunFollower(client: stack.client).follow(run.id, follow: true)
            await stack.stop()
            if final.state != .completed { throw ExitCode(1) }
        } catch {
            await stack.stop()
            throw error
        }
    }
}
