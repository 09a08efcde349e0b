import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// One line of a chunk: its key summary, and where its bytes are in the chunk buffer.
struct LineEntry {
    var prefix: UInt64
    var offset: UInt32
    var length: UInt32
}

/// A pointer that may cross to worker threads: each worker touches a disjoint part of what it points to.
struct SendablePointer<Pointee>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Pointee>
}

/// Holds a chunk of input lines in one buffer and sorts them on all cores.
///
/// The lines are cut into `parallelism` contiguous parts, each sorted on its own thread by the 64-bit prefix with
/// ties broken by ``LineComparator`` and then by input position (so the order is stable); the writer merges the
/// parts as it writes.
final class ChunkSorter {
    let comparator: LineComparator
    let parallelism: Int
    private(set) var data: UnsafeMutablePointer<UInt8>
    private(set) var dataCapacity: Int
    let entries: UnsafeMutablePointer<LineEntry>
    let entryCapacity: Int
    private(set) var entryCount = 0
    /// Each sorted part, as a range of `entries`.
    private(set) var parts: [Range<Int>] = []

    /// Bytes of slack after the data, so an 8-byte prefix load never runs off the buffer.
    static let slack = 16

    init(comparator: LineComparator, parallelism: Int, dataCapacity: Int, entryCapacity: Int) {
        self.comparator = comparator
        self.parallelism = max(1, parallelism)
        self.dataCapacity = dataCapacity
        self.data = .allocate(capacity: dataCapacity + Self.slack)
        self.entryCapacity = max(1, entryCapacity)
        self.entries = .allocate(capacity: self.entryCapacity)
    }

    deinit {
        data.deallocate()
        entries.deallocate()
    }

