#if canImport(Glibc)
import Glibc
#endif

/// One piece of bzip2 input: a whole (small) stream, a block to decode on its own, or the end of a stream with its
/// CRC.
enum BZip2Piece {
    case stream(BZip2Stream)
    case block(BZip2Block)
    case streamEnd(offset: Int, storedCRC: UInt32)
}

/// A complete stream, byte-aligned as streams are: decoded by libbz2 as it is, checking its own CRCs.
struct BZip2Stream {
    var bytes: [UInt8]
    var offset: Int

    func joined(with next: BZip2Stream) -> BZip2Stream {
        BZip2Stream(bytes: bytes + next.bytes, offset: offset)
    }
}

/// A block's bits, and what is needed to decode it alone.
struct BZip2Block {
    /// The bytes holding the block; it starts at bit `shift` of the first.
    var bytes: [UInt8]
    var shift: Int
    var bitCount: Int
    /// The stream's block-size digit (1–9), and the block's own CRC.
    var level: UInt8
    var crc: UInt32
    /// Input offset of the first byte.
    var offset: Int

    /// This block as a complete one-block stream: header, the block, end-of-stream magic, the block's CRC as the
    /// stream CRC (a one-block stream's combined CRC is its block CRC).
    func standaloneStream() -> [UInt8] {
        var writer = BitWriter(reserving: bytes.count + 16)
        for byte in [0x42, 0x5A, 0x68, 0x30 + level] as [UInt8] { writer.append(UInt64(byte), bits: 8) }
        bytes.withUnsafeBytes { writer.append($0, fromBit: shift, count: bitCount) }
        writer.append(BlockScanner.endMagic, bits: 48)
        writer.append(UInt64(crc), bits: 32)
        return writer.finish()
    }

    /// This block followed by the next one (which starts where this one ends), as one block.
    func joined(with next: BZip2Block) -> BZip2Block {
        let firstByteOfNext = next.offset - offset
        var joined = self
        joined.bytes = Array(bytes[0..<firstByteOfNext]) + next.bytes
        joined.bitCount = bitCount + next.bitCount
        return joined
    }
}

/// Cuts bzip2 input (any number of streams, from any bzip2 writer) into blocks, reading it as a stream: stream
/// headers are byte-aligned, blocks are found by ``BlockScanner`` at any bit offset.
final class BlockSplitter {
    /// A block longer than this (compressed) is damage: a bzip2 block is at most 900,001 symbols of at most 20
    /// bits each and its tables, under 2.3 MB.
    static let maxBlockBytes = 3 << 20
    /// A stream whose next stream header is within this many bytes (pbzip2's and Fathom's are under 1 MB) is one
    /// piece; larger streams (plain bzip2's) are cut into blocks.
    static let maxStreamBytes = 2 << 20
    /// Bytes read at a time, and the first lookahead for a block's end.
    static let readChunk = 1 << 20

