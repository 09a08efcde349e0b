import FathomAPI
import FathomClient
import FathomCore
import Foundation

/// Prints a run's log lines and state changes as they arrive, until the run is final.
public struct RunFollower: Sendable {
    let client: APIClient
    let write: @Sendable (String) -> Void

    public init(client: APIClient, write: @escaping @Sendable (String) -> Void = { print($0) }) {
        self.client = client
        self.write = write
    }

    /// Prints lines after `after`. With `follow`, waits for more until the run is final; returns the run.
    @discardableResult
    public func follow(_ runID: FlowRunID, after: Int64 = 0, follow: Bool) async throws -> FlowRun {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss.SSS"
        var after = after
        var lastState: FlowRunState?
        while true {
            let page = follow
                ? try await ridingOutAnOutage { try await client.logs(runID, after: after, limit: 1000, waitSeconds: 20) }
                : try await client.logs(runID, after: after, limit: 1000, waitSeconds: 0)
            for line in page.lines { write(format(line, formatter)) }
            after = page.next
            if follow, page.state != lastState, !page.state.isFinal {
                write("── \(page.state)")
                lastState = page.state
            }
            let drained = page.lines.count < 1000
            if drained && (page.state.isFinal || !follow) {
                if follow && page.state.isFinal {
                    // Process output shipped by the agent can land just after the flow's final state.
                    try await Task.sleep(for: .milliseconds(300))
                    let late = try await client.logs(runID, after: after, limit: 1000, waitSeconds: 0)
                    for line in late.lines { write(format(line, formatter)) }
                }
                let run = try await client.run(runID)
                if follow || run.state.isFinal { write(Self.summary(run)) }
                return run
            }
        }
    }

    /// Repeats `call` while the coordinator cannot be reached (a restart, a network blip), with pauses
    /// doubling from 0.5 s to 10 s, saying so once; any answer from the coordinator, even an error, ends it.
    func ridingOutAnOutage<T: Sendable>(_ call: () async throws -> T) async throws -> T {
        var pause = Duration.milliseconds(500)
        var said = false
        while true {
            do {
                let result = try await call()
                if said { write("── reconnected") }
                return result
            } catch APIClientError.unreachable(let url, _) {
                if !said { write("── lost the coordinator at \(url); reconnecting") }
                said = true
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(10))
            }
        }
    }

    func format(_ line: LogLine, _ formatter: DateFormatter) -> String {
        let late = line.late == true ? "after the end" : nil
        let tags = [line.source == .flow ? nil : line.source.rawValue, late].compactMap { $0 }
        let source = tags.isEmpty ? "" : "[\(tags.joined(separator: ", "))] "
        return "\(formatter.string(from: line.timestamp)) \(line.level.rawValue.uppercased().padding(toLength: 7, withPad: " ", startingAt: 0)) \(source)\(line.message)"
    }

    /// The closing line: final state, and the reason when it did not complete.
    public static func summary(_ run: FlowRun) -> String {
        let duration = run.startedAt.flatMap { start in run.endedAt.map { String(format: " in %.2f s", $0.timeIntervalSince(start)) } } ?? ""
        let reason = run.stateMessage.isEmpty ? "" : ": \(run.stateMessage)"
        return "── flow run \(run.id) (\(run.flowName)) \(run.state)\(duration)\(reason)"
    }
}