    /// Makes room for at least `capacity` bytes of data, keeping the first `keeping` bytes.
    func growData(to capacity: Int, keeping: Int) {
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity + Self.slack)
        grown.update(from: data, count: keeping)
        data.deallocate()
        data = grown
        dataCapacity = capacity
    }

    /// Gives back to the system the pages of data from byte `dataBytes` on and of the index from entry `entryCount`
    /// on, so that a chunk re-aimed smaller does not keep the pages an earlier, larger one touched.
    func release(dataFrom dataBytes: Int, entriesFrom entryCount: Int) {
        Self.release(UnsafeMutableRawPointer(data), from: dataBytes, to: dataCapacity)
        Self.release(
            UnsafeMutableRawPointer(entries), from: entryCount * MemoryLayout<LineEntry>.stride,
            to: entryCapacity * MemoryLayout<LineEntry>.stride)
    }

    private static func release(_ base: UnsafeMutableRawPointer, from start: Int, to end: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let address = Int(bitPattern: base)
        let first = (address + start + page - 1) / page * page
        let last = (address + end) / page * page
        guard last > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(pointer, last - first, MADV_DONTNEED)
    }

    /// Average bytes per line (with its newline) in `data[0..<length]`; `length` itself when there is no newline.
    func averageLineLength(in length: Int) -> Int {
        var lines = 0
        var position = 0
        let base = UnsafeMutableRawPointer(data)
        while position < length, let found = memchr(base + position, Int32(comparator.lineEnd), length - position) {
            lines += 1
            position = base.distance(to: found) + 1
        }
        return lines == 0 ? max(1, length) : max(1, length / lines)
    }

    /// Indexes the newline-terminated lines in `data[0..<length]`, at most `limit` of them.
    /// - Returns: the bytes consumed (whole lines only).
    func index(length: Int, limit: Int) -> Int {
        entryCount = 0
        var position = 0
        let base = UnsafeMutableRawPointer(data)
        let limit = min(limit, entryCapacity)
        while position < length, entryCount < limit {
            guard let found = memchr(base + position, Int32(comparator.lineEnd), length - position) else { break }
            let end = base.distance(to: found)
            let count = end - position
            let start = data + position
            entries[entryCount] = LineEntry(
                prefix: comparator.prefix(start, count), offset: UInt32(position), length: UInt32(count))
            entryCount += 1
            position = end + 1
        }
        return position
    }

    /// Sorts the indexed lines, `parallelism` parts at once.
    func sort() {
        let partCount = entryCount < 8192 ? 1 : parallelism
        let size = (entryCount + partCount - 1) / max(1, partCount)
        parts = stride(from: 0, to: entryCount, by: max(1, size)).map { $0..<min(entryCount, $0 + size) }
        let shared = SendablePointer(pointer: entries)
        let bytes = SendablePointer(pointer: data)
        let comparator = comparator
        let ranges = parts
        WorkerThreads.parallelFor(ranges.count) { part in
            let range = ranges[part]
            var slice = UnsafeMutableBufferPointer(start: shared.pointer + range.lowerBound, count: range.count)
            let base = UnsafePointer(bytes.pointer)
            slice.sort { a, b in
                if a.prefix != b.prefix { return a.prefix < b.prefix }
                let diff = comparator.compare(base + Int(a.offset), Int(a.length), base + Int(b.offset), Int(b.length))
                if diff != 0 { return diff < 0 }
                return a.offset < b.offset
            }
        }
    }

    @inline(__always)
    func line(_ entry: LineEntry) -> (UnsafePointer<UInt8>, Int) {
        (UnsafePointer(data + Int(entry.offset)), Int(entry.length))
    }

    @inline(__always)
    func precedes(_ a: LineEntry, _ b: LineEntry) -> Bool {
        if a.prefix != b.prefix { return a.prefix < b.prefix }
        let (aBytes, aCount) = line(a)
        let (bBytes, bCount) = line(b)
        let diff = comparator.compare(aBytes, aCount, bBytes, bCount)
        if diff != 0 { return diff < 0 }
        return a.offset < b.offset
    }

    /// Writes each sorted part as its own run file, all parts at once; returns the runs in input order.
    func writeRuns(to paths: (Int) -> String, unique: Bool, sampleEvery: Int, storage: RunStorage = .plain) throws -> [SortedRun] {
        let runs = (0..<parts.count).map { SortedRun(path: paths($0)) }
        let failures = FirstError()
        let sorter = UncheckedBox(self)
        let targets = runs
        WorkerThreads.parallelFor(parts.count) { part in
            do {
                let file = try storage.create(targets[part].path)
                let writer = BufferedWriter(handle: file.handle, sampleEvery: sampleEvery)
                try file.finishing { try sorter.value.write(parts: part..<(part + 1), to: writer, unique: unique) }
                targets[part].samples = writer.samples
                targets[part].size = writer.bytesWritten
            } catch {
                failures.record(error)
            }
        }
        try failures.rethrow()
        return runs
    }

    /// Writes the sorted lines in order, merging the parts; with `unique`, only the first of equal lines.
    func write(to writer: BufferedWriter, unique: Bool) throws {
        try write(parts: 0..<parts.count, to: writer, unique: unique)
    }

    private func write(parts selected: Range<Int>, to writer: BufferedWriter, unique: Bool) throws {
        writer.lineEnd = comparator.lineEnd
        let parts = Array(self.parts[selected])
        var cursors = parts.map { $0.lowerBound }
        var previous: LineEntry?
        while true {
            var best = -1
            for part in 0..<parts.count where cursors[part] < parts[part].upperBound {
                if best < 0 || precedes(entries[cursors[part]], entries[cursors[best]]) { best = part }
            }
            if best < 0 { break }
            let entry = entries[cursors[best]]
            cursors[best] += 1
            if unique, let last = previous {
                let (aBytes, aCount) = line(last)
                let (bBytes, bCount) = line(entry)
                if last.prefix == entry.prefix && comparator.compare(aBytes, aCount, bBytes, bCount) == 0 { continue }
            }
            previous = entry
            let (bytes, count) = line(entry)
            try writer.appendLine(bytes, count: count)
        }
        try writer.flush()
    }
}
