#if canImport(Glibc)
import Glibc
#endif

/// Cuts bzip2 input into segments at stream headers (`BZh1`–`BZh9` followed by a block or end-of-stream magic), so
/// that each segment that starts a stream can be decoded on its own. Where no header follows within
/// ``maxSegment`` bytes, the input is cut anyway and the pieces are marked as continuing a stream.
///
/// A header-like pattern inside compressed data (a false cut) is harmless: the segment before it does not end its
/// stream, and ``StreamAssembler`` decodes on from there in order.
final class StreamSplitter {
    struct Segment {
        /// Offset of the segment's first byte in the input.
        var offset: Int
        var bytes: [UInt8]
        var startsStream: Bool
    }

    static let maxSegment = 4 << 20
    private static let blockMagic: [UInt8] = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
    private static let endMagic: [UInt8] = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90]
    private static let headerLength = 10

    private let input: FileHandleFD
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false
    private var nextStartsStream = true
    private(set) var bytesRead = 0
    private var offset = 0

    init(input: FileHandleFD) {
        self.input = input
    }

    func next() throws -> Segment? {
        try fill()
        guard start < buffer.count else { return nil }
        let searchFrom = start + (nextStartsStream ? 1 : 0)
        let cut: Int
        var cutAtHeader = false
        if let header = findHeader(from: searchFrom, limit: min(buffer.count, start + Self.maxSegment)) {
            cut = header
            cutAtHeader = true
        } else if atEnd && buffer.count - start <= Self.maxSegment {
            cut = buffer.count
        } else {
            // Keep the last bytes back: a header may straddle the cut.
            cut = max(start + 1, min(buffer.count, start + Self.maxSegment) - Self.headerLength)
        }
        let segment = Segment(offset: offset, bytes: Array(buffer[start..<cut]), startsStream: nextStartsStream)
        offset += cut - start
        start = cut
        nextStartsStream = cutAtHeader
        return segment
    }

    /// Reads until `maxSegment` bytes are buffered past `start`, or the input ends.
    private func fill() throws {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        while !atEnd && buffer.count - start < Self.maxSegment + Self.headerLength {
            let want = Self.maxSegment + Self.headerLength - (buffer.count - start)
            let old = buffer.count
            buffer += [UInt8](repeating: 0, count: want)
            let got = try buffer.withUnsafeMutableBytes { try input.readFully(into: $0.baseAddress! + old, count: want) }
            buffer.removeSubrange((old + got)...)
            bytesRead += got
            if got < want { atEnd = true }
        }
    }

    private func findHeader(from: Int, limit: Int) -> Int? {
        guard limit - from >= Self.headerLength else { return nil }
        return buffer.withUnsafeBytes { bytes -> Int? in
            let base = bytes.baseAddress!
            var position = from
            while position + Self.headerLength <= limit {
                guard let found = memchr(base + position, 0x42, limit - Self.headerLength + 1 - position) else { return nil }
                let index = base.distance(to: UnsafeRawPointer(found))
                if bytes[index + 1] == 0x5A, bytes[index + 2] == 0x68, (0x31...0x39).contains(bytes[index + 3]) {
                    let magic = UnsafeRawBufferPointer(rebasing: bytes[(index + 4)..<(index + 10)])
                    if magic.elementsEqual(Self.blockMagic) || magic.elementsEqual(Self.endMagic) { return index }
                }
                position = index + 1
            }
            return nil
        }
    }
}
