import Synchronization

/// Decodes bzip2 blocks in Swift: the header, selectors and tables read with every value checked, the symbols
/// through table-driven Huffman decoding (``HuffmanDecoder``, two symbols per lookup when they fit), move-to-front
/// and zero runs undone straight into the inverse transform's vector, then one walk of that vector and the first
/// run-length pass undone with the block's CRC. Anything malformed is refused with the byte where it was found.
///
/// A decoder's buffers (about 6 bytes per block byte, on huge pages where the kernel allows) are kept for the next
/// stream: one idle decoder per core at most.
final class BZip2BlockDecoder: @unchecked Sendable {
    private static let idle = Mutex<[BZip2BlockDecoder]>([])

    /// A decoder for any level (its buffers hold the largest block), idle or new.
    static func take() -> BZip2BlockDecoder {
        idle.withLock { $0.popLast() } ?? BZip2BlockDecoder(level: 9)
    }

    /// Keeps this decoder for the next stream.
    func putBack() {
        Self.idle.withLock { if $0.count < System.activeProcessorCount { $0.append(self) } }
    }

    /// The largest block a stream may hold (the level's limit is checked per stream).
    private let blockLimit: Int
    /// The level of the stream being decoded: its blocks hold at most level × 100,000 bytes.
    var levelLimit = 900_000
    /// One word per block byte: the byte (low 8 bits) and, after ``inverseTransform``, the next row (the rest).
    private let region: HugePageRegion
    private let vector: UnsafeMutablePointer<UInt32>
    /// The walk's chunks, and the block after the transform (before the first run-length pass is undone).
    private let pool: UnsafeMutablePointer<UInt8>
    private let walked: UnsafeMutablePointer<UInt8>

    /// A block with the old randomised flag: only bzip2 before 0.9.5 wrote them; libbz2 decodes those streams.
    struct Randomised: Error {}

    /// What one decoder holds while it works: its buffers, in whole huge pages.
    static var workingBytes: Int { HugePageRegion.roundedSize(regionBytes(blockLimit: 900_000)) }

    private static func regionBytes(blockLimit: Int) -> Int { blockLimit * 5 + InverseWalk.poolBytes(blockLimit: blockLimit) }

    init(level: Int) {
        blockLimit = level * 100_000
        let poolBytes = InverseWalk.poolBytes(blockLimit: blockLimit)
        region = HugePageRegion(bytes: Self.regionBytes(blockLimit: blockLimit))
        vector = region.base.bindMemory(to: UInt32.self, capacity: blockLimit)
        pool = (region.base + blockLimit * 4).bindMemory(to: UInt8.self, capacity: poolBytes)
        walked = (region.base + blockLimit * 4 + poolBytes).bindMemory(to: UInt8.self, capacity: blockLimit)
    }

    deinit {
        region.release()
    }

    /// Decodes the block whose magic `source` has just read, appending its bytes to `output`; returns the block's
    /// stored CRC once the bytes matched it.
    func decodeBlock(_ source: inout BitSource, into output: inout ByteAccumulator) throws -> UInt32 {
        let blockStart = source.byteOffset
        let storedCRC = try source.read(32)
        if try source.readBit() { throw Randomised() }
        let origin = Int(try source.read(24))
        // The byte values in use: 16 ranges, then 16 values in each range that is used.
        let ranges = try source.read(16)
        var seqToByte = [UInt8](repeating: 0, count: 256)
        var used = 0
        for range in 0..<16 where ranges & (1 << UInt32(15 - range)) != 0 {
            let bits = try source.read(16)
            for value in 0..<16 where bits & (1 << UInt32(15 - value)) != 0 {
                seqToByte[used] = UInt8(range * 16 + value)
                used += 1
            }
        }
        guard used > 0 else { throw BZip2DecodeError(offset: source.byteOffset, reason: "a block uses no byte values") }
        let alphabet = used + 2
        let tableCount = Int(try source.read(3))
        guard (2...6).contains(tableCount) else {
            throw BZip2DecodeError(offset: source.byteOffset, reason: "a block has \(tableCount) Huffman tables (2 to 6 are allowed)")
        }
        let selectorCount = Int(try source.read(15))
        guard selectorCount > 0 else { throw BZip2DecodeError(offset: source.byteOffset, reason: "a block has no selectors") }
        var selectors = [UInt8](repeating: 0, count: selectorCount)
        var order: [UInt8] = [0, 1, 2, 3, 4, 5]
        for index in 0..<selectorCount {
            var position = 0
            while try source.readBit() {
                position += 1
                guard position < tableCount else {
                    throw BZip2DecodeError(offset: source.byteOffset, reason: "a selector names table \(position + 1) of \(tableCount)")
                }
            }
            let table = order[position]
            order.remove(at: position)
            order.insert(table, at: 0)
            selectors[index] = table
        }
        var decoders: [HuffmanDecoder] = []
        var lengths = [UInt8](repeating: 0, count: alphabet)
        for _ in 0..<tableCount {
            var current = Int(try source.read(5))
            for symbol in 0..<alphabet {
                while true {
                    guard (1...HuffmanCode.maxDecodableLength).contains(current) else {
                        throw BZip2DecodeError(offset: source.byteOffset, reason: "a Huffman code length of \(current) (1 to 20 are allowed)")
                    }
                    guard try source.readBit() else { break }
                    current += try source.readBit() ? -1 : 1
                }
                lengths[symbol] = UInt8(current)
            }
            do {
                decoders.append(try lengths.withUnsafeBufferPointer { try HuffmanDecoder(lengths: $0.baseAddress!, count: alphabet, pairable: alphabet - 1) })
            } catch let error as BZip2DecodeError {
                throw BZip2DecodeError(offset: source.byteOffset, reason: error.reason)
            }
        }
        let (count, rows) = try decodeSymbols(&source, decoders: decoders, selectors: selectors, seqToByte: seqToByte, used: used)
        guard origin < count else {
            throw BZip2DecodeError(offset: blockStart + 4, reason: "the block's origin row \(origin) is outside its \(count) bytes")
        }
        let start = output.count
        inverseTransform(count: count, origin: origin, rows: rows, into: &output)
        var crc = BZip2CRC()
        crc.add(UnsafeRawBufferPointer(start: output.base + start, count: output.count - start))
        guard crc.value == storedCRC else {
            throw BZip2DecodeError(offset: blockStart, reason: "block CRC mismatch (stored \(storedCRC), computed \(crc.value))")
        }
        return storedCRC
    }