    private let input: FileHandleFD
    private let name: String
    /// Room for the largest block twice over; `buffer` is its filled part.
    private let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * maxBlockBytes + (1 << 20), alignment: 64)
    private var filled = 0
    /// The end of the storage's pages written so far (each in memory until released).
    private var touched = 0
    private var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<filled]) }
    /// Input offset of `buffer[0]`.
    private var base = 0
    private var atEnd = false
    private(set) var bytesRead = 0
    private var state: State = .header(byte: 0)
    private var streams = 0

    private enum State {
        case header(byte: Int)
        case inStream(level: UInt8, bit: Int, kind: BlockScanner.Kind)
        case done
    }

    private let streamLimit: Int

    /// - Parameter maxStreamBytes: streams up to this size are single pieces; 0 cuts every stream into blocks.
    init(input: FileHandleFD, name: String, maxStreamBytes: Int = BlockSplitter.maxStreamBytes) {
        self.input = input
        self.name = name
        self.streamLimit = maxStreamBytes
    }

    deinit {
        storage.deallocate()
    }

    /// The next piece, or nil after the last stream.
    func next() throws -> BZip2Piece? {
        while true {
            switch state {
            case .done:
                return nil
            case .header(let byte):
                try fill(through: byte + 16)
                let local = byte - base
                if local >= buffer.count {
                    guard streams > 0 else { throw ToolkitError.corrupt(name, offset: byte, "the input is empty, not a bzip2 stream") }
                    state = .done
                    return nil
                }
                guard buffer.count - local >= 4, buffer[local] == 0x42, buffer[local + 1] == 0x5A, buffer[local + 2] == 0x68,
                    (0x31...0x39).contains(buffer[local + 3])
                else {
                    throw ToolkitError.corrupt(
                        name, offset: byte, streams == 0 ? "not a bzip2 stream (no BZh header)" : "unexpected bytes after the end of a bzip2 stream")
                }
                let level = buffer[local + 3] - 0x30
                let bit = (byte + 4) * 8
                let magic = BlockScanner.bits48(buffer, at: bit - base * 8)
                guard magic == BlockScanner.blockMagic || magic == BlockScanner.endMagic else {
                    throw ToolkitError.corrupt(name, offset: byte + 4, "no block after the stream header")
                }
                streams += 1
                try fill(through: byte + streamLimit)
                // Filling may have moved the buffer.
                let start = byte - base
                let searchLimit = min(filled, start + streamLimit)
                if let next = nextStreamHeader(from: start + 4, limit: searchLimit) {
                    state = .header(byte: base + next)
                    return .stream(BZip2Stream(bytes: Array(buffer[start..<next]), offset: byte))
                }
                if atEnd && filled - start <= streamLimit {
                    state = .header(byte: base + filled)
                    return .stream(BZip2Stream(bytes: Array(buffer[start..<filled]), offset: byte))
                }
                state = .inStream(level: level, bit: bit, kind: magic == BlockScanner.blockMagic ? .block : .end)
            case .inStream(let level, let bit, .end):
                try fill(through: bit / 8 + 24)
                let crc = BlockScanner.bits(buffer, at: bit - base * 8 + 48, count: 32)
                let after = (bit + 80 + 7) / 8
                guard after <= base + buffer.count else {
                    throw ToolkitError.corrupt(name, offset: base + buffer.count, "the input ends in the middle of a stream (truncated)")
                }
                if followedByStreamOrEnd(after) {
                    state = .header(byte: after)
                    return .streamEnd(offset: bit / 8, storedCRC: UInt32(crc))
                }
                // An end magic inside a block's data: not a boundary, so the bits from here are more block.
                state = .inStream(level: level, bit: bit, kind: .block)
            case .inStream(let level, let bit, .block):
                let found = try nextBoundary(afterBlockAt: bit)
                let local = bit - base * 8
                let crc = BlockScanner.bits(buffer, at: local + 48, count: 32)
                let startByte = local / 8
                let endByte = (found.bit + 7) / 8
                let block = BZip2Block(
                    bytes: Array(buffer[startByte..<endByte]), shift: local & 7, bitCount: found.bit - local, level: level,
                    crc: UInt32(crc), offset: base + startByte)
                state = .inStream(level: level, bit: base * 8 + found.bit, kind: found.kind)
                return .block(block)
            }
        }
    }

    /// The next block or end magic (in buffer bits) after the block starting at input bit `bit`. Most blocks are a few
    /// hundred KB: it looks 1 MiB ahead first and further only when the boundary is not there, so that the buffer
    /// holds little more than the block.
    private func nextBoundary(afterBlockAt bit: Int) throws -> (bit: Int, kind: BlockScanner.Kind) {
        var lookahead = Self.readChunk
        while true {
            try fill(through: bit / 8 + lookahead)
            if let found = BlockScanner.next(in: buffer, from: bit - base * 8 + 48, limit: filled) { return found }
            if atEnd {
                throw ToolkitError.corrupt(name, offset: base + buffer.count, "the input ends in the middle of a stream (truncated)")
            }
            if lookahead >= Self.maxBlockBytes {
                throw ToolkitError.corrupt(name, offset: bit / 8, "no bzip2 block boundary within \(Self.maxBlockBytes >> 20) MiB")
            }
            lookahead = min(lookahead * 2, Self.maxBlockBytes)
        }
    }

    /// Gives the pages past the filled part back to the system when a long lookahead (a stream header's 2 MiB) left
    /// over a MiB of them in memory.
    private func releasePagesPastFilled() {
        guard touched - filled >= Self.readChunk else { return }
        // Whole pages inside the storage only: from the first page boundary past the filled part to the last one
        // before the touched end.
        let page = UInt(4096)
        let base = UInt(bitPattern: storage.baseAddress!)
        let from = (base + UInt(filled) + page - 1) / page * page
        let to = (base + UInt(touched)) / page * page
        if to > from { _ = madvise(UnsafeMutableRawPointer(bitPattern: from), Int(to - from), MADV_DONTNEED) }
        touched = filled
    }

    /// The first byte-aligned stream header (`BZh1`–`BZh9` and a block or end magic) in `buffer[from..<limit]`.
    private func nextStreamHeader(from: Int, limit: Int) -> Int? {
        let bytes = buffer
        var position = from
        while position + 10 <= limit {
            guard let found = memchr(bytes.baseAddress! + position, 0x42, limit - 9 - position) else { return nil }
            let index = bytes.baseAddress!.distance(to: UnsafeRawPointer(found))
            if bytes[index + 1] == 0x5A, bytes[index + 2] == 0x68, (0x31...0x39).contains(bytes[index + 3]) {
                let magic = BlockScanner.bits48(bytes, at: (index + 4) * 8)
                if magic == BlockScanner.blockMagic || magic == BlockScanner.endMagic { return index }
            }
            position = index + 1
        }
        return nil
    }

    /// Whether `byte` is the end of the input or the start of a stream header.
    private func followedByStreamOrEnd(_ byte: Int) -> Bool {
        let local = byte - base
        if local >= buffer.count { return atEnd }
        guard buffer.count - local >= 3 else { return false }
        return buffer[local] == 0x42 && buffer[local + 1] == 0x5A && buffer[local + 2] == 0x68
    }

    /// Reads until `byte` (an input offset) is buffered or the input ends, a chunk at a time, first moving what
    /// lies before the current piece to the front of the buffer: the buffer's pages in use stay few (a piece and its
    /// lookahead), however much room it has.
    private func fill(through byte: Int) throws {
        let keepFrom: Int
        switch state {
        case .header(let start): keepFrom = start
        case .inStream(_, let bit, _): keepFrom = bit / 8
        case .done: keepFrom = base + filled
        }
        let wanted = min(byte + 1 - base, storage.count + (keepFrom - base))
        guard !atEnd, filled < wanted else { return }
        if keepFrom > base {
            let shift = min(keepFrom - base, filled)
            storage.baseAddress!.copyMemory(from: storage.baseAddress! + shift, byteCount: filled - shift)
            filled -= shift
            base += shift
            releasePagesPastFilled()
        }
        while !atEnd && base + filled <= byte && filled < storage.count {
            let want = min(storage.count - filled, Self.readChunk)
            let got = try input.readFully(into: storage.baseAddress! + filled, count: want)
            filled += got
            touched = max(touched, filled)
            bytesRead += got
            if got < want { atEnd = true }
        }
    }
}
