import AWS
import FathomAPI
import FathomClient
import FathomCore
import FathomECS
import Foundation
import Synchronization

/// Copies a flow container's CloudWatch stream (awslogs) into the run's logs, each event once.
///
/// CloudWatch answers with empty pages before the data, so only a forward token that repeats
/// means the end; a page is taken as read only once the coordinator accepted its lines. Each page's
/// lines go with the position after them (``streamKey``, ``tokenKey`` in the run's infrastructure),
/// stored in the same transaction, so a restarted agent resumes exactly after the last accepted line.
/// A stream that does not exist yet is normal while the container starts; a denied GetLogEvents is
/// said in the run's logs once.
final class ECSLogStreamer: Sendable {
    private struct State {
        var streamer: Task<Void, Never>?
        var finishing = false
        var recent: [String] = []
        var deniedReported = false
    }

    /// The infrastructure keys of the read position.
    static let streamKey = InfrastructureKey.logReadStream.rawValue
    static let tokenKey = InfrastructureKey.logReadToken.rawValue

    let group: String
    let streamPrefix: String
    let container: String
    let logs: CloudWatchLogsClient
    let api: APIClient
    let runID: FlowRunID
    let interval: Duration
    /// Pages read in one go before a pause (and at most in the final read).
    let maxPagesPerRound = 100
    private let state = Mutex(State())

    init(config: ECSLogs, container: String, logs: CloudWatchLogsClient, api: APIClient, runID: FlowRunID, interval: Duration) {
        group = config.group
        streamPrefix = config.streamPrefix
        self.container = container
        self.logs = logs
        self.api = api
        self.runID = runID
        self.interval = interval
    }

    /// `<prefix>/<container>/<task id>`, as awslogs names it.
    func streamName(_ taskArn: String) -> String {
        "\(streamPrefix)/\(container)/\(ECSLaunchedRun.taskID(taskArn))"
    }

    /// The last `count` lines copied, for a crash message.
    func lastLines(_ count: Int) -> [String] {
        state.withLock { Array($0.recent.suffix(count)) }
    }

    /// Starts following the stream of `taskArn` (a retried start follows its new task), from the stored
    /// position of `resumeFrom` (a run's infrastructure) when it is this stream's.
    func start(taskArn: String, resumeFrom infrastructure: [String: String] = [:]) {
        let stream = streamName(taskArn)
        let stored = infrastructure[Self.streamKey] == stream ? infrastructure[Self.tokenKey] : nil
        let task = Task { [self] in
            var token: String? = stored
            while true {
                let finalPass = state.withLock { $0.finishing }
                token = await readRound(stream: stream, from: token, untilEnd: finalPass)
                if finalPass || Task.isCancelled { return }
                try? await Task.sleep(for: interval)
            }
        }
        state.withLock { state in
            state.streamer?.cancel()
            state.streamer = task
            state.finishing = false
        }
    }

    /// Stops following the stream at once, without a final read (the agent is going away).
    func abandon() {
        state.withLock { $0.streamer?.cancel() }
    }

    /// Reads what is left of the stream, then stops following it.
    func finish() async {
        let streamer = state.withLock { state -> Task<Void, Never>? in
            state.finishing = true
            return state.streamer
        }
        await streamer?.value
    }

    /// Reads pages from `token` until the token repeats (the end for now) or the round's page budget is spent.
    private func readRound(stream: String, from start: String?, untilEnd: Bool) async -> String? {
        var token = start
        for _ in 0..<maxPagesPerRound {
            let page: LogEventsPage
            do {
                page = try await logs.getLogEvents(group: group, stream: stream, nextToken: token)
            } catch let error as AWSError {
                await reportIfDenied(error)
                return token  // ResourceNotFoundException: the container has not started yet
            } catch {
                return token
            }
            if !page.events.isEmpty {
                let entries = page.events.map {
                    LogEntry(timestamp: Date(timeIntervalSince1970: Double($0.timestamp) / 1000), level: .info, message: $0.message, source: .container)
                }
                let position = page.nextToken.map { [Self.streamKey: stream, Self.tokenKey: $0] }
                guard await deliver(entries, position: position) else { return token }  // read this page again next round
                state.withLock { $0.recent = Array(($0.recent + page.events.map(\.message)).suffix(50)) }
            }
            guard let next = page.nextToken, next != token else { return token }
            token = next
        }
        return token
    }

    /// Sends lines, with the read position after them, to the coordinator, a few tries; false if they did not arrive.
    private func deliver(_ entries: [LogEntry], position: [String: String]?) async -> Bool {
        let batchID = Identifier.make()
        return await Retrying(attempts: 5).run {
            try await api.sendLogs(runID, entries, infrastructure: position, processOutput: true, batchID: batchID)
        } != nil
    }

    private func reportIfDenied(_ error: AWSError) async {
        guard error.serviceError?.isAccessDenied == true else { return }
        let first = state.withLock { state -> Bool in
            defer { state.deniedReported = true }
            return !state.deniedReported
        }
        guard first else { return }
        _ = await deliver([LogEntry(
            timestamp: Date(), level: .error,
            message: "cannot copy the container's CloudWatch output into these logs: \(error.explained)", source: .agent)], position: nil)
    }
}
