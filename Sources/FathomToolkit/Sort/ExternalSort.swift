#if canImport(Glibc)
import Glibc
#endif

/// How to run a sort: the order, a memory budget, the threads, where temporary runs go.
public struct SortConfiguration: Sendable {
    public var order: SortOptions
    /// Bytes of line data and index held at once; larger inputs spill sorted runs to ``temporaryDirectory``.
    public var memory: Int
    public var parallelism: Int
    public var temporaryDirectory: String
    /// Runs merged at once; more runs take extra merge passes. Also capped by the open-file limit.
    public var fanIn: Int
    /// Below this many bytes of runs, the last merge runs on one thread (cutting it costs more than it saves).
    public var parallelMergeMinimum = 8 << 20
    /// Whether the sort keeps a checkpoint in ``temporaryDirectory`` (see ``SortCheckpoint``), so a sort of the same
    /// input with the same options, started again after a failure or a kill, reuses the runs already sorted.
    public var checkpoint = false
    /// With a checkpoint, the final merge records its progress in ranges of about this many bytes of output.
    public var mergeRangeBytes = 16 << 20
    /// GNU sort's `--compress-program`: temporary runs written through this program and read back through it with
    /// `-d` (the final merge then runs on one thread: a compressed run cannot be cut at byte offsets).
    public var compressProgram: String?

    public init(order: SortOptions, memory: Int? = nil, parallelism: Int? = nil, temporaryDirectory: String? = nil, fanIn: Int = 64) {
        self.order = order
        self.memory = memory ?? ByteSize.physicalMemory.bytes / 4
        self.parallelism = parallelism ?? System.activeProcessorCount
        self.temporaryDirectory = temporaryDirectory ?? System.environment("TMPDIR") ?? "/tmp"
        self.fanIn = fanIn
    }
}

/// What a sort is doing, for progress lines and flow logs.
public struct SortProgress: Sendable {
    public enum Phase: Sendable, Equatable {
        case reading
        case merging(pass: Int, of: Int)
        case done
    }

    public var phase: Phase
    public var bytesRead = 0
    public var runsWritten = 0
    public var bytesMerged = 0
}

/// What a finished sort did.
public struct SortSummary: Sendable, Codable {
    /// Input bytes read by this sort (not those a checkpoint already covered).
    public var bytesRead: Int
    public var bytesWritten: Int
    public var runs: Int
    public var mergePasses: Int
    public var seconds: Double
    /// Sorted runs taken from a checkpoint, and the input bytes they covered.
    public var reusedRuns = 0
    public var reusedBytes = 0
    /// Output bytes the final merge had completed before it was interrupted, not merged again.
    public var reusedMergeBytes = 0
    /// What became of the checkpoint (resumed from, or not used and why); nil without one.
    public var checkpointNote: String?
}

/// External merge sort of lines, byte-identical to `LC_ALL=C sort` with the same options.
///
/// Input is read in chunks that fit the memory budget; each chunk is cut into one part per thread, and each
/// thread sorts its part and (when the input does not fit in one chunk) writes it as a sorted run to a private
/// temporary directory. Runs are merged with a loser tree, in several passes when there are more than the fan-in;
/// the last merge is cut into key ranges merged on all threads at once, each written at its own offset of the
/// output. The output is written under a temporary name and renamed into place; the temporary directory is
/// removed on success, failure and cancellation.
public enum ExternalSort {
    /// How far apart runs note a line start, for cutting them into key ranges.
    static let sampleSpacing = 256 << 10

