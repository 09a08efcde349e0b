import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Parallel bzip2 compression of a file that resumes where an interrupted one stopped.
///
/// Fathom's output is a concatenation of one-block streams, each made from exactly one block of input, so the
/// streams before an interruption stay valid: the output grows under a partial name (`.NAME.fathom-partial` beside
/// it), and a checkpoint next to it records the input's fingerprint, the level, and how many streams (and output
/// bytes) are known to be complete. It is written every ``checkpointEvery`` streams after the partial file is
/// flushed, and when the work is cancelled (SIGTERM). Started again with the same input and level, the compression
/// takes the recorded streams, decodes the streams written after the last checkpoint (each must be whole, with its
/// CRC, and one full block), cuts the file after the last good one, and continues from the matching input offset.
/// The result is byte-identical to an uninterrupted run's; it is renamed into place when complete.
public enum ResumableBZip2 {
    /// Streams between checkpoints (about 29 MB of input at level 9): what a SIGKILL can cost, at most.
    static let checkpointEvery = 32

    struct Checkpoint: Codable, Equatable {
        var format = 1
        var input: InputFingerprint
        var level: Int
        var streams: Int
        var outputBytes: Int
    }

    /// Where the partial output of `output` grows.
    public static func partialPath(for output: String) -> String {
        hiddenSibling(of: output, suffix: ".fathom-partial")
    }

    /// Compresses the file `input` into `output`, resuming from a checkpoint of the same input and level.
    public static func compress(
        input: String, output: String, level: Int = 9, parallelism: Int? = nil, memoryLimit: Int? = nil,
        cancellation: CancellationFlag = CancellationFlag(), progress: (Int) -> Void = { _ in }
    ) throws -> BZip2Summary {
        let started = System.now()
        guard (1...9).contains(level) else {
            throw ToolkitError.invalidOption("level", "\(level) is out of range", "use 1 (fastest) to 9 (smallest), as bzip2 does")
        }
        let fingerprint = try InputFingerprint(path: input)
        let blockSize = BZip2Codec.blockSize(level: level)
        let partial = partialPath(for: output)
        let checkpointPath = partial + ".checkpoint"
        let start = try resumePoint(partial: partial, checkpointPath: checkpointPath, input: fingerprint, level: level)
        let handle = try FileHandleFD.openForUpdate(partial, truncatingTo: start.checkpoint.outputBytes)
        var checkpoint = start.checkpoint
        try CheckpointFile.write(checkpoint, to: checkpointPath)
        let source = try FileHandleFD.reading(input)
        guard lseek(source.fd, off_t(checkpoint.streams * blockSize), SEEK_SET) >= 0 else { throw ToolkitError.io("seek in", input, errno) }
        let writer = BufferedWriter(handle: handle, capacity: 4 << 20, at: checkpoint.outputBytes)
        let base = checkpoint
        /// Whole streams handed to the writer so far, and the bytes they make.
        var counted = (streams: 0, bytes: 0)
        /// Flushes the partial file and records the counted streams in it.
        func save() throws {
            try writer.flush()
            try handle.sync()
            checkpoint.streams = base.streams + counted.streams
            checkpoint.outputBytes = base.outputBytes + counted.bytes
            try CheckpointFile.write(checkpoint, to: checkpointPath)
        }
        let counts: (bytesIn: Int, streams: Int)
        do {
            counts = try ParallelBZip2.compressStreams(
                input: source, writer: writer, level: level, parallelism: parallelism, memoryLimit: memoryLimit,
                cancellation: cancellation, resumedStreams: base.streams, progress: { progress(base.streams * blockSize + $0) }
            ) { streams, _ in
                counted = (streams, writer.bytesWritten)
                if streams % checkpointEvery == 0 { try save() }
            }
        } catch {
            // The counted streams are whole: keep them for the next attempt. Bytes past them (a stream cut by the
            // failure) are cut off when it resumes. If this fails too, the last checkpoint stands.
            do { try save() } catch {}
            throw error
        }
        try save()
        guard rename(partial, output) == 0 else { throw ToolkitError.io("rename to", output, errno) }
        unlink(checkpointPath)
        return BZip2Summary(
            bytesIn: counts.bytesIn, bytesOut: base.outputBytes + writer.bytesWritten, seconds: System.now() - started,
            streams: base.streams + counts.streams, reusedStreams: base.streams, reusedBytes: min(fingerprint.size, base.streams * blockSize),
            checkpointNote: start.note)
    }

