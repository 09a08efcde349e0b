import FathomAPI
import FathomCore
import Foundation
import Synchronization

/// Where a running flow's task runs and log records go.
///
/// Calls never block: records are queued and shipped in batches. ``flush()`` waits until every
/// record queued so far has been accepted.
public protocol RunEventSink: Sendable {
    func log(_ entry: LogEntry)
    func taskRun(_ update: TaskRunUpdate)
    func flush() async
}

/// Ships records to the coordinator in batches: every `interval`, or at once when `batchSize`
/// records are waiting. A failed send is retried with backoff; records are kept until accepted.
/// Once the coordinator says the run has ended (409 `run_final`), log records go to `onRefused`
/// instead, for the process's standard error, which its agent copies as late process output.
public final class CoordinatorEventSink: RunEventSink {
    private struct Pending {
        var logs: [LogEntry] = []
        /// Latest update per task run, in first-seen order.
        var taskRuns: [TaskRunID: TaskRunUpdate] = [:]
        var taskRunOrder: [TaskRunID] = []
        var wake: CheckedContinuation<Void, Never>?
        var sendsInFlight = 0
        var flushWaiters: [CheckedContinuation<Void, Never>] = []
        /// The coordinator refused lines because the run had ended: no more are sent.
        var runEnded = false
        var isEmpty: Bool { logs.isEmpty && taskRuns.isEmpty }

        mutating func takeWake() -> CheckedContinuation<Void, Never>? {
            defer { wake = nil }
            return wake
        }
    }

    private let client: APIClient
    private let runID: FlowRunID
    private let batchSize: Int
    private let interval: Duration
    private let pending = Mutex(Pending())
    private let shipper = Mutex<Task<Void, Never>?>(nil)
    private let processOutput: Bool
    private let onRefused: @Sendable ([LogEntry]) -> Void

    /// - Parameters:
    ///   - processOutput: the records are the process's own output as its agent copies it; the coordinator
    ///     keeps them after the run ended, marked late.
    ///   - onRefused: gets the log records the coordinator refused because the run had ended.
    public init(
        client: APIClient, runID: FlowRunID, batchSize: Int = 1000, interval: Duration = .milliseconds(50), processOutput: Bool = false,
        onRefused: @escaping @Sendable ([LogEntry]) -> Void = { _ in }
    ) {
        self.client = client
        self.runID = runID
        self.batchSize = batchSize
        self.interval = interval
        self.processOutput = processOutput
        self.onRefused = onRefused
        let task = Task { [weak self] in _ = await self?.shipLoop() }
        shipper.withLock { $0 = task }
    }

    deinit {
        shipper.withLock { $0?.cancel() }
    }

    /// Queues a log record.
    public func log(_ entry: LogEntry) {
        let (wake, ended) = pending.withLock { state -> (CheckedContinuation<Void, Never>?, Bool) in
            if state.runEnded { return (nil, true) }
            state.logs.append(entry)
            return (state.logs.count >= batchSize ? state.takeWake() : nil, false)
        }
        if ended { onRefused([entry]) }
        wake?.resume()
    }

