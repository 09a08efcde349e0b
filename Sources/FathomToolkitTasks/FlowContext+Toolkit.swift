import FathomSDK
import Dispatch
import Foundation

/// The big-file toolkit as tasks: each call is a task run with its own logs, progress every few seconds, and
/// cancellation that stops the work and removes its temporary files.
extension FlowContext {
    /// Sorts lines of `inputs` into `output`, byte-identical to `LC_ALL=C sort` with the same options.
    ///
    /// The task is resumable twice over. Its cache key holds the inputs' fingerprints, the options and the output, and
    /// `output` is its declared output, so a resumed run reuses a finished sort whose output is unchanged. And the
    /// sort keeps a checkpoint of its sorted runs in `temporaryDirectory` (see ``SortConfiguration/checkpoint``), so
    /// a sort interrupted midway (a failure, SIGTERM, SIGKILL) and started again sorts only what was left.
    /// - Parameters:
    ///   - memory: the budget in bytes (default 25% of RAM); larger inputs spill sorted runs to disk.
    ///   - temporaryDirectory: where runs spill (default: the output's directory, i.e. the run's workspace).
    ///   - checkpoint: whether the sort keeps its checkpoint (default true).
    @discardableResult
    public func sort(
        _ inputs: [String], to output: String, options: SortOptions = SortOptions(), memory: Int? = nil,
        parallelism: Int? = nil, temporaryDirectory: String? = nil, checkpoint: Bool = true, name: String = "sort"
    ) async throws -> SortSummary {
        let identity = ToolkitTaskIdentity(inputs: inputs, output: output, options: options)
        return try await task(name, inputs: identity, outputs: [output]) { task in
            var configuration = SortConfiguration(
                order: options, memory: memory, parallelism: parallelism,
                temporaryDirectory: temporaryDirectory ?? (output as NSString).deletingLastPathComponent)
            configuration.checkpoint = checkpoint
            task.logger.info(
                "sorting \(inputs.joined(separator: ", ")) into \(output) (memory \(ByteSize.format(configuration.memory)), \(configuration.parallelism) threads)")
            let reporter = ProgressReporter(logger: task.logger)
            let settings = configuration
            let summary = try await Self.runBlocking { flag in
                try ExternalSort.sort(inputs: inputs, output: output, configuration: settings, cancellation: flag) {
                    reporter.report(SortProgressText.describe($0), force: $0.phase == .done)
                }
            }
            if let note = summary.checkpointNote { task.logger.info("\(note)") }
            task.logger.info("\(SortProgressText.summary(summary))")
            return summary
        }
    }

    /// Compresses `input` into `output` (default `input.bz2`) with parallel bzip2; the input is kept.
    ///
    /// Resumable as ``sort(_:to:options:memory:parallelism:temporaryDirectory:checkpoint:name:)`` is: a finished
    /// compression of an unchanged input is reused by a resumed run, and an interrupted one continues from its last
    /// whole stream (see ``ResumableBZip2``); the archive is byte-identical to an uninterrupted run's.
    @discardableResult
    public func bzip2(
        _ input: String, to output: String? = nil, level: Int = 9, parallelism: Int? = nil, name: String = "bzip2"
    ) async throws -> BZip2Summary {
        let target = output ?? input + ".bz2"
        let identity = ToolkitTaskIdentity(inputs: [input], output: target, level: level)
        return try await task(name, inputs: identity, outputs: [target]) { task in
            let reporter = ProgressReporter(logger: task.logger)
            let summary = try await Self.runBlocking { flag in
                try ResumableBZip2.compress(input: input, output: target, level: level, parallelism: parallelism, cancellation: flag) { bytes in
                    reporter.report("bzip2: \(ByteSize.format(bytes)) of \(input) compressed")
                }
            }
            if let note = summary.checkpointNote { task.logger.info("\(note)") }
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

/// What a toolkit task's cache key is made of: its files (each with its fingerprint, so a changed input is new
/// work), its output and its options.
struct ToolkitTaskIdentity: Encodable, Sendable {
    struct File: Encodable, Sendable {
        var path: String
        /// Nil when the file cannot be read; the task then fails opening it.
        var fingerprint: InputFingerprint?
    }

    var inputs: [File]
    var output: String
    var options: SortOptions?
    var level: Int?

    init(inputs: [String], output: String, options: SortOptions? = nil, level: Int? = nil) {
        self.inputs = inputs.map { File(path: $0, fingerprint: try? InputFingerprint(path: $0)) }  // unreadable: the task says why when it opens it
        self.output = output
        self.options = options
        self.level = level
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
