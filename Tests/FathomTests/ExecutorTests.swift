import FathomCore
import FathomSDK
import Foundation
import Synchronization
import Testing

/// The SDK's task executor: concurrency, retries, timeouts, failures, cancellation, shell tasks.
struct ExecutorTests {
    func makeContext(limit: Int = 16) -> (FlowContext, MemoryEventSink) {
        let sink = MemoryEventSink()
        return (FlowContext(runID: Identifier.make(), flowName: "test", sink: sink, maxConcurrentTasks: limit), sink)
    }

    final class Gauge: Sendable {
        private let state = Mutex((current: 0, peak: 0))
        func enter() { state.withLock { $0.current += 1; $0.peak = max($0.peak, $0.current) } }
        func leave() { state.withLock { $0.current -= 1 } }
        var peak: Int { state.withLock { $0.peak } }
    }

    @Test func concurrencyIsBoundedByTheLimit() async throws {
        let (context, sink) = makeContext(limit: 3)
        let gauge = Gauge()
        let results = try await context.map(Array(0..<12)) { index, _ in
            gauge.enter()
            try await Task.sleep(for: .milliseconds(40))
            gauge.leave()
            return index * 2
        }
        #expect(results == Array(0..<12).map { $0 * 2 })
        #expect(gauge.peak == 3)
        #expect(sink.latestTaskRuns.count == 12)
        #expect(sink.latestTaskRuns.allSatisfy { $0.state == .completed })
    }

    @Test func independentTasksRunInParallel() async throws {
        let (context, _) = makeContext(limit: 8)
        let gauge = Gauge()
        // Each task waits (up to 10 s) to see the other one running: one after the other, neither would.
        async let a = context.task("a") { _ in try await Self.meet(gauge) }
        async let b = context.task("b") { _ in try await Self.meet(gauge) }
        let (metA, metB) = try await (a, b)
        #expect(metA && metB, "both tasks were running at the same moment")
    }

    /// Enters the gauge and waits until two are inside; true if they were.
    static func meet(_ gauge: Gauge) async throws -> Bool {
        gauge.enter()
        defer { gauge.leave() }
        let deadline = ContinuousClock.now + .seconds(10)
        while gauge.peak < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        return gauge.peak >= 2
    }

    @Test func nestedTasksDoNotDeadlockUnderALimitOfOne() async throws {
        let (context, sink) = makeContext(limit: 1)
        let value = try await context.task("outer") { _ in
            try await context.task("inner") { _ in 41 } + 1
        }
        #expect(value == 42)
        #expect(sink.latestTaskRuns.map(\.name) == ["outer", "inner"])
    }

    @Test func retriesWaitTheirDelayAndRecordEachAttempt() async throws {
        let (context, sink) = makeContext()
        let attempts = Mutex(0)
        let start = ContinuousClock.now
        let value = try await context.task("flaky", retries: 3, retryDelay: .milliseconds(100)) { task in
            let attempt = attempts.withLock { $0 += 1; return $0 }
            #expect(task.attempt == attempt)
            if attempt < 3 { throw CocoaError(.fileReadUnknown) }
            return "ok on \(attempt)"
        }
        #expect(value == "ok on 3")
        #expect(ContinuousClock.now - start >= .milliseconds(200))
        let states = sink.taskRunUpdates.map(\.state)
        #expect(states == [.running, .retrying, .running, .retrying, .running, .completed])
        #expect(sink.latestTaskRuns.first?.attempt == 3)
        #expect(sink.latestTaskRuns.first?.result == .string("ok on 3"))
    }

    @Test func aTaskThatKeepsFailingFailsAfterItsLastAttempt() async throws {
        let (context, sink) = makeContext()
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await context.task("always", retries: 2) { _ in throw Boom() }
        }
        let last = try #require(sink.latestTaskRuns.first)
        #expect(last.state == .failed)
        #expect(last.attempt == 3)
        #expect(sink.logs.contains { $0.level == "error" && $0.message.contains("task 'always' failed") })
    }

    @Test func timeoutsStopSlowTasks() async throws {
        let (context, sink) = makeContext()
        let start = ContinuousClock.now
        await #expect(throws: TaskTimeoutError.self) {
            try await context.task("slow", timeout: .milliseconds(100)) { _ in try await Task.sleep(for: .seconds(120)) }
        }
        // Without the timeout it would take 120 s. The margin is wide on purpose: while a test process starts its
        // servers on a 2-core machine, a 100 ms timer has been seen to fire 12 s late.
        #expect(ContinuousClock.now - start < .seconds(60))
        #expect(sink.latestTaskRuns.first?.state == .failed)
        #expect(sink.latestTaskRuns.first?.message?.contains("timed out after") == true)
    }

    @Test func aFailureInOneTaskPropagatesAndCancelsItsSiblings() async throws {
        let (context, sink) = makeContext()
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await context.task("slow") { _ in try await Task.sleep(for: .seconds(10)) } }
                group.addTask { try await context.task("bad") { _ in throw Boom() } }
                // The first failure leaves the group, which cancels the sibling.
                for try await _ in group {}
            }
        }
        let states = Dictionary(uniqueKeysWithValues: sink.latestTaskRuns.map { ($0.name, $0.state) })
        #expect(states["bad"] == .failed)
        #expect(states["slow"] == .cancelled)
    }

    @Test func cancellationEndsATaskCancelled() async throws {
        let (context, sink) = makeContext()
        let task = Task { try await context.task("sleepy") { _ in try await Task.sleep(for: .seconds(10)) } }
        #expect(await eventually { sink.taskRunUpdates.count == 1 })
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(sink.latestTaskRuns.first?.state == .cancelled)
    }

    @Test func shellStreamsOutputIntoTheLogs() async throws {
        let (context, sink) = makeContext()
        let result = try await context.shell("echo one; echo two; echo warn >&2", name: "echo")
        #expect(result.stdoutLines == 2)
        let lines = sink.logs.filter { $0.taskRunID != nil }.map { "\($0.source):\($0.message)" }
        #expect(lines.contains("stdout:one") && lines.contains("stdout:two") && lines.contains("stderr:warn"))
    }

    @Test func shellFailsOnANonZeroExitWithItsStderr() async throws {
        let (context, sink) = makeContext()
        do {
            try await context.shell("echo 'no such input' >&2; exit 3", name: "bad")
            Issue.record("expected a ShellError")
        } catch let error as ShellError {
            #expect(error.exit.exitCode == 3)
            #expect(error.description.contains("exited with status 3"))
            #expect(error.description.contains("no such input"))
        }
        #expect(sink.latestTaskRuns.first?.state == .failed)
    }

    @Test func cancellingAShellTaskKillsItsWholeProcessGroup() async throws {
        let (context, _) = makeContext()
        let directory = TemporaryDirectory()
        let pidFile = directory.file("pids")
        // The shell starts a grandchild; both must die.
        let task = Task {
            try await context.shell("sleep 300 & echo $! > '\(pidFile)'; echo $$ >> '\(pidFile)'; wait", name: "sleepers")
        }
        #expect(await eventually(timeout: .seconds(60)) { ((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").split(separator: "\n").count == 2 })
        let pids = try String(contentsOfFile: pidFile, encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
        #expect(pids.count == 2)
        task.cancel()
        _ = try? await task.value
        let gone = await eventually(timeout: .seconds(30)) { pids.allSatisfy { kill($0, 0) != 0 } }
        #expect(gone, "processes \(pids) should have been killed")
    }
}
