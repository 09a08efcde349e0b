import FathomSDK
import Dispatch
import Foundation

/// The big-file toolkit as tasks: each call is a task run with its own logs, progress every few seconds, and
/// cancellation that stops the work and removes its temporary files.
extension FlowContext {
    /// Sorts lines of `inputs` into `output`, byte-identical to `LC_ALL=C sort` with the same options.
    /// - Parameters:
    ///   - memory: the budget in bytes (default 25% of RAM); larger inputs spill sorted runs to disk.
    ///   - temporaryDirectory: where runs spill (default: the output's directory, i.e. the run's workspace).
    @discardableResult
    public func sort(
        _ inputs: [String], to output: String, options: SortOptions = SortOptions(), memory: Int? = nil,
        parallelism: Int? = nil, temporaryDirectory: String? = nil, name: String = "sort"
    ) async throws -> SortSummary {
        try await task(name) { task in
            let configuration = SortConfiguration(
                order: options, memory: memory, parallelism: parallelism,
                temporaryDirectory: temporaryDirectory ?? (output as NSString).deletingLastPathComponent)
            task.logger.info(
                "sorting \(inputs.joined(separator: ", ")) into \(output) (memory \(ByteSize.format(configuration.memory)), \(configuration.parallelism) threads)")
            let reporter = ProgressReporter(logger: task.logger)
            let summary = try await Self.runBlocking { flag in
                try ExternalSort.sort(inputs: inputs, output: output, configuration: configuration, cancellation: flag) {
                    reporter.report(SortProgressText.describe($0), force: $0.phase == .done)
                }
            }
            task.logger.info("\(SortProgressText.summary(summary))")
            return summary
        }
    }

    /// Compresses `input` into `output` (default `input.bz2`) with parallel bzip2; the input is kept.
    @discardableResult
    public func bzip2(
        _ input: String, to output: String? = nil, level: Int = 9, parallelism: Int? = nil, name: String = "bzip2"
    ) async throws -> BZip2Summary {
        let target = output ?? input + ".bz2"
        return try await task(name) { task in
            let reporter = ProgressReporter(logger: task.logger)
            let summary = try await Self.runBlocking { flag in
                let source = try FileHandleFD.reading(input)
                let destination = try AtomicOutput(path: target)
                let summary = try ParallelBZip2.compress(
                    input: source, output: destination.handle, level: level, parallelism: parallelism, cancellation: flag
                ) { bytes in reporter.report("bzip2: \(ByteSize.format(bytes)) of \(input) compressed") }
                try destination.commit()
                return summary
            }
            task.logger.info("\(BZip2Report.line(file: target, summary: summary, decompressing: false))")
            return summary
        }
    }

    /// Decompresses `input` into `output`; with `output` nil, only tests it (``testBZip2(_:name:)``).
    @discardableResult
    public func bunzip2(
        _ input: String, to output: String?, parallelism: Int? = nil, name: String = "bunzip2"
    ) async throws -> BZip2Summary {
        try await task(name) { task in
            let summary = try await Self.runBlocking { flag in
                let source = try FileHandleFD.reading(input)
                let destination = try output.map { try AtomicOutput(path: $0) }
                let summary = try ParallelBZip2.decompress(
                    input: source, output: destination?.handle, name: input, parallelism: parallelism, cancellation: flag)
                try destination?.commit()
                return summary
            }
            task.logger.info(
                "\(BZip2Report.line(file: input, summary: summary, decompressing: true, testing: output == nil))")
            return summary
        }
    }

    /// Decodes a bzip2 file end to end without writing anything; throws if it is damaged.
    @discardableResult
    public func testBZip2(_ input: String, name: String = "test-archive") async throws -> BZip2Summary {
        try await bunzip2(input, to: nil, name: name)
    }

    /// Runs blocking toolkit work on its own thread; cancelling the task cancels the work.
    static func runBlocking<T: Sendable>(_ work: @escaping @Sendable (CancellationFlag) throws -> T) async throws -> T {
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await onOwnThread { try work(flag) }
        } onCancel: {
            flag.cancel()
        }
    }
}

/// Logs a progress line at most every few seconds.
final class ProgressReporter: Sendable {
    private let logger: Logger
    private let throttle: Throttle

    init(logger: Logger, interval: Double = 5) {
        self.logger = logger
        self.throttle = Throttle(interval: interval)
    }

    func report(_ text: @autoclosure () -> String, force: Bool = false) {
        if throttle.ready(force: force) { logger.info("\(text())") }
    }
}
