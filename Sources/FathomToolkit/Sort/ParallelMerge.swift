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
struct ParallelMerge {
    let comparator: LineComparator
    let parallelism: Int
    let bufferSize: Int
    let cancellation: CancellationFlag
    let minimumBytes: Int

    func isWorthwhile(_ runs: [SortedRun]) -> Bool {
        parallelism > 1 && runs.count > 1 && runs.reduce(0) { $0 + $1.size } >= minimumBytes
    }

    /// Merges `runs` into `output` (positioned writes); returns the bytes written.
    func merge(_ runs: [SortedRun], into output: FileHandleFD, progress: @escaping @Sendable (Int) -> Void) throws -> Int {
        let splitters = try chooseSplitters(runs)
        // bounds[r][i]: where range i of run r starts; the last is the run's size.
        let bounds = try runs.map { run in try [0] + splitters.map { try lowerBound(of: $0, in: run) } + [run.size] }
        let parts = splitters.count + 1
        var offsets = [0]
        for part in 0..<parts {
            offsets.append(offsets[part] + bounds.reduce(0) { $0 + $1[part + 1] - $1[part] })
        }
        let failures = FirstError()
        let merged = Atomic<Int>(0)
        let job = UncheckedBox((runs, bounds, offsets, self))
        WorkerThreads.parallelFor(parts) { part in
            let (runs, bounds, offsets, merge) = job.value
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
                    let total = merged.add(bytes - reported, ordering: .relaxed).newValue
                    reported = bytes
                    progress(total)
                }
                try merger.merge(readers: readers, into: writer)
                guard writer.bytesWritten == offsets[part + 1] - offsets[part] else {
                    throw ToolkitError.refused("internal error: a merge range wrote \(writer.bytesWritten) bytes, expected \(offsets[part + 1] - offsets[part])")
                }
            } catch {
                failures.record(error)
            }
        }
        try failures.rethrow()
        return offsets[parts]
    }

    /// Splitter lines that cut the runs' bytes into `parallelism` nearly equal parts.
    private func chooseSplitters(_ runs: [SortedRun]) throws -> [[UInt8]] {
        var samples: [(line: [UInt8], weight: Int)] = []
        for run in runs {
            let handle = try FileHandleFD.reading(run.path)
            for (index, offset) in run.samples.enumerated() {
                let next = index + 1 < run.samples.count ? run.samples[index + 1] : run.size
                samples.append((try Self.line(at: offset, in: handle), next - offset))
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
            if seen >= total * (splitters.count + 1) / parallelism, splitters.count < parallelism - 1 {
                splitters.append(sample.line)
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
            let line = try Self.line(at: offset, in: handle)
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

    /// The line that starts at `offset` (without its newline).
    private static func line(at offset: Int, in handle: FileHandleFD) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var position = offset
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let got = try chunk.withUnsafeMutableBytes { try handle.readFully(into: $0.baseAddress!, count: $0.count, at: position) }
            if got == 0 { return bytes }
            if let newline = chunk[0..<got].firstIndex(of: 0x0A) {
                bytes += chunk[0..<newline]
                return bytes
            }
            bytes += chunk[0..<got]
            position += got
            if chunk.count < 1 << 20 { chunk = [UInt8](repeating: 0, count: chunk.count * 4) }
        }
    }
}
