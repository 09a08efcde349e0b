import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The last merge, on all threads: the runs are cut at `parallelism − 1` splitter lines chosen from their samples,
/// so that range `i` of every run holds the lines between splitters `i − 1` and `i`. Each thread merges one range of
/// all runs and writes it at that range's offset of the output file, which it knows in advance because every line
/// keeps its bytes. Lines equal to a splitter all fall in the same range, where ties still go to the earlier run,
/// so the result is the same as one sequential merge. Not used with `-u` (output sizes are not known in advance) or
/// for output to a pipe.
/// A count threads add to.
final class SharedCount: Sendable {
    let value: Atomic<Int>

    init(_ start: Int) {
        value = Atomic(start)
    }
}

/// A record of which ranges of a checkpointed final merge are complete in its output.
protocol MergeProgressRecord: AnyObject, Sendable {
    /// The ranges already merged for this cut (the record starts afresh when the cut is another).
    /// `offsets` are where each range starts in the output (the last is its size).
    func completedParts(parts: Int, cutHash: String, offsets: [Int]) throws -> Set<Int>
    /// Range `part` is complete and flushed to the output.
    func partCompleted(_ part: Int) throws
}

struct ParallelMerge {
    let comparator: LineComparator
    let parallelism: Int
    let bufferSize: Int
    let cancellation: CancellationFlag
    let minimumBytes: Int
    /// With a record, the merge is cut into many ranges (about ``recordedRangeBytes`` each, whatever the threads)
    /// and each completed range is recorded, so a merge started again writes only the ranges that were not complete.
    var record: (any MergeProgressRecord)? = nil
    /// Bytes per range of a recorded merge.
    var recordedRangeBytes = 16 << 20

    func isWorthwhile(_ runs: [SortedRun]) -> Bool {
        (parallelism > 1 || record != nil) && runs.count > 1 && runs.reduce(0) { $0 + $1.size } >= minimumBytes
    }

    /// Merges `runs` into `output` (positioned writes); returns the bytes written.
    func merge(_ runs: [SortedRun], into output: FileHandleFD, progress: @escaping @Sendable (Int) -> Void) throws -> Int {
        let total = runs.reduce(0) { $0 + $1.size }
        let wanted = record == nil ? parallelism : min(256, max(2, total / max(1, recordedRangeBytes)))
        let splitters = try chooseSplitters(runs, parts: wanted)
        // bounds[r][i]: where range i of run r starts; the last is the run's size.
        let bounds = try runs.map { run in try [0] + splitters.map { try lowerBound(of: $0, in: run) } + [run.size] }
        let parts = splitters.count + 1
        var offsets = [0]
        for part in 0..<parts {
            offsets.append(offsets[part] + bounds.reduce(0) { $0 + $1[part + 1] - $1[part] })
        }
        let done = try record?.completedParts(parts: parts, cutHash: Self.cutHash(splitters, offsets: offsets), offsets: offsets) ?? []
        let failures = FirstError()
        let merged = SharedCount(done.reduce(0) { $0 + offsets[$1 + 1] - offsets[$1] })
        let next = Atomic<Int>(0)
        let job = UncheckedBox((runs, bounds, offsets, self, Array(0..<parts).filter { !done.contains($0) }))
        WorkerThreads.parallelFor(min(parallelism, parts)) { _ in
            let (_, _, _, merge, pending) = job.value
            while failures.isEmpty {
                if merge.cancellation.isCancelled {
                    failures.record(ToolkitError.cancelled)
                    return
                }
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < pending.count else { return }
                merge.mergePart(pending[index], job: job, output: output, merged: merged, failures: failures, progress: progress)
            }
        }
        try failures.rethrow()
        return offsets[parts]
    }