    public static func sort(
        inputs: [String], output: String?, configuration: SortConfiguration,
        cancellation: CancellationFlag = CancellationFlag(), progress: @escaping @Sendable (SortProgress) -> Void = { _ in }
    ) throws -> SortSummary {
        let started = System.now()
        let comparator = LineComparator(order: configuration.order)
        if configuration.checkpoint && configuration.compressProgram != nil {
            throw ToolkitError.invalidOption(
                "--compress-program", "a checkpoint keeps runs Fathom can cut and check; compressed runs cannot be", "drop --checkpoint or --compress-program")
        }
        let storage = try configuration.compressProgram.map(RunStorage.compressing(with:)) ?? .plain
        // The budget covers the whole process, as RSS: what this process already holds is not available.
        System.returnLargeBlocksToSystem(budget: configuration.memory)
        let usable = max(64 << 10, configuration.memory - System.residentBytes() - (3 << 20))
        var state = SortProgress(phase: .reading)
        let checkpoint = configuration.checkpoint
            ? try SortCheckpoint.open(inputs: inputs, options: configuration.order, under: configuration.temporaryDirectory) : nil
        var scratch = checkpoint?.directory
        let reused = (runs: checkpoint?.manifest.runs.count ?? 0, bytes: checkpoint?.manifest.consumed ?? 0)
        do {
            let spilled = try checkpoint?.manifest.inputDone == true
                ? (runs: checkpoint!.runs, bytesWritten: 0)
                : spill(
                    inputs: inputs, output: output, comparator: comparator, configuration: configuration, usable: usable,
                    storage: storage, scratch: &scratch, checkpoint: checkpoint, cancellation: cancellation, state: &state,
                    progress: progress)
            var bytesWritten = spilled.bytesWritten
            var passes = 0
            if !spilled.runs.isEmpty {
                let result = try mergeRuns(
                    spilled.runs, output: output, comparator: comparator, configuration: configuration, budget: usable,
                    storage: storage, scratch: scratch!, checkpoint: checkpoint, cancellation: cancellation, state: &state, progress: progress)
                passes = result.passes
                bytesWritten = result.bytesWritten
            }
            checkpoint?.finish()
            state.phase = .done
            state.bytesMerged = bytesWritten
            progress(state)
            return SortSummary(
                bytesRead: state.bytesRead, bytesWritten: bytesWritten, runs: spilled.runs.count, mergePasses: passes,
                seconds: System.now() - started, reusedRuns: reused.runs, reusedBytes: reused.bytes,
                reusedMergeBytes: checkpoint?.mergeReusedBytes ?? 0, checkpointNote: checkpoint?.note)
        } catch {
            checkpoint?.abandon()
            throw error
        }
    }

    /// Reads the input in chunks, sorts each, and either writes the only chunk straight to the output or spills
    /// every chunk as sorted runs (one per thread). The chunk buffers are released before the merge starts.
    private static func spill(
        inputs: [String], output: String?, comparator: LineComparator, configuration: SortConfiguration, usable: Int,
        storage: RunStorage, scratch: inout ScratchDirectory?, checkpoint: SortCheckpoint?, cancellation: CancellationFlag,
        state: inout SortProgress, progress: (SortProgress) -> Void
    ) throws -> (runs: [SortedRun], bytesWritten: Int) {
        let input = LineInput(paths: inputs, lineEnd: comparator.lineEnd)
        if let checkpoint, checkpoint.manifest.consumed > 0 {
            try input.seek(to: checkpoint.manifest.consumed, lengths: checkpoint.inputs.map(\.sortedLength))
        }
        // Each line costs its bytes, a 16-byte index entry and 8 bytes of the sort's scratch space. Only what is
        // touched counts, so the buffers are reserved large and each chunk is filled to a target that keeps
        // bytes + 24 per line within the budget, re-aimed after every chunk from its average line length.
        let budget = usable * 95 / 100
        let perLine = MemoryLayout<LineEntry>.stride + 8
        // One byte more than the input (and the newlines it may lack), so its end is seen in the first chunk.
        let known = input.knownSize().map { $0 + input.fileCount + 1 }
        let sorter = ChunkSorter(
            comparator: comparator, parallelism: configuration.parallelism,
            dataCapacity: min(Int(UInt32.max) - 1, max(32 << 10, min(budget, known ?? budget))),
            entryCapacity: min(max(1024, budget / (perLine + 1)), known.map { $0 + 1 } ?? .max))
        var fillTarget = min(sorter.dataCapacity, 1 << 20)
        var entryLimit = max(1024, (budget - fillTarget) / perLine)
        var aimed = false
        /// Aims the next chunk at the budget for lines of `average` bytes, releasing pages a larger aim touched
        /// (never the first `inUse` bytes of data, which still hold lines).
        func aim(average: Int, inUse: Int = 0) {
            let newTarget = min(sorter.dataCapacity, max(32 << 10, budget / (average + perLine) * average))
            let newLimit = max(1024, budget / (average + perLine))
            // Keep the aim while lines stay alike: each re-aim that shrinks a buffer costs page faults later.
            if aimed, abs(newLimit - entryLimit) * 5 < entryLimit { return }
            if aimed, newTarget < fillTarget || newLimit < entryLimit {
                sorter.release(dataFrom: max(newTarget, inUse), entriesFrom: max(newLimit, sorter.entryCount))
            }
            (fillTarget, entryLimit, aimed) = (newTarget, newLimit, true)
        }
        var runs = checkpoint?.runs ?? []
        var carry = 0
        var chunk = 0
        while true {
            try cancellation.check()
            var length = carry
            var atEnd = false
            while length < fillTarget || !aimed {
                if !aimed && length >= fillTarget {
                    // The first megabyte tells the line length, which decides how the budget is split.
                    aim(average: sorter.averageLineLength(in: length))
                    continue
                }
                let got = try input.read(into: sorter.data + length, count: fillTarget - length)
                if got == 0 {
                    atEnd = true
                    if !aimed { aim(average: sorter.averageLineLength(in: length)) }
                    break
                }
                length += got
                state.bytesRead += got
            }
            // A read can wait long on a pipe: a cancel that came meanwhile stops the sort here, not after it. With a
            // checkpoint, the chunk read so far is sorted and recorded first (SIGTERM leaves ECS 30 s for that).
            let stopAfterChunk = cancellation.isCancelled && checkpoint != nil && length > 0
            if cancellation.isCancelled && !stopAfterChunk { throw ToolkitError.cancelled }
            progress(state)
            let consumed = sorter.index(length: length, limit: entryLimit)
            if consumed == 0, length > 0 {
                // One line longer than the chunk: take a bigger chunk (beyond the budget if the line demands it).
                if fillTarget < sorter.dataCapacity {
                    fillTarget = min(sorter.dataCapacity, fillTarget * 2)
                } else {
                    let grown = sorter.dataCapacity * 2
                    guard grown < Int(UInt32.max) else {
                        throw ToolkitError.refused("\(input.currentName): a line is longer than 4 GiB; Fathom sort cannot hold it")
                    }
                    sorter.growData(to: grown, keeping: length)
                    fillTarget = grown
                }
                carry = length
                continue
            }
            if sorter.entryCount > 0 { aim(average: max(1, consumed / sorter.entryCount), inUse: length) }
            let finished = atEnd && consumed == length
            if finished && length == 0 && !runs.isEmpty {
                try checkpoint?.recordInputDone()
                return (runs, 0)
            }
            if stopAfterChunk && finished && runs.isEmpty { throw ToolkitError.cancelled }
            sorter.sort()
            if finished && runs.isEmpty {
                let written = try writeOutput(output, cancellation: cancellation) {
                    try sorter.write(to: $0, unique: configuration.order.unique)
                }
                return ([], written)
            }
            if scratch == nil {
                scratch = try ScratchDirectory(under: configuration.temporaryDirectory, prefix: "fathom-sort")
            }
            let directory = scratch!.path
            let chunkNumber = chunk
            let written = try sorter.writeRuns(
                to: { checkpoint?.chunkRunPath(part: $0) ?? "\(directory)/run-\(chunkNumber)-\($0)" },
                unique: configuration.order.unique, sampleEvery: sampleSpacing, storage: storage)
            try checkpoint?.recordChunk(written, consumed: consumed, inputDone: finished)
            runs += written
            chunk += 1
            state.runsWritten = runs.count
            progress(state)
            if stopAfterChunk { throw ToolkitError.cancelled }
            if finished { return (runs, 0) }
            carry = length - consumed
            if carry > 0 { sorter.data.update(from: sorter.data + consumed, count: carry) }
        }
    }