    /// Where to start: the recorded checkpoint, extended by the whole streams written after it; or the beginning.
    private static func resumePoint(
        partial: String, checkpointPath: String, input: InputFingerprint, level: Int
    ) throws -> (checkpoint: Checkpoint, note: String?) {
        let fresh = Checkpoint(input: input, level: level, streams: 0, outputBytes: 0)
        let stored: Checkpoint?
        do {
            stored = try CheckpointFile.read(Checkpoint.self, from: checkpointPath)
        } catch let unreadable as CheckpointFile.Unreadable {
            return (fresh, "the checkpoint was not used (\(unreadable.reason)); compressing from the start")
        }
        guard let stored else { return (fresh, nil) }
        let blockSize = BZip2Codec.blockSize(level: level)
        var info = stat()
        let partialSize = lstat(partial, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : -1
        let problem: String? =
            if stored.format != 1 || stored.input != input { "the input changed since it was written" }
            else if stored.level != level { "it was made at level \(stored.level), not \(level)" }
            else if stored.streams < 0 || stored.outputBytes < 0 || stored.streams.multipliedReportingOverflow(by: blockSize).overflow
                || stored.streams * blockSize > input.size + blockSize { "its counts are out of range" }
            else if partialSize < stored.outputBytes { "the partial output \(partial) is shorter than recorded" }
            else { nil }
        if let problem { return (fresh, "the checkpoint was not used (\(problem)); compressing from the start") }
        var resumed = stored
        let tail = try verifiedTail(of: partial, from: stored.outputBytes, blockSize: blockSize, inputLeft: input.size - stored.streams * blockSize)
        resumed.streams += tail.streams
        resumed.outputBytes += tail.bytes
        let covered = min(input.size, resumed.streams * blockSize)
        return (resumed, "resumed from the checkpoint of \(partial): \(resumed.streams) streams cover "
            + "\(ByteSize.format(covered)) of \(ByteSize.format(input.size)) of input")
    }

    /// The whole streams at `offset` of `path` and on: each decodes with its CRC to one block of input (a full
    /// one, or the input's last). Stops at the first that does not.
    private static func verifiedTail(of path: String, from offset: Int, blockSize: Int, inputLeft: Int) throws -> (streams: Int, bytes: Int) {
        let handle = try FileHandleFD.reading(path)
        let size = handle.regularFileSize ?? 0
        let window = (blockSize + blockSize / 100 + 600) * 2
        var buffer = [UInt8](repeating: 0, count: window)
        var position = offset
        var streams = 0
        var left = inputLeft
        while position < size, left > 0 {
            let got = try buffer.withUnsafeMutableBytes { try handle.readFully(into: $0.baseAddress!, count: min(window, size - position), at: position) }
            guard got > 0 else { break }
            let decoded: BZip2Codec.Decoded
            do {
                decoded = try buffer.withUnsafeBytes { try BZip2Codec.decodeStream(UnsafeRawBufferPointer(rebasing: $0[0..<got]), expectedOutput: blockSize) }
            } catch {
                break  // a damaged or cut stream: the file is cut before it
            }
            guard let length = decoded.streamLength, decoded.output.count == min(blockSize, left) else { break }
            position += length
            streams += 1
            left -= decoded.output.count
        }
        return (streams, position - offset)
    }
}

extension FileHandleFD {
    /// Opens (or creates, mode 0644) `path` for writing at given offsets, cut to `length` bytes when given. A link
    /// is refused.
    static func openForUpdate(_ path: String, truncatingTo length: Int?) throws -> FileHandleFD {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw ToolkitError.io("open", path, errno) }
        let handle = FileHandleFD(fd: fd, path: path)
        if let length, ftruncate(fd, off_t(length)) != 0 { throw ToolkitError.io("truncate", path, errno) }
        return handle
    }
}
