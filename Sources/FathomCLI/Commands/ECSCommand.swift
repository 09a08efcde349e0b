import ArgumentParser
import AWS
import FathomAPI
import FathomAgent
import FathomCore
import FathomECS
import Foundation

/// `fathom ecs …`: check and preview ECS run configs.
struct ECSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ecs", abstract: "Check and preview ECS run configs.",
        subcommands: [ECSValidateCommand.self, ECSRenderCommand.self, ECSCheckCommand.self])
}

/// `fathom ecs validate RUNCONFIG`: offline, no server, no AWS.
struct ECSValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate", abstract: "Check a run config file offline: print every problem (path, problem, fix) or 'ok'.")

    @Argument(help: "The run config file (YAML or JSON) with an 'ecs:' key.")
    var runConfig: String

    func run() async throws {
        do {
            let config = try RunConfigFile.load(runConfig)
            guard config.launcher == .ecs else { throw CLIError("\(runConfig) is a '\(config.launcher)' run config, not 'ecs'") }
            print("ok")
        } catch let error as CLIError {
            print(error.description)
            throw ExitCode(1)
        }
    }
}

/// Where an ECS command takes its run config from: a file, or a registered flow.
struct ECSConfigSource: ParsableArguments {
    @Argument(help: "The run config file (or use --flow).")
    var runConfig: String?

    @Option(help: "A registered flow whose run config to use (asks the coordinator).")
    var flow: String?

    @OptionGroup var client: ClientOptions

    /// The checked config, and the flow's name (or FLOW for a file).
    func load() async throws -> (config: ECSRunConfig, flowName: String) {
        let loaded: RunConfig
        if let flow {
            loaded = try await client.makeClient().flow(named: flow).latest.runConfig
        } else if let runConfig {
            loaded = try RunConfigFile.load(runConfig)
        } else {
            throw ValidationError("give a run config file, or --flow NAME")
        }
        guard loaded.launcher == .ecs else {
            throw CLIError("\(flow.map { "flow '\($0)'" } ?? runConfig ?? "") uses the '\(loaded.launcher)' launcher, not ecs")
        }
        do {
            return (try ECSRunConfig(loaded.settings), flow ?? "FLOW")
        } catch {
            throw CLIError(error.description)
        }
    }
}

/// `fathom ecs check`: a preflight against the AWS account.
struct ECSCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a run config against the account: cluster and capacity providers, subnets, routes or VPC endpoints, VPC DNS, security groups, file systems, mount targets per zone, TCP 2049, file system policy, log group, and the runner URL's route.",
        discussion: "Each line is ok, FAIL (with the fix) or SKIP (what could not be checked from here, and how to check it). Exits 1 when a check fails.")

    @OptionGroup var source: ECSConfigSource

    @Option(name: .customLong("runner-api-url"), help: "The coordinator URL tasks are given (the agent's --runner-api-url): its route from the task's subnets is checked.")
    var runnerAPIURL: String?

    func run() async throws {
        let (config, _) = try await source.load()
        let aws = AWSClient(configuration: try AWSConfiguration(region: config.region), credentials: CredentialChain.standard())
        let checks = await ECSPreflight(client: aws, runnerAPIURL: runnerAPIURL).run(config)
        for check in checks { print(check) }
        let failed = checks.filter { $0.status == .fail }.count
        let skipped = checks.filter { $0.status == .skipped }.count
        let unchecked = skipped == 0 ? "" : "; \(skipped) could not be checked from here"
        print(failed == 0 ? "ok: \(checks.count - skipped) checks passed\(unchecked)" : "\(failed) of \(checks.count) checks failed\(unchecked)")
        if failed > 0 { throw ExitCode(1) }
    }
}

/// `fathom ecs render`: the exact AWS requests Fathom would send.
struct ECSRenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Print the RegisterTaskDefinition and RunTask requests a run would send, as one JSON object, offline.")

    @OptionGroup var source: ECSConfigSource

    @Option(name: .customLong("flow-run-id"), help: "The flow run id to put in the RunTask request.")
    var flowRunID = "00000000-0000-0000-0000-000000000000"

    @Option(name: .customLong("runner-api-url"), help: "The coordinator URL containers reach.")
    var runnerAPIURL = "https://fathom.example.internal:4200"

    func run() async throws {
        let (config, flowName) = try await source.load()
        let (register, _) = ECSRender.registerTaskDefinition(config)
        let family = config.taskDefinition["family"].stringValue ?? "family"
        let runTask = ECSRender.runTask(
            config, taskDefinition: family, context: ECSLaunchContext(flowRunID: flowRunID, flowName: flowName, apiURL: runnerAPIURL))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let output: JSONValue = ["registerTaskDefinition": register, "runTask": runTask]
        print(String(decoding: try encoder.encode(output), as: UTF8.self))
    }
}