    /// Queues a task run's latest state (a newer one for the same id replaces it).
    public func taskRun(_ update: TaskRunUpdate) {
        let wake = pending.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.taskRuns.updateValue(update, forKey: update.id) == nil { state.taskRunOrder.append(update.id) }
            return state.taskRuns.count >= batchSize ? state.takeWake() : nil
        }
        wake?.resume()
    }

    /// Waits until every record queued so far was accepted (or refused as late).
    public func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (done, wake) = pending.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
                if state.isEmpty && state.sendsInFlight == 0 { return (true, nil) }
                state.flushWaiters.append(continuation)
                return (false, state.takeWake())
            }
            wake?.resume()
            if done { continuation.resume() }
        }
    }

    /// Stops shipping after a last flush.
    public func close() async {
        await flush()
        shipper.withLock { $0?.cancel() }
    }

    /// Stops shipping after a last flush that may take at most `limit`: a flow process must end even when its
    /// coordinator never comes back. Returns the log records that could not be delivered (oldest first), for the
    /// caller to write where the infrastructure keeps them (standard error, CloudWatch).
    public func close(giveUpAfter limit: Duration) async -> [LogEntry] {
        let delivered = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.flush(); return true }
            group.addTask { (try? await Task.sleep(for: limit)) != nil ? false : true }
            let first = await group.next() ?? true
            if !first { self.abandon() }
            group.cancelAll()
            return first
        }
        shipper.withLock { $0?.cancel() }
        guard !delivered else { return [] }
        return pending.withLock { state in
            defer { state.logs = [] }
            return state.logs
        }
    }

    /// Stops the shipper and releases everyone waiting for a flush; what is still queued stays queued.
    private func abandon() {
        shipper.withLock { $0?.cancel() }
        let waiters = pending.withLock { state -> [CheckedContinuation<Void, Never>] in
            defer { state.flushWaiters = [] }
            return state.flushWaiters + (state.takeWake().map { [$0] } ?? [])
        }
        for waiter in waiters { waiter.resume() }
    }

    private func shipLoop() async {
        while !Task.isCancelled {
            let hasWork = pending.withLock { !$0.isEmpty }
            if !hasWork {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { [interval] in try? await Task.sleep(for: interval * 4) }
                    group.addTask {
                        await withCheckedContinuation { continuation in
                            let resumeNow = self.pending.withLock { state -> Bool in
                                if !state.isEmpty || !state.flushWaiters.isEmpty { return true }
                                state.wake = continuation
                                return false
                            }
                            if resumeNow { continuation.resume() }
                        }
                    }
                    await group.next()
                    group.cancelAll()
                    self.pending.withLock { $0.takeWake() }?.resume()
                }
                continue
            }
            // Let a burst gather into one batch, unless a flush is waiting.
            let urgent = pending.withLock { !$0.flushWaiters.isEmpty || $0.logs.count >= batchSize }
            if !urgent { try? await Task.sleep(for: interval) }
            await shipOnce()
        }
    }

    private func shipOnce() async {
        let (logs, updates) = pending.withLock { state -> ([LogEntry], [TaskRunUpdate]) in
            let logs = Array(state.logs.prefix(batchSize))
            state.logs.removeFirst(logs.count)
            let ids = Array(state.taskRunOrder.prefix(batchSize))
            state.taskRunOrder.removeFirst(ids.count)
            let updates = ids.compactMap { state.taskRuns.removeValue(forKey: $0) }
            state.sendsInFlight += 1
            return (logs, updates)
        }
        var delay = Duration.milliseconds(100)
        // One id for every attempt at these lines: an attempt that reached the coordinator but lost its answer is
        // not stored twice.
        let batchID = Identifier.make()
        var sentUpdates = updates.isEmpty
        var sentLogs = logs.isEmpty
        while !(sentUpdates && sentLogs) {
            if Task.isCancelled {
                // Given up on the coordinator: put the batch back, for close(giveUpAfter:) to report.
                pending.withLock { state in
                    if !sentLogs { state.logs.insert(contentsOf: logs, at: 0) }
                }
                break
            }
            do {
                if !sentUpdates {
                    try await client.sendTaskRuns(runID, updates)
                    sentUpdates = true
                }
                if !sentLogs {
                    try await client.sendLogs(runID, logs, processOutput: processOutput, batchID: batchID)
                    sentLogs = true
                }
            } catch let error as APIClientError where error.status == 404 {
                break  // The run is gone; nothing can accept these records.
            } catch let error as APIClientError where error.code == "run_final" {
                // The run has ended: these lines and every later one go where the agent copies them from.
                let queued = pending.withLock { state -> [LogEntry] in
                    state.runEnded = true
                    defer { state.logs = [] }
                    return state.logs
                }
                onRefused(logs + queued)
                sentLogs = true
            } catch {
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        let waiters = pending.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.sendsInFlight -= 1
            guard state.isEmpty && state.sendsInFlight == 0 else { return [] }
            defer { state.flushWaiters = [] }
            return state.flushWaiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Keeps records in memory; for tests and for running a flow without a coordinator.
public final class MemoryEventSink: RunEventSink {
    private let state = Mutex<(logs: [LogEntry], taskRuns: [TaskRunUpdate])>(([], []))

    /// An empty sink.
    public init() {}

    public func log(_ entry: LogEntry) { state.withLock { $0.logs.append(entry) } }
    public func taskRun(_ update: TaskRunUpdate) { state.withLock { $0.taskRuns.append(update) } }
    public func flush() async {}

    /// Every log record so far.
    public var logs: [LogEntry] { state.withLock { $0.logs } }
    /// Every task run update so far, in order.
    public var taskRunUpdates: [TaskRunUpdate] { state.withLock { $0.taskRuns } }
    /// The latest update of each task run, in first-seen order.
    public var latestTaskRuns: [TaskRunUpdate] {
        state.withLock { state in
            var order: [TaskRunID] = []
            var latest: [TaskRunID: TaskRunUpdate] = [:]
            for update in state.taskRuns {
                if latest.updateValue(update, forKey: update.id) == nil { order.append(update.id) }
            }
            return order.compactMap { latest[$0] }
        }
    }
}