    /// Huffman symbols to block bytes (in `vector`'s low bytes); returns the block's length and each byte's first
    /// row in the sorted order.
    private func decodeSymbols(
        _ source: inout BitSource, decoders: [HuffmanDecoder], selectors: [UInt8], seqToByte: [UInt8], used: Int
    ) throws(BZip2DecodeError) -> (count: Int, rows: [Int]) {
        var sink = SymbolSink(vector: vector, limit: min(levelLimit, blockLimit), endOfBlock: used + 1, seqToByte: seqToByte)
        defer { sink.release() }
        // Every table's lookup entries side by side, so switching tables is a pointer move.
        let width = 1 << HuffmanDecoder.lookupBits
        var tables = [UInt32](repeating: 0, count: decoders.count * width)
        for (index, decoder) in decoders.enumerated() { tables.replaceSubrange((index * width)..<((index + 1) * width), with: decoder.table) }
        var groupLeft = 0
        var group = 0
        var decoder = 0
        try tables.withUnsafeBufferPointer { (tables) throws(BZip2DecodeError) in
            var table = tables.baseAddress!
            let shift = UInt32(32 - HuffmanDecoder.lookupBits)
            while !sink.ended {
                if groupLeft == 0 {
                    guard group < selectors.count else {
                        throw BZip2DecodeError(offset: source.byteOffset, reason: "a block has more symbols than its selectors cover")
                    }
                    decoder = Int(selectors[group])
                    table = tables.baseAddress! + decoder * width
                    group += 1
                    groupLeft = BZip2Encoder.groupSize
                }
                let window = source.peek32()
                let entry = table[Int(window >> shift)]
                switch entry >> 5 & 3 {
                case 2 where groupLeft >= 2:
                    source.position += Int(entry & 31)
                    groupLeft -= 2
                    try sink.take(Int(entry >> 7 & 0x1FF), at: source.byteOffset)
                    try sink.take(Int(entry >> 16 & 0x1FF), at: source.byteOffset)
                case 2:
                    source.position += Int(entry >> 25 & 31)
                    groupLeft -= 1
                    try sink.take(Int(entry >> 7 & 0x1FF), at: source.byteOffset)
                case 1:
                    source.position += Int(entry & 31)
                    groupLeft -= 1
                    try sink.take(Int(entry >> 7 & 0x1FF), at: source.byteOffset)
                default:
                    guard let (symbol, length) = decoders[decoder].slowSymbol(window) else {
                        throw BZip2DecodeError(offset: source.byteOffset, reason: "bits that match no Huffman code")
                    }
                    source.position += length
                    groupLeft -= 1
                    try sink.take(symbol, at: source.byteOffset)
                }
                guard source.position <= source.bitCount else {
                    throw BZip2DecodeError(offset: source.bytes.count, reason: "the input ends in the middle of a block (truncated)")
                }
            }
        }
        var rows = [Int](repeating: 0, count: 256)
        var sum = 0
        for byte in 0..<256 {
            rows[byte] = sum
            sum += sink.counts[byte]
        }
        return (sink.written, rows)
    }

