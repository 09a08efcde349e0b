import FathomSDK
import FathomToolkitTasks
import Foundation

/// Flows that tests and benchmarks run as real processes.
@main
struct TestFlows: FlowBundle {
    static let flows: [any Flow.Type] = [
        Sleeper.self, Failer.self, NoopTasks.self, ShellSleeper.self, LogLines.self, Crasher.self, VolumeLister.self,
        Ticker.self, PoolBlocker.self, Resumable.self, Tally.self,
    ]
}

/// Logs, then sleeps: a target for SIGKILL and heartbeat tests.
struct Sleeper: Flow {
    static let name = "sleeper"
    struct Parameters: FlowParameters { var seconds = 60.0 }

    static func run(_ parameters: Parameters, context: FlowContext) async throws {
        context.logger.info("sleeping \(parameters.seconds) s in pid \(getpid())")
        try await Task.sleep(for: .seconds(parameters.seconds))
        context.logger.info("woke up")
    }
}

/// Throws from a task: the run must end Failed with this message in its logs.
struct Failer: Flow {
    static let name = "failer"
    struct Parameters: FlowParameters { var message = "the disk is full (test)" }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func run(_ parameters: Parameters, context: FlowContext) async throws {
        context.logger.info("about to fail")
        try await context.task("explode") { _ in throw Failure(description: parameters.message) }
    }
}

/// Runs `count` no-op tasks, `concurrency` at a time: measures per-task overhead.
struct NoopTasks: Flow {
    static let name = "noop-tasks"
    struct Parameters: FlowParameters {
        var count = 1000
        var concurrency = 16
    }

    static func run(_ parameters: Parameters, context: FlowContext) async throws {
        let started = ContinuousClock.now
        _ = try await context.map(Array(0..<parameters.count), concurrency: parameters.concurrency, name: { "noop-\($0)" }) { index, _ in
            index
        }
        context.logger.info("ran \(parameters.count) tasks in \(ContinuousClock.now - started)")
    }
}

/// A shell task that sleeps: cancelling the run must kill it.
struct ShellSleeper: Flow {
    static let name = "shell-sleeper"
    struct Parameters: FlowParameters {
        var seconds = 300
        var pidFile = ""
    }

    static func run(_ parameters: Parameters, context: FlowContext) async throws {
        let record = parameters.pidFile.isEmpty ? "" : "echo $$ > '\(parameters.pidFile)'; "
        try await context.shell("\(record)echo started; exec sleep \(parameters.seconds)", name: "sleep")
    }
}

/// Logs `count` lines as fast as it can: measures log ingest.
struct LogLines: Flow {
    static let name = "log-lines"
    struct Parameters: FlowParameters { var count = 10_000 }

    static func run(_ parameters: Parameters, context: FlowContext) async throws {
        for index in 0..<parameters.count {
            context.logger.info("line \(index)")
        }
    }
}

/// Dies in the Swift runtime: the run must end Crashed with the runtime's message.
struct Crasher: Flow {
    static let name = "crasher"
    struct Parameters: FlowParameters { var index = 7 }

    static func run(_ parameters: Parameters, context: FlowContext) async throws {
        context.logger.info("about to index out of range")
        let values = [1, 2, 3]
        print("value: \(values[parameters.index])")
    }
}

/// Asks for a volume the agent does not map: the run must fail with a message naming the fix.
struct VolumeLister: Flow {
    static let name = "volume-lister"
    struct Parameters: FlowParameters { var volume = "archive" }

    static func run(_ parameters: Parameters, context: FlowContext) async throws {
        let path = try context.volume(parameters.volume)
        context.logger.info("volume is at \(path)")
    }
}

/// Logs `tick N` every `interval` seconds, `count` times: live logs and cancel in the web UI tests.
struct Ticker: Flow {
    static let name = "ticker"
    struct Parameters: FlowParameters {
        var count = 600
        var interval = 0.2
    }

    static func run(_ parameters: Parameters, context: FlowContext) async throws {
        for tick in 1...max(1, parameters.count) {
            context.logger.info("tick \(tick)")
            try await Task.sleep(for: .seconds(parameters.interval))
        }
    }
}

/// Blocks every thread of Swift's cooperative pool (twice as many sleeping tasks as cores) for `seconds`:
/// its heartbeats must still go out.
struct PoolBlocker: Flow {
    static let name = "pool-blocker"
    struct Parameters: FlowParameters { var seconds = 6.0 }

    static func run(_ parameters: Parameters, context: FlowContext) async throws {
        let tasks = ProcessInfo.processInfo.activeProcessorCount * 2
        let microseconds = UInt32(clamping: Int(parameters.seconds * 1_000_000))
        context.logger.info("blocking the cooperative pool with \(tasks) tasks for \(parameters.seconds) s")
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<tasks { group.addTask { usleep(microseconds) } }
        }
        context.logger.info("unblocked")
    }
}

/// Three steps that count every time they really run (a line in `<dir>/<task>.count`): `prepare`, which also leaves
/// a file in the run's workspace on `scratch`, one task per item, then `finish`, which needs that file and fails while
/// `<dir>/fail` exists. Resume tests read the counts.
struct Resumable: Flow {
    static let name = "resumable"
    struct Parameters: FlowParameters {
        var dir = "/tmp/fathom-resumable"
        var items = 3
        /// When above 0, a `catalog` task returns a result of about this many KiB (over the coordinator's 64 KiB,
        /// it goes to the run's result store).
        var resultKiB = 0
    }

    struct Prepared: Codable, Sendable, Equatable {
        var lines: Int
        var note: String
    }

    static func run(_ parameters: Parameters, context: FlowContext) async throws {
        let dir = parameters.dir
        // What prepare writes to the run's workspace, finish reads: a resumed attempt must see it there.
        let marker = try context.workspace("scratch") + "/prepared.txt"
        let prepared = try await context.task("prepare", inputs: parameters.items, outputs: ["prepared.txt"]) { _ in
            try count(in: dir, "prepare")
            try "prepared\n".write(toFile: marker, atomically: true, encoding: .utf8)
            return Prepared(lines: parameters.items * 10, note: "prepared")
        }
        let doubled = try await context.map(Array(0..<parameters.items), name: { "item-\($0)" }) { item, _ in
            try count(in: dir, "item-\(item)")
            return item * 2
        }
        var catalog: [String] = []
        if parameters.resultKiB > 0 {
            catalog = try await context.task("catalog", inputs: parameters.resultKiB) { _ in
                try count(in: dir, "catalog")
                return (0..<parameters.resultKiB).map { "entry-\($0)-" + String(repeating: "x", count: 1000) }
            }
        }
        try await context.task("finish") { [catalog] _ in
            try count(in: dir, "finish")
            guard FileManager.default.fileExists(atPath: marker) else {
                throw Failer.Failure(description: "finish failed: \(marker), which prepare wrote, is not in this run's workspace")
            }
            if FileManager.default.fileExists(atPath: dir + "/fail") {
                throw Failer.Failure(description: "finish failed: \(dir)/fail exists")
            }
            context.logger.info("finished: \(prepared.lines) lines, items \(doubled), catalog \(catalog.count) entries ending \(catalog.last?.prefix(12) ?? "-")")
        }
    }

    static func count(in dir: String, _ task: String) throws {
        let path = dir + "/" + task + ".count"
        let before = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""  // no file yet: no runs counted
        try (before + "ran\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
}
