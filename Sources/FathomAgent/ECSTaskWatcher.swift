import AWS
import Foundation
import Logging

/// Polls DescribeTasks for every task the agent watches: one batched call per region and cluster
/// per interval, however many runs are in flight. Every waiter hears about every poll, good or bad,
/// so no failure of AWS can leave a run waiting in silence.
actor ECSTaskWatcher {
    /// A cluster in a region: `fathom` and `arn:aws:ecs:eu-west-1:…:cluster/fathom` are one cluster,
    /// `fathom` in two regions are two.
    struct ClusterKey: Hashable, Sendable {
        var region: String
        var name: String

        init(region: String, cluster: String) {
            if cluster.hasPrefix("arn:"), let slash = cluster.lastIndex(of: "/") {
                let parts = cluster.split(separator: ":", omittingEmptySubsequences: false)
                self.region = parts.count > 3 ? String(parts[3]) : region
                self.name = String(cluster[cluster.index(after: slash)...])
            } else {
                self.region = region
                self.name = cluster
            }
        }
    }

    struct Watched {
        var key: ClusterKey
        var cluster: String
        var ecs: ECSClient
        var latest: ECSTask?
        var waiters: [Int: CheckedContinuation<ECSTaskWatcher.Event, Never>] = [:]
    }

    /// What a waiter learns.
    enum Event: Sendable {
        case stopped(ECSTask)
        /// DescribeTasks answered `MISSING` for the task.
        case missing
        case status(ECSTask)
        /// The poll failed: the task's state is unknown this round.
        case pollFailed(AWSError)
        /// The waiter's deadline passed before any news.
        case tick
        /// The task is no longer watched.
        case forgotten
    }

    private var watched: [String: Watched] = [:]
    private var poller: Task<Void, Never>?
    private var nextWaiterID = 0
    let interval: Duration
    let logger: Logger

    init(interval: Duration, logger: Logger) {
        self.interval = interval
        self.logger = logger
    }

    func watch(taskArn: String, cluster: String, region: String, ecs: ECSClient) {
        if watched[taskArn] == nil {
            watched[taskArn] = Watched(key: ClusterKey(region: region, cluster: cluster), cluster: cluster, ecs: ecs)
        }
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
        let waiters = watched[taskArn]?.waiters.values.map { $0 } ?? []
        watched[taskArn] = nil
        for waiter in waiters { waiter.resume(returning: .forgotten) }
    }

    /// Waits for the next poll's news about a task, or `.tick` at `deadline`.
    func next(_ taskArn: String, until deadline: ContinuousClock.Instant) async -> Event {
        guard watched[taskArn] != nil else { return .forgotten }
        nextWaiterID += 1
        let id = nextWaiterID
        let timer = Task { [weak self] in
            try? await Task.sleep(until: deadline, clock: .continuous)
            await self?.resume(taskArn, waiter: id, with: .tick)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            watched[taskArn]?.waiters[id] = continuation
        }
    }

    private func resume(_ taskArn: String, waiter id: Int, with event: Event) {
        guard let waiter = watched[taskArn]?.waiters.removeValue(forKey: id) else { return }
        waiter.resume(returning: event)
    }

    func latest(_ taskArn: String) -> ECSTask? {
        watched[taskArn]?.latest
    }

    func pollOnce() async {
        let byCluster = Dictionary(grouping: watched, by: { $0.value.key })
        for (key, entries) in byCluster {
            guard let first = entries.first?.value else { continue }
            let arns = entries.map(\.key)
            do {
                let described = try await first.ecs.describeTasks(cluster: first.cluster, tasks: arns)
                var seen: Set<String> = []
                for task in described.tasks ?? [] {
                    guard let arn = task.taskArn, watched[arn] != nil else { continue }
                    seen.insert(arn)
                    watched[arn]?.latest = task
                    deliver(arn, task.lastStatus == "STOPPED" ? .stopped(task) : .status(task))
                }
                for failure in described.failures ?? [] {
                    guard let arn = failure.arn, watched[arn] != nil, !seen.contains(arn) else { continue }
                    seen.insert(arn)
                    deliver(arn, .missing)
                }
                for arn in arns where !seen.contains(arn) { deliver(arn, .missing) }
            } catch {
                let failure = error as? AWSError ?? .unreachable(service: "ecs:DescribeTasks", endpoint: "", underlying: "\(error)")
                logger.warning("DescribeTasks failed", metadata: ["cluster": "\(key.name)", "region": "\(key.region)", "error": "\(failure)"])
                for arn in arns { deliver(arn, .pollFailed(failure)) }
            }
        }
    }

    private func deliver(_ arn: String, _ event: Event) {
        let waiters = watched[arn]?.waiters.values.map { $0 } ?? []
        watched[arn]?.waiters = [:]
        for waiter in waiters { waiter.resume(returning: event) }
    }
}
