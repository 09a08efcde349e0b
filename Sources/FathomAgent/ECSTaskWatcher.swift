import AWS
import Foundation
import Logging

/// Polls DescribeTasks for every task the agent watches: one batched call per cluster per
/// interval, however many runs are in flight.
actor ECSTaskWatcher {
    struct Watched {
        var cluster: String
        var ecs: ECSClient
        var latest: ECSTask?
        var waiters: [CheckedContinuation<ECSTaskWatcher.Event, Never>] = []
    }

    /// What a waiter learns.
    enum Event: Sendable {
        case stopped(ECSTask)
        case missing
        case status(ECSTask)
    }

    private var watched: [String: Watched] = [:]
    private var poller: Task<Void, Never>?
    let interval: Duration
    let logger: Logger

    init(interval: Duration, logger: Logger) {
        self.interval = interval
        self.logger = logger
    }

    func watch(taskArn: String, cluster: String, ecs: ECSClient) {
        if watched[taskArn] == nil { watched[taskArn] = Watched(cluster: cluster, ecs: ecs) }
        if poller == nil {
            poller = Task { [weak self] in
                while !Task.isCancelled {
                    guard let self else { return }
                    try? await Task.sleep(for: self.interval)
                    await self.pollOnce()
                }
            }
        }
    }

    func forget(_ taskArn: String) {
        watched[taskArn] = nil
    }

    /// Waits for the next poll's news about a task.
    func next(_ taskArn: String) async -> Event {
        await withCheckedContinuation { continuation in
            if watched[taskArn] == nil {
                continuation.resume(returning: .missing)
            } else {
                watched[taskArn]!.waiters.append(continuation)
            }
        }
    }

    func latest(_ taskArn: String) -> ECSTask? {
        watched[taskArn]?.latest
    }

    func pollOnce() async {
        let byCluster = Dictionary(grouping: watched, by: { $0.value.cluster })
        for (cluster, entries) in byCluster {
            guard let ecs = entries.first?.value.ecs else { continue }
            let arns = entries.map(\.key)
            do {
                let described = try await ecs.describeTasks(cluster: cluster, tasks: arns)
                var seen: Set<String> = []
                for task in described.tasks ?? [] {
                    guard let arn = task.taskArn, watched[arn] != nil else { continue }
                    seen.insert(arn)
                    watched[arn]!.latest = task
                    deliver(arn, task.lastStatus == "STOPPED" ? .stopped(task) : .status(task))
                }
                for failure in described.failures ?? [] where failure.reason == "MISSING" {
                    if let arn = failure.arn, watched[arn] != nil, !seen.contains(arn) { deliver(arn, .missing) }
                }
            } catch {
                logger.warning("DescribeTasks failed; will retry", metadata: ["cluster": "\(cluster)", "error": "\(error)"])
            }
        }
    }

    private func deliver(_ arn: String, _ event: Event) {
        let waiters = watched[arn]?.waiters ?? []
        watched[arn]?.waiters = []
        for waiter in waiters { waiter.resume(returning: event) }
    }
}
