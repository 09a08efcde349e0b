import FathomAPI
import FathomCore
import FathomStorage
import Foundation
import Logging
import Synchronization

/// What a running flow sees: its run, logger, volumes, and the task runner.
public final class FlowContext: Sendable {
    /// The id of this flow run.
    public let runID: FlowRunID
    /// The flow's name.
    public let flowName: String
    /// Records go to the coordinator as the run's logs.
    public let logger: Logger
    /// Named volumes and their mount paths on this machine or container.
    public let volumes: [String: String]
    /// The coordinator this run reports to (nil when the flow runs without one, as in unit tests).
    public let coordinator: APIClient?
    let sink: any RunEventSink
    let limiter: ConcurrencyLimiter
    let echoLogs: Bool
    /// Task cache keys, and the finished tasks of the attempt this one resumes; nil without a coordinator.
    let cache: TaskCache?
    /// Whose workspace this run uses: its own id, or for a resumed attempt the first run of the resume chain,
    /// so that the files reused tasks wrote are where the later tasks look.
    public let workspaceID: FlowRunID
    /// Where task results too large for the coordinator go (`FATHOM_RESULT_STORE`, else the run's workspace on
    /// `scratch`); nil when the run has neither, and then such results are not kept.
    let resultStore: (any TaskResultStore)?

    /// - Parameters:
    ///   - maxConcurrentTasks: how many tasks may run at once in this flow run.
    public convenience init(
        runID: FlowRunID, flowName: String, sink: any RunEventSink, volumes: [String: String] = [:],
        maxConcurrentTasks: Int = 16, echoLogs: Bool = false, coordinator: APIClient? = nil
    ) {
        self.init(
            runID: runID, flowName: flowName, sink: sink, volumes: volumes, maxConcurrentTasks: maxConcurrentTasks,
            echoLogs: echoLogs, coordinator: coordinator, cache: nil, workspaceID: nil, resultStore: nil)
    }

    init(
        runID: FlowRunID, flowName: String, sink: any RunEventSink, volumes: [String: String], maxConcurrentTasks: Int,
        echoLogs: Bool, coordinator: APIClient?, cache: TaskCache?, workspaceID: FlowRunID?,
        resultStore: (any TaskResultStore)?
    ) {
        self.resultStore = resultStore
        self.cache = cache
        self.workspaceID = workspaceID ?? runID
        self.runID = runID
        self.coordinator = coordinator
        self.flowName = flowName
        self.sink = sink
        self.volumes = volumes
        self.limiter = ConcurrencyLimiter(limit: max(1, maxConcurrentTasks))
        self.echoLogs = echoLogs
        var logger = Logger(label: "fathom.flow.\(flowName)") { _ in RunLogHandler(sink: sink, echo: echoLogs) }
        logger.logLevel = .info
        self.logger = logger
    }

    /// The mount path of a named volume.
    public func volume(_ name: String) throws -> String {
        guard let path = volumes[name] else {
            let known = volumes.keys.sorted()
            throw VolumeError(
                "volume '\(name)' is not mounted in this run (mounted: \(known.isEmpty ? "none" : known.joined(separator: ", "))). "
                    + "Map it with 'fathom agent --volume \(name)=/path' or the run config's efs list.")
        }
        return path
    }

    /// A path on a named volume, from one relative to its root (or absolute inside it). A path that leaves
    /// the volume, by `..`, an absolute path elsewhere or a symbolic link that leads out, is refused:
    /// use this for every path that comes from a parameter.
    public func path(onVolume name: String, _ path: String, field: String = "path") throws -> String {
        try ConfinedPath.resolve(path, under: try volume(name), field: field)
    }

    /// This run's own directory on a volume, `<volume>/fathom/runs/<run id>/`, created if needed; refused
    /// when a link on the volume would put it elsewhere. A resumed attempt uses the workspace of the attempt it
    /// resumes (through a chain of resumes, the first's), where the tasks it reuses left their files.
    public func workspace(_ volumeName: String) throws -> String {
        let path = try self.path(onVolume: volumeName, "fathom/runs/\(workspaceID)", field: "workspace")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        _ = try self.path(onVolume: volumeName, path, field: "workspace")  // no link appeared on the way meanwhile
        return path
    }

    /// A logger whose records are attached to a task run.
    func taskLogger(taskRunID: TaskRunID, name: String) -> Logger {
        var logger = Logger(label: "fathom.task.\(name)") { [sink, echoLogs] _ in
            RunLogHandler(sink: sink, taskRunID: taskRunID, echo: echoLogs)
        }
        logger.logLevel = self.logger.logLevel
        return logger
    }
}

/// A volume the flow asked for is not mounted.
public struct VolumeError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Bounds how many tasks run at once. Nested tasks do not take a second permit.
final class ConcurrencyLimiter: Sendable {
    private struct State {
        var inUse = 0
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextID: UInt64 = 0
    }

    private let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = limit
    }

    func acquire() async throws {
        let id = state.withLock { state -> UInt64? in
            if state.inUse < limit {
                state.inUse += 1
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Outcome { case wait, acquired, cancelled }
                let outcome = state.withLock { state -> Outcome in
                    if Task.isCancelled { return .cancelled }
                    if state.inUse < limit {
                        state.inUse += 1
                        return .acquired
                    }
                    state.waiters.append((id, continuation))
                    return .wait
                }
                switch outcome {
                case .wait: break
                case .acquired: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Hands the permit to the next waiter, or returns it.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            if state.waiters.isEmpty {
                state.inUse -= 1
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume()
    }
}

extension FlowContext {
    /// Runs blocking work (synchronous file I/O, a CPU-bound loop, a C library) on a thread of its own, so
    /// it holds none of the few threads of Swift's cooperative pool that tasks, logs and other runs share.
    ///
    /// ```swift
    /// let lines = try await context.blocking { try countLines(atPath: input) }
    /// ```
    public func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await Self.onOwnThread(work)
    }

    /// Runs `work` on a new thread and waits for it without holding a thread of the cooperative pool.
    package static func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
