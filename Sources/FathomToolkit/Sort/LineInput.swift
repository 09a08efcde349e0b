#if canImport(Glibc)
import Glibc
#endif

/// The bytes of one or more input files in order, with a line end supplied after a file whose last line has none
/// (as GNU sort does), so every line that reaches the sorter ends in `\n` (NUL with `-z`).
final class LineInput {
    private let paths: [String]
    private var next = 0
    private var handle: FileHandleFD?
    private let lineEnd: UInt8
    private var lastByte: UInt8
    private(set) var currentName = ""

    init(paths: [String], lineEnd: UInt8 = 0x0A) {
        self.paths = paths.isEmpty ? ["-"] : paths
        self.lineEnd = lineEnd
        lastByte = lineEnd
    }

    /// The total size of the inputs when all are regular files.
    func knownSize() -> Int? {
        var total = 0
        for path in paths {
            guard path != "-", let size = (try? FileHandleFD.reading(path))?.regularFileSize else { return nil }  // size unknown: the sort plans without it
            total += size
        }
        return total
    }

    var fileCount: Int { paths.count }

    /// Continues at `offset` of the bytes the sort reads (each file's bytes and the newline supplied after a file
    /// that lacks one), which must be the start of a line; `lengths` are those of each file, as read.
    func seek(to offset: Int, lengths: [Int]) throws {
        var start = 0
        for (index, length) in zip(paths.indices, lengths) {
            if offset < start + length {
                let opened = try FileHandleFD.reading(paths[index])
                guard lseek(opened.fd, off_t(offset - start), SEEK_SET) >= 0 else { throw ToolkitError.io("seek in", paths[index], errno) }
                (handle, currentName, next, lastByte) = (opened, paths[index], index + 1, lineEnd)
                return
            }
            start += length
        }
        (handle, next) = (nil, paths.count)
    }

    /// Fills up to `count` bytes; 0 only at the end of the last input.
    func read(into buffer: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        guard count > 0 else { return 0 }
        while true {
            if handle == nil {
                guard next < paths.count else { return 0 }
                handle = try FileHandleFD.reading(paths[next])
                currentName = paths[next]
                next += 1
                lastByte = lineEnd
            }
            let got = try handle!.readFully(into: UnsafeMutableRawPointer(buffer), count: count)
            if got > 0 {
                lastByte = buffer[got - 1]
                return got
            }
            handle = nil
            if lastByte != lineEnd {
                lastByte = lineEnd
                buffer[0] = lineEnd
                return 1
            }
        }
    }
}
