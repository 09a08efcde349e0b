import ArgumentParser
import FathomAPI
import FathomCore
import Foundation
import FathomRunner

/// `fathom runs`: lists runs.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List flow runs, newest first.")

    @OptionGroup var client: ClientOptions

    @Option(help: "Only runs of this flow.")
    var flow: String?

    @Option(help: "Only runs in this state (e.g. Running, Crashed).")
    var state: String?

    @Option(help: "How many runs to show.")
    var limit = 20

    func run() async throws {
        let stateFilter = try state.map { name -> FlowRunState in
            guard let state = FlowRunState(name: name) else {
                throw ValidationError("--state '\(name)' is not a state; use one of: \(FlowRunState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return state
        }
        let list = try await client.makeClient().listRuns(flow: flow, state: stateFilter, limit: limit)
        print("ID                                    FLOW                 STATE       CREATED              COST      MESSAGE")
        for run in list.runs {
            let created = run.createdAt.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false))
            let cost = (run.estimatedCostUSD.map(UsageText.usd) ?? "-").padding(toLength: 9, withPad: " ", startingAt: 0)
            print("\(run.id)  \(run.flowName.padding(toLength: 20, withPad: " ", startingAt: 0)) \(run.state.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) \(created) \(cost) \(run.stateMessage.split(separator: "\n").first ?? "")")
        }
        if list.total > list.runs.count { print("(\(list.runs.count) of \(list.total); use --limit for more)") }
    }
}

/// `fathom logs RUN`: prints a run's logs.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print a run's logs.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "The flow run id.")
    var run: String

    @Flag(name: [.short, .long], help: "Keep printing new lines until the run ends.")
    var follow = false

    func run() async throws {
        try await RunFollower(client: client.makeClient()).follow(run, follow: follow)
    }
}

/// `fathom cancel RUN`.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a run.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "The flow run id.")
    var run: String

    func run() async throws {
        let updated = try await client.makeClient().cancel(run)
        print("flow run \(updated.id) \(updated.state)")
    }
}

/// `fathom flows`: lists registered flows.
struct FlowsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "flows", abstract: "List registered flows.")

    @OptionGroup var client: ClientOptions

    func run() async throws {
        for flow in try await client.makeClient().listFlows() {
            let last = flow.lastRun.map { "last run \($0.state)" } ?? "never run"
            print("\(flow.name.padding(toLength: 24, withPad: " ", startingAt: 0)) v\(flow.latest.version)  \(flow.latest.runConfig.launcher)  \(last)  \(flow.latest.summary)")
        }
    }
}

/// `fathom usage FLOW`: a flow's runs, estimated cost and workspace bytes over the last days.
struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage", abstract: "Sum a flow's runs, estimated cost (Fargate) and workspace bytes over the last days.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "The flow.")
    var flow: String

    @Option(help: "How many days back, today included (1-366).")
    var days = 30

    func run() async throws {
        let usage = try await client.makeClient().flowUsage(flow, days: days)
        print("\(usage.flow), last \(usage.days) days: \(usage.runs) runs (\(usage.completed) completed, \(usage.failed) failed or crashed, \(usage.cancelled) cancelled)")
        print("estimated cost: \(UsageText.usd(usage.costUSD)) over \(usage.runsWithCost) Fargate runs")
        print("workspace bytes at run ends: \(usage.workspaceBytes.isEmpty ? "none recorded" : UsageText.volumes(usage.workspaceBytes))")
        if usage.truncated { print("(only the newest \(FlowUsage.maxRuns) runs are summed)") }
        print("DAY         RUNS  COMPLETED  FAILED  COST")
        for day in usage.perDay where day.runs > 0 {
            print("\(day.day)  \(String(day.runs).padding(toLength: 5, withPad: " ", startingAt: 0)) \(String(day.completed).padding(toLength: 10, withPad: " ", startingAt: 0)) \(String(day.failed).padding(toLength: 7, withPad: " ", startingAt: 0)) \(UsageText.usd(day.costUSD))")
        }
    }
}

/// `fathom execute --flow-run ID`: what a launcher starts.
struct ExecuteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "execute", abstract: "Fetch, verify and run a flow run's bundle (launchers start this).")

    @OptionGroup var client: ClientOptions

    @Option(name: .customLong("flow-run"), help: "The flow run id.")
    var flowRun: String

    @Option(name: .customLong("cache-dir"), help: "Where verified bundles are cached (default ~/.fathom/cache/bundles).")
    var cacheDirectory: String?

    func run() async throws {
        let cache = cacheDirectory ?? BundleRunner.defaultCacheDirectory(environment: ProcessInfo.processInfo.environment)
        let code = await BundleRunner(client: client.makeClient(), runID: flowRun, cacheDirectory: cache).run()
        throw ExitCode(code)
    }
}
