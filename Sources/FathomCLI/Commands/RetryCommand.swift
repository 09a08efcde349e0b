import ArgumentParser
import FathomAPI
import FathomClient
import FathomCore
import Foundation

/// `fathom retry RUN` or `fathom retry --flow NAME --state Failed,Crashed --since 1d`: runs finished runs again as
/// new attempts, optionally resuming them.
struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Run a finished run again as a new attempt (same version and parameters), or every run of a flow that ended so.",
        discussion: """
            With --flow, each chain of attempts whose latest attempt is in one of --state and was created within --since \
            gets one new attempt; chains already retried are not retried twice.
            """)

    @OptionGroup var client: ClientOptions

    @Argument(help: "The flow run id (or use --flow).")
    var run: String?

    @Flag(help: "Resume: reuse the results of the tasks the run finished (same cache key) and run only the rest.")
    var resume = false

    @Flag(help: "Follow states and logs until the new attempt ends; exit 0 only if it Completed (one run only).")
    var watch = false

    @Option(help: "Retry the runs of this flow instead of one run.")
    var flow: String?

    @Option(help: "With --flow: the states whose runs are retried, comma-separated (default Failed,Crashed).")
    var state = "Failed,Crashed"

    @Option(help: "With --flow: only runs created within this long: 90m, 12h, 1d (default 1d).")
    var since = "1d"

    @Flag(name: .customLong("dry-run"), help: "With --flow: list what would be retried, retry nothing.")
    var dryRun = false

    func validate() throws {
        guard (run == nil) != (flow == nil) else { throw ValidationError("Name one run, or pass --flow NAME (not both).") }
        if flow != nil, watch { throw ValidationError("--watch follows one run; leave it out with --flow.") }
    }

    func run() async throws {
        let api = client.makeClient()
        if let run {
            let next = try await api.retryRun(run, resume: resume)
            print(Self.line(next, of: run, resume: resume))
            guard watch else { return }
            let final = try await RunFollower(client: api).follow(next.id, follow: true)
            if final.state != .completed { throw ExitCode(1) }
            return
        }
        guard let flow else { return }
        let states = try Self.states(state)
        let cutoff = Date().addingTimeInterval(-(try DurationArgument.seconds(since, option: "--since")))
        let chosen = try await Self.latestAttempts(of: flow, since: cutoff, client: api).filter { states.contains($0.state) }
        guard !chosen.isEmpty else {
            print("no run of \(flow) since \(cutoff.formatted(.iso8601)) ended \(states.map(\.rawValue).sorted().joined(separator: " or "))")
            return
        }
        for earlier in chosen {
            if dryRun {
                print("would retry \(earlier.id) (attempt \(earlier.attempt), \(earlier.state))")
                continue
            }
            print(Self.line(try await api.retryRun(earlier.id, resume: resume), of: earlier.id, resume: resume))
        }
    }

    static func line(_ next: FlowRun, of earlier: FlowRunID, resume: Bool) -> String {
        "flow run \(next.id) (\(next.flowName) v\(next.flowVersion), attempt \(next.attempt)\(resume ? ", resuming \(earlier)" : ", retrying \(earlier)")) \(next.state)"
    }

    /// The final run states a `--state` list names.
    static func states(_ text: String) throws -> Set<FlowRunState> {
        try Set(text.split(separator: ",").map { name in
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let state = FlowRunState.allCases.first(where: { $0.rawValue.lowercased() == trimmed.lowercased() }), state.isFinal else {
                throw CLIError("--state '\(trimmed)' is not a final state; use Failed, Crashed, Cancelled or Completed")
            }
            return state
        })
    }

    /// The latest attempt of each chain of attempts of `flow` whose runs were created since `cutoff`, oldest first.
    static func latestAttempts(of flow: String, since cutoff: Date, client: APIClient) async throws -> [FlowRun] {
        var latest: [FlowRunID: FlowRun] = [:]
        var offset = 0
        pages: while true {
            let page = try await client.listRuns(flow: flow, limit: 200, offset: offset)
            for run in page.runs {
                guard run.createdAt >= cutoff else { break pages }
                let first = run.retryOf ?? run.id
                if latest[first].map({ $0.attempt < run.attempt }) ?? true { latest[first] = run }
            }
            offset += page.runs.count
            if page.runs.isEmpty || offset >= page.total { break }
        }
        return latest.values.sorted { $0.createdAt < $1.createdAt }
    }
}