    private static func mergeRuns(
        _ initial: [SortedRun], output: String?, comparator: LineComparator, configuration: SortConfiguration,
        budget: Int, storage: RunStorage, scratch: ScratchDirectory, checkpoint: SortCheckpoint?, cancellation: CancellationFlag,
        state: inout SortProgress, progress: @escaping @Sendable (SortProgress) -> Void
    ) throws -> (passes: Int, bytesWritten: Int) {
        try cancellation.check()
        let fanIn = max(2, min(configuration.fanIn, System.openFileLimit - 16))
        let bufferSize = max(16 << 10, min(4 << 20, budget * 7 / 10 / (fanIn * max(1, configuration.parallelism))))
        var passCount = 1
        var count = initial.count
        while count > fanIn {
            count = (count + fanIn - 1) / fanIn
            passCount += 1
        }
        var level = initial
        var pass = 1
        let snapshot = state
        var merger = RunMerger(
            comparator: comparator, unique: configuration.order.unique, bufferSize: bufferSize,
            cancellation: cancellation)
        merger.storage = storage
        while level.count > fanIn {
            var next: [SortedRun] = []
            var reportState = snapshot
            reportState.phase = .merging(pass: pass, of: passCount)
            merger.onProgress = { bytes in
                reportState.bytesMerged = bytes
                progress(reportState)
            }
            for start in stride(from: 0, to: level.count, by: fanIn) {
                let group = Array(level[start..<min(level.count, start + fanIn)])
                if group.count == 1 {
                    next.append(group[0])
                    continue
                }
                let path = checkpoint?.nextMergePath() ?? "\(scratch.path)/pass\(pass)-\(next.count)"
                let merged = try mergeGroup(group, into: path, merger: &merger)
                try checkpoint?.recordMerge(of: group, into: merged)
                for used in group { unlink(used.path) }
                next.append(merged)
            }
            level = next
            pass += 1
        }
        var finalState = snapshot
        finalState.phase = .merging(pass: passCount, of: passCount)
        merger.onProgress = { bytes in
            finalState.bytesMerged = bytes
            progress(finalState)
        }
        let runs = level
        let seekable = output.flatMap { $0 == "-" || configuration.order.unique ? nil : $0 }
        var parallel = ParallelMerge(
            comparator: comparator, parallelism: configuration.parallelism, bufferSize: bufferSize,
            cancellation: cancellation, minimumBytes: configuration.parallelMergeMinimum)
        parallel.record = seekable == nil ? nil : checkpoint
        parallel.recordedRangeBytes = configuration.mergeRangeBytes
        let base = finalState
        let merge = parallel
        /// The last merge on all threads, into `handle` at known offsets.
        func mergeInParallel(into handle: FileHandleFD) throws -> Int {
            try merge.merge(runs, into: handle) { bytes in
                var current = base
                current.bytesMerged = bytes
                progress(current)
            }
        }
        let written: Int
        let cut = storage.program == nil && parallel.isWorthwhile(runs)
        if let path = seekable, cut, let checkpoint {
            // Checkpointed: a partial output beside the output, each range recorded when complete, so a merge started
            // again writes only the ranges that were not.
            let partial = SortCheckpoint.partialOutputPath(for: path)
            var info = stat()
            checkpoint.mergeOutput = (partial, lstat(partial, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG)
            let handle = try FileHandleFD.openForUpdate(partial, truncatingTo: nil)
            written = try mergeInParallel(into: handle)
            try cancellation.check()
            guard ftruncate(handle.fd, off_t(written)) == 0 else { throw ToolkitError.io("truncate", partial, errno) }
            try handle.sync()
            guard rename(partial, path) == 0 else { throw ToolkitError.io("rename to", path, errno) }
        } else if let path = seekable, cut {
            let target = try AtomicOutput(path: path)
            written = try mergeInParallel(into: target.handle)
            try cancellation.check()
            try target.commit()
        } else {
            written = try writeOutput(output, cancellation: cancellation) { try merger.merge(runs.map(\.path), into: $0) }
        }
        state = finalState
        return (passCount, written)
    }

    /// Merges files that are each sorted by `configuration.order` already (GNU sort's `-m`), without sorting them
    /// again: one pass of the loser tree, ties to the earlier file, `-u` keeping the first of equal keys.
    public static func merge(
        sortedInputs inputs: [String], output: String?, configuration: SortConfiguration, cancellation: CancellationFlag = CancellationFlag()
    ) throws -> SortSummary {
        let started = System.now()
        let most = System.openFileLimit - 16
        guard inputs.count <= most else {
            throw ToolkitError.invalidOption(
                "-m", "\(inputs.count) files are more than this process may open at once (\(most))", "merge them in groups, then merge the groups")
        }
        let merger = RunMerger(
            comparator: LineComparator(order: configuration.order), unique: configuration.order.unique, bufferSize: 1 << 20,
            cancellation: cancellation)
        var read = 0
        for input in inputs {
            var info = stat()
            if stat(input, &info) == 0 { read += Int(info.st_size) }
        }
        let written = try writeOutput(output, cancellation: cancellation) { try merger.merge(inputs, into: $0) }
        return SortSummary(bytesRead: read, bytesWritten: written, runs: inputs.count, mergePasses: 1, seconds: System.now() - started)
    }

    /// Merges `group` into a new run at `path`, closed (so complete on the volume) when this returns.
    private static func mergeGroup(_ group: [SortedRun], into path: String, merger: inout RunMerger) throws -> SortedRun {
        let file = try merger.storage.create(path)
        let writer = BufferedWriter(handle: file.handle, sampleEvery: sampleSpacing)
        let paths = group.map(\.path)
        let merging = merger
        try file.finishing { try merging.merge(paths, into: writer) }
        return SortedRun(path: path, size: writer.bytesWritten, samples: writer.samples)
    }

    /// Writes through an ``AtomicOutput``, renamed into place only if `body` succeeds.
    /// Writes through a temporary name; a cancel that arrived by the end leaves nothing under `path`.
    static func writeOutput(
        _ path: String?, cancellation: CancellationFlag? = nil, _ body: (BufferedWriter) throws -> Void
    ) throws -> Int {
        let output = try AtomicOutput(path: path)
        let writer = BufferedWriter(handle: output.handle)
        try body(writer)
        try cancellation?.check()
        try output.commit()
        return writer.bytesWritten
    }
}
