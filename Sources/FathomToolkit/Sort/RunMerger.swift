import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A sorted run on disk: its size, and where lines start about every ``ExternalSort/sampleSpacing`` bytes
/// (for cutting it into key ranges for a parallel merge).
final class SortedRun: @unchecked Sendable {
    let path: String
    var size = 0
    var samples: [Int] = []

    init(path: String, size: Int = 0, samples: [Int] = []) {
        self.path = path
        self.size = size
        self.samples = samples
    }
}

/// Keeps the first error of several threads.
final class FirstError: Sendable {
    private let first = Mutex<(any Error)?>(nil)

    func record(_ error: any Error) {
        first.withLock { if $0 == nil { $0 = error } }
    }

    func rethrow() throws {
        if let error = first.withLock({ $0 }) { throw error }
    }

    /// Whether no error was recorded yet.
    var isEmpty: Bool { first.withLock { $0 == nil } }
}

/// Reads the lines of one sorted run file (or a byte range of it) through a buffer that grows for lines longer
/// than itself.
final class RunReader {
    private let handle: FileHandleFD
    /// The next file offset to read, and where to stop.
    private var fileOffset: Int
    private let limit: Int
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var start = 0
    private var end = 0
    private var atEnd = false
    /// The current line (valid until the next ``advance()``).
    private(set) var line: UnsafePointer<UInt8>
    private(set) var count = 0
    private(set) var prefix: UInt64 = 0
    private(set) var exhausted = false

    /// Reads `handle` from where it is to its end (a pipe from a compress program, too).
    convenience init(handle: FileHandleFD, bufferSize: Int) {
        self.init(opened: handle, bufferSize: bufferSize, range: nil)
    }

    convenience init(path: String, bufferSize: Int, range: Range<Int>? = nil) throws {
        self.init(opened: try FileHandleFD.reading(path), bufferSize: bufferSize, range: range)
    }

    private init(opened: FileHandleFD, bufferSize: Int, range: Range<Int>?) {
        handle = opened
        fileOffset = range?.lowerBound ?? 0
        limit = range?.upperBound ?? .max
        capacity = bufferSize
        buffer = .allocate(capacity: bufferSize + ChunkSorter.slack)
        line = UnsafePointer(buffer)
    }

    deinit {
        buffer.deallocate()
    }

    /// Moves to the next line; false (and ``exhausted``) at the end of the run.
    func advance(using comparator: LineComparator) throws -> Bool {
        while true {
            if start < end, let found = memchr(buffer + start, Int32(comparator.lineEnd), end - start) {
                let newline = UnsafeMutableRawPointer(buffer).distance(to: found)
                line = UnsafePointer(buffer + start)
                count = newline - start
                prefix = comparator.prefix(line, count)
                start = newline + 1
                return true
            }
            if atEnd {
                if start < end {
                    // A last line without a newline (only in input files, never in runs Fathom wrote).
                    line = UnsafePointer(buffer + start)
                    count = end - start
                    prefix = comparator.prefix(line, count)
                    start = end
                    return true
                }
                exhausted = true
                return false
            }
            try refill()
        }
    }

    private func refill() throws {
        if start > 0 {
            let remaining = end - start
            if remaining > 0 { buffer.update(from: buffer + start, count: remaining) }
            start = 0
            end = remaining
        }
        if end == capacity {
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2 + ChunkSorter.slack)
            grown.update(from: buffer, count: end)
            buffer.deallocate()
            buffer = grown
            capacity *= 2
        }
        let want = min(capacity - end, limit - fileOffset)
        let got: Int
        if want <= 0 {
            got = 0
        } else if limit == .max {
            got = try handle.readFully(into: buffer + end, count: want)
        } else {
            got = try handle.readFully(into: buffer + end, count: want, at: fileOffset)
        }
        if got == 0 { atEnd = true }
        fileOffset += got
        end += got
    }
}

/// Merges sorted runs with a loser tree: one comparison per level for each line written. Ties go to the earlier
/// run, so a merge of runs in input order keeps the sort stable.
struct RunMerger {
    let comparator: LineComparator
    let unique: Bool
    let bufferSize: Int
    let cancellation: CancellationFlag
    /// Where the runs are (plain files, or through a compress program).
    var storage = RunStorage.plain
    /// Called with the bytes written so far, about every 64 MiB.
    var onProgress: (Int) -> Void = { _ in }

    func merge(_ paths: [String], into writer: BufferedWriter) throws {
        let files = try paths.map { try storage.open($0) }
        do {
            try merge(readers: files.map { RunReader(handle: $0.handle, bufferSize: bufferSize) }, into: writer)
        } catch {
            for file in files { try file.finish(early: true) }  // a program that failed says so first
            throw error
        }
        for file in files { try file.finish() }
    }

    func merge(readers: [RunReader], into writer: BufferedWriter) throws {
        writer.lineEnd = comparator.lineEnd
        for reader in readers { _ = try reader.advance(using: comparator) }
        let players = readers.count
        guard players > 0 else { return }
        // tree[0] is the winner; tree[1..<players] hold the loser of each match. `players` is a virtual
        // player that beats everyone, used only while the tree is built.
        var tree = [Int](repeating: players, count: max(players, 1))
        for player in stride(from: players - 1, through: 0, by: -1) {
            replay(player, in: &tree, readers: readers)
        }
        var previous: [UInt8] = []
        var hasPrevious = false
        var reported = 0
        while true {
            let winner = tree[0]
            let reader = readers[winner]
            if reader.exhausted { break }
            var duplicate = false
            if unique {
                duplicate = hasPrevious && previous.withUnsafeBufferPointer {
                    comparator.compare($0.baseAddress!, $0.count, reader.line, reader.count) == 0
                }
                if !duplicate {
                    previous.removeAll(keepingCapacity: true)
                    previous.append(contentsOf: UnsafeBufferPointer(start: reader.line, count: reader.count))
                    if previous.isEmpty { previous.reserveCapacity(1) }
                    hasPrevious = true
                }
            }
            if !duplicate { try writer.appendLine(reader.line, count: reader.count) }
            _ = try reader.advance(using: comparator)
            replay(winner, in: &tree, readers: readers)
            if writer.bytesWritten - reported >= 64 << 20 {
                reported = writer.bytesWritten
                try cancellation.check()
                onProgress(reported)
            }
        }
        try writer.flush()
        onProgress(writer.bytesWritten)
    }

    /// Plays `player`'s new line up the tree from its leaf.
    @inline(__always)
    private func replay(_ player: Int, in tree: inout [Int], readers: [RunReader]) {
        let players = readers.count
        var winner = player
        var node = (player + players) / 2
        while node > 0 {
            if loses(winner, to: tree[node], readers: readers) {
                swap(&winner, &tree[node])
            }
            node /= 2
        }
        tree[0] = winner
    }

    @inline(__always)
    private func loses(_ a: Int, to b: Int, readers: [RunReader]) -> Bool {
        let players = readers.count
        if b == players { return true }
        if a == players { return false }
        let x = readers[a]
        let y = readers[b]
        if x.exhausted || y.exhausted {
            if x.exhausted != y.exhausted { return x.exhausted }
            return a > b
        }
        if x.prefix != y.prefix { return x.prefix > y.prefix }
        let diff = comparator.compare(x.line, x.count, y.line, y.count)
        if diff != 0 { return diff > 0 }
        return a > b
    }
}