    /// The inverse Burrows–Wheeler transform: every row linked to the next one (as bzip2 keeps it: the next row
    /// above the byte in one word), then the links walked (``InverseWalk``) and the first run-length pass undone in
    /// order: after 4 equal bytes, the next byte counts more of them.
    private func inverseTransform(count: Int, origin: Int, rows: [Int], into output: inout ByteAccumulator) {
        let vector = self.vector
        var next = rows
        next.withUnsafeMutableBufferPointer { next in
            let next = next.baseAddress!
            for index in 0..<count {
                let byte = Int(truncatingIfNeeded: vector[index] & 0xFF)
                let row = next[byte]
                vector[row] |= UInt32(truncatingIfNeeded: index) << 8
                next[byte] = row &+ 1
            }
        }
        InverseWalk.walk(vector, count: count, origin: origin, pool: pool, into: walked)
        undoRuns(count: count, into: &output)
    }

    /// The first pass undone over the walked block.
    private func undoRuns(count: Int, into output: inout ByteAccumulator) {
        let walked = self.walked
        var previous: UInt8 = walked[0] &+ 1
        var same = 0
        var index = 0
        while index < count {
            // At most 64 bytes and one count (255) per stretch.
            let stop = min(count, index + 64)
            output.reserve(64 + 255)
            var out = output.base + output.count
            while index < stop {
                let byte = walked[index]
                index += 1
                out.pointee = byte
                out += 1
                if byte != previous {
                    previous = byte
                    same = 1
                    continue
                }
                same += 1
                guard same == 4 else { continue }
                if index < count {
                    let extra = Int(walked[index])
                    index += 1
                    out.update(repeating: byte, count: extra)
                    out += extra
                    output.count = output.base.distance(to: out)
                    output.reserve(64 + 255)
                    out = output.base + output.count
                }
                previous = byte &+ 1
                same = 0
            }
            output.count = output.base.distance(to: out)
        }
    }
}

/// Where decoded symbols go: zero runs (RUNA/RUNB digits) and move-to-front positions become block bytes in the
/// vector's low bytes, counted per byte value, every length checked against the block's limit.
private struct SymbolSink {
    let vector: UnsafeMutablePointer<UInt32>
    let limit: Int
    let endOfBlock: Int
    let order: UnsafeMutablePointer<UInt8>
    let seqToByte: UnsafeMutablePointer<UInt8>
    let counts: UnsafeMutablePointer<Int>
    var written = 0
    var run = 0
    var runWeight = 1
    var ended = false

    init(vector: UnsafeMutablePointer<UInt32>, limit: Int, endOfBlock: Int, seqToByte: [UInt8]) {
        self.vector = vector
        self.limit = limit
        self.endOfBlock = endOfBlock
        order = .allocate(capacity: 256)
        for index in 0..<256 { order[index] = UInt8(truncatingIfNeeded: index) }
        self.seqToByte = .allocate(capacity: 256)
        for index in 0..<256 { self.seqToByte[index] = seqToByte[index] }
        counts = .allocate(capacity: 256)
        counts.initialize(repeating: 0, count: 256)
    }

    func release() {
        order.deallocate()
        seqToByte.deallocate()
        counts.deallocate()
    }

    @inline(__always)
    mutating func take(_ symbol: Int, at offset: Int) throws(BZip2DecodeError) {
        if symbol < 2 {
            guard runWeight <= 1 << 20 else { throw BZip2DecodeError(offset: offset, reason: "a run of zeros longer than a block") }
            run += (symbol + 1) * runWeight
            runWeight <<= 1
            guard written + run <= limit else {
                throw BZip2DecodeError(offset: offset, reason: "a block longer than its level allows (\(limit) bytes)")
            }
            return
        }
        if run > 0 {
            let byte = seqToByte[Int(order[0])]
            (vector + written).update(repeating: UInt32(byte), count: run)
            counts[Int(byte)] += run
            written += run
            run = 0
            runWeight = 1
        }
        if symbol == endOfBlock {
            ended = true
            return
        }
        guard written < limit else {
            throw BZip2DecodeError(offset: offset, reason: "a block longer than its level allows (\(limit) bytes)")
        }
        var position = symbol - 1
        let value = order[position]
        while position > 0 {
            order[position] = order[position - 1]
            position -= 1
        }
        order[0] = value
        let byte = seqToByte[Int(value)]
        vector[written] = UInt32(byte)
        counts[Int(byte)] += 1
        written += 1
    }
}
