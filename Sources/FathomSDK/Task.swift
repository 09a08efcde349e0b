import FathomAPI
import FathomCore
import FathomStorage
import Foundation
import Logging

/// A task exceeded its timeout.
public struct TaskTimeoutError: Error, CustomStringConvertible {
    public var taskName: String
    public var timeout: Duration

    public var description: String { "task '\(taskName)' timed out after \(timeout)" }
}

/// What a task body can use: its run id, attempt number and logger.
public struct TaskContext: Sendable {
    public let taskRunID: TaskRunID
    public let name: String
    /// 1 for the first try.
    public let attempt: Int
    /// Records go to the coordinator, attached to this task run.
    public let logger: Logger
}

enum TaskNesting {
    /// Set inside a task body, so nested tasks do not wait for a permit their parent holds.
    @TaskLocal static var insideTask = false
}

extension FlowContext {
    /// Runs `body` as a task run, with retries and a timeout, and records its states and result.
    ///
    /// Tasks started concurrently (`async let`, task groups, ``map(_:concurrency:_:)``) run in parallel,
    /// up to the flow run's concurrency limit. A task that throws after its last attempt rethrows,
    /// so failures propagate to the flow.
    ///
    /// In a resumed attempt (`fathom retry RUN --resume`), a task whose cache key matches a finished task of
    /// the attempt it resumes is not run: it returns that task's stored result and shows as Cached. The key is
    /// the task's name and occurrence, its `inputs` and the code version (`cacheVersion`, or the bundle's
    /// sha256); the result must be `Codable` to be reused. Results up to 64 KiB as JSON are kept by the coordinator;
    /// larger ones (up to 256 MiB) go to the run's result store (`FATHOM_RESULT_STORE`: an S3 prefix or a path; by
    /// default the run's workspace on `scratch`), and the coordinator keeps a reference with their size and
    /// sha256. Tasks with one name that start concurrently should declare `inputs`, so that their keys do not
    /// depend on start order.
    ///
    /// `outputs` are the files the task writes (absolute, or relative to the run's workspace on the `scratch`
    /// volume). They must exist when the body returns; their sizes and modification times are recorded, and a
    /// resumed attempt reuses the task only while every one is unchanged (else it runs again, and says why).
    @discardableResult
    public func task<T: Sendable>(
        _ name: String, inputs: (any Encodable & Sendable)? = nil, outputs: [String] = [], cacheVersion: String? = nil,
        retries: Int = 0, retryDelay: Duration = .zero, timeout: Duration? = nil,
        _ body: @escaping @Sendable (TaskContext) async throws -> T
    ) async throws -> T {
        let outputPaths = try outputs.map { $0.hasPrefix("/") ? $0 : try workspace("scratch") + "/" + $0 }
        let id = Identifier.make()
        let taskLogger = taskLogger(taskRunID: id, name: name)
        let startedAt = Date()
        var cacheKey: String?
        do {
            cacheKey = try cache?.nextKey(name: name, inputs: inputs, cacheVersion: cacheVersion)
        } catch {
            taskLogger.warning("task '\(name)' has no cache key (its inputs do not encode as JSON: \(error)); a resumed attempt runs it again")
        }
        if let cacheKey, let earlier = cache?.entry(cacheKey) {
            if let stale = TaskOutputs.staleness(of: earlier.outputs) {
                taskLogger.info("task '\(name)' runs again: \(stale) (recorded by run \(earlier.source))")
            } else {
                switch await storedValue(earlier, as: T.self) {
                case .success(let value):
                    taskLogger.info("task '\(name)' reused the result of run \(earlier.source) (same cache key); not run again")
                    sink.taskRun(TaskRunUpdate(
                        id: id, name: name, state: .cached, attempt: 1, startedAt: startedAt, endedAt: Date(),
                        message: "result of run \(earlier.source)", result: earlier.result, cacheKey: cacheKey,
                        cachedFrom: earlier.source, outputs: earlier.outputs.isEmpty ? nil : earlier.outputs,
                        resultRef: earlier.resultRef))
                    return value
                case .failure(let reason):
                    taskLogger.info("task '\(name)' runs again: \(reason) (recorded by run \(earlier.source))")
                }
            }
        }
        var attempt = 1
        while true {
            try Task.checkCancellation()
            sink.taskRun(TaskRunUpdate(
                id: id, name: name, state: .running, attempt: attempt, startedAt: startedAt, endedAt: nil, cacheKey: cacheKey))
            let context = TaskContext(taskRunID: id, name: name, attempt: attempt, logger: taskLogger)
            do {
                let value = try await runAttempt(name: name, timeout: timeout) { try await body(context) }
                let written = try TaskOutputs.record(outputPaths, task: name)
                let stored = await storeResult(value, taskRunID: id, name: name, logger: taskLogger)
                sink.taskRun(TaskRunUpdate(
                    id: id, name: name, state: .completed, attempt: attempt, startedAt: startedAt, endedAt: Date(),
                    result: stored.inline, cacheKey: cacheKey, outputs: written.isEmpty ? nil : written, resultRef: stored.reference))
                return value
            } catch {
                let cancelled = error is CancellationError || Task.isCancelled
                if !cancelled && attempt <= retries {
                    let message = "attempt \(attempt) of \(retries + 1) failed: \(error)"
                    taskLogger.warning("\(message); retrying in \(retryDelay)")
                    sink.taskRun(TaskRunUpdate(
                        id: id, name: name, state: .retrying, attempt: attempt, startedAt: startedAt, endedAt: nil,
                        message: message, cacheKey: cacheKey))
                    attempt += 1
                    if retryDelay > .zero { try await Task.sleep(for: retryDelay) }
                    continue
                }
                if !cancelled { taskLogger.error("task '\(name)' failed: \(error)") }
                sink.taskRun(TaskRunUpdate(
                    id: id, name: name, state: cancelled ? .cancelled : .failed, attempt: attempt, startedAt: startedAt,
                    endedAt: Date(), message: cancelled ? "cancelled" : "\(error)", cacheKey: cacheKey))
                throw error
            }
        }
    }

    /// Runs `body` for every element as its own task, concurrently up to `concurrency`, keeping order.
    public func map<Element: Sendable, T: Sendable>(
        _ elements: [Element], concurrency: Int? = nil, name: @escaping @Sendable (Element) -> String = { "\($0)" },
        _ body: @escaping @Sendable (Element, TaskContext) async throws -> T
    ) async throws -> [T] {
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            var results = [T?](repeating: nil, count: elements.count)
            var next = 0
            let width = concurrency ?? elements.count
            func addNext() {
                let index = next
                let element = elements[index]
                // The element's index is an input, so each item's cache key is its own whatever the start order.
                group.addTask { (index, try await self.task(name(element), inputs: index) { try await body(element, $0) }) }
                next += 1
            }
            while next < min(width, elements.count) { addNext() }
            while let (index, value) = try await group.next() {
                results[index] = value
                if next < elements.count { addNext() }
            }
            return results.map { $0! }
        }
    }

    private func runAttempt<T: Sendable>(
        name: String, timeout: Duration?, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let nested = TaskNesting.insideTask
        if !nested { try await limiter.acquire() }
        defer { if !nested { limiter.release() } }
        return try await TaskNesting.$insideTask.withValue(true) {
            guard let timeout else { return try await body() }
            return try await withThrowingTaskGroup(of: T.self) { group in
                group.addTask { try await body() }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw TaskTimeoutError(taskName: name, timeout: timeout)
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        }
    }
}