    /// Merges range `part` of every run into its place in the output, and records it when the merge is recorded.
    private func mergePart(
        _ part: Int, job: UncheckedBox<([SortedRun], [[Int]], [Int], ParallelMerge, [Int])>, output: FileHandleFD,
        merged: SharedCount, failures: FirstError, progress: @escaping @Sendable (Int) -> Void
    ) {
        let (runs, bounds, offsets, merge, _) = job.value
        do {
            let readers = try runs.indices.map { index in
                try RunReader(
                    path: runs[index].path, bufferSize: merge.bufferSize,
                    range: bounds[index][part]..<bounds[index][part + 1])
            }
            let writer = BufferedWriter(handle: output, capacity: 1 << 20, at: offsets[part])
            var merger = RunMerger(
                comparator: merge.comparator, unique: false, bufferSize: merge.bufferSize,
                cancellation: merge.cancellation)
            var reported = 0
            merger.onProgress = { bytes in
                let total = merged.value.add(bytes - reported, ordering: .relaxed).newValue
                reported = bytes
                progress(total)
            }
            try merger.merge(readers: readers, into: writer)
            guard writer.bytesWritten == offsets[part + 1] - offsets[part] else {
                throw ToolkitError.refused("internal error: a merge range wrote \(writer.bytesWritten) bytes, expected \(offsets[part + 1] - offsets[part])")
            }
            if let record = merge.record {
                try output.sync()
                try record.partCompleted(part)
            }
        } catch {
            failures.record(error)
        }
    }

    /// What identifies a cut of the runs into ranges: its splitter lines and the ranges' offsets.
    static func cutHash(_ splitters: [[UInt8]], offsets: [Int]) -> String {
        var bytes: [UInt8] = []
        for splitter in splitters { bytes += splitter + [0x0A] }
        for offset in offsets { bytes += withUnsafeBytes(of: Int64(offset).littleEndian, Array.init) }
        return XXHash64.hex128(bytes)
    }

    /// Splitter lines that cut the runs' bytes into `parts` nearly equal parts.
    private func chooseSplitters(_ runs: [SortedRun], parts: Int) throws -> [[UInt8]] {
        var samples: [(line: [UInt8], weight: Int)] = []
        for run in runs {
            let handle = try FileHandleFD.reading(run.path)
            for (index, offset) in run.samples.enumerated() {
                let next = index + 1 < run.samples.count ? run.samples[index + 1] : run.size
                samples.append((try Self.line(at: offset, in: handle, end: comparator.lineEnd), next - offset))
            }
        }
        samples.sort { a, b in
            a.line.withUnsafeBufferPointer { x in
                b.line.withUnsafeBufferPointer { y in
                    comparator.compare(x.baseAddress ?? Self.empty, x.count, y.baseAddress ?? Self.empty, y.count) < 0
                }
            }
        }
        let total = samples.reduce(0) { $0 + $1.weight }
        var splitters: [[UInt8]] = []
        var seen = 0
        for sample in samples {
            if seen >= total * (splitters.count + 1) / parts, splitters.count < parts - 1 {
                // Equal splitters would make empty ranges: one is enough.
                if splitters.last.map({ precedes($0, sample.line) }) ?? true { splitters.append(sample.line) }
            }
            seen += sample.weight
        }
        return splitters
    }

    /// The offset of the first line of `run` that does not sort before `splitter`.
    private func lowerBound(of splitter: [UInt8], in run: SortedRun) throws -> Int {
        let handle = try FileHandleFD.reading(run.path)
        var start = 0
        for offset in run.samples {
            let line = try Self.line(at: offset, in: handle, end: comparator.lineEnd)
            guard precedes(line, splitter) else { break }
            start = offset
        }
        let reader = try RunReader(path: run.path, bufferSize: 256 << 10, range: start..<run.size)
        var position = start
        while try reader.advance(using: comparator) {
            let before = splitter.withUnsafeBufferPointer { s in
                comparator.compare(reader.line, reader.count, s.baseAddress ?? Self.empty, s.count) < 0
            }
            if !before { return position }
            position += reader.count + 1
        }
        return run.size
    }

    private func precedes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                comparator.compare(x.baseAddress ?? Self.empty, x.count, y.baseAddress ?? Self.empty, y.count) < 0
            }
        }
    }

    /// Stands in for an empty line's bytes: with a count of 0 it is never read.
    private static var empty: UnsafePointer<UInt8> { UnsafePointer(bitPattern: 1)! }

    /// The line that starts at `offset` (without its end byte).
    private static func line(at offset: Int, in handle: FileHandleFD, end: UInt8) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var position = offset
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let got = try chunk.withUnsafeMutableBytes { try handle.readFully(into: $0.baseAddress!, count: $0.count, at: position) }
            if got == 0 { return bytes }
            if let newline = chunk[0..<got].firstIndex(of: end) {
                bytes += chunk[0..<newline]
                return bytes
            }
            bytes += chunk[0..<got]
            position += got
            if chunk.count < 1 << 20 { chunk = [UInt8](repeating: 0, count: chunk.count * 4) }
        }
    }
}
