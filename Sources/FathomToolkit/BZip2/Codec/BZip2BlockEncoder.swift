import Synchronization

/// Compresses one bzip2 stream in Swift: runs of 4–255 equal bytes shortened (the first run-length pass), the
/// Burrows–Wheeler transform (``BurrowsWheeler``), move-to-front with zero runs in bijective base 2, and Huffman
/// coding with up to six tables chosen per 50 symbols, as libbz2 chooses them.
///
/// An encoder's buffers (about 9 bytes per block byte, on huge pages where the kernel allows) are kept for the next
/// stream: one idle encoder per core at most.
final class BZip2Encoder: @unchecked Sendable {
    static let blockMagic: UInt64 = 0x3141_5926_5359
    static let endMagic: UInt64 = 0x1772_4538_5090
    /// Symbols coded with one table.
    static let groupSize = 50
    /// Rounds of choosing tables per group and rebuilding the tables from the groups that chose them.
    static let selectionRounds = 4
    static let maxCodeLength = 17

    private static let idle = Mutex<[BZip2Encoder]>([])

    /// The largest block these buffers hold (the level's 100k steps).
    private let capacity: Int
    /// Bytes a block holds after the first run-length pass; libbz2 stops 19 short of the level's size.
    private var blockLimit = 0
    private let region: HugePageRegion
    private let block: UnsafeMutablePointer<UInt8>
    private let rotated: UnsafeMutablePointer<UInt8>
    private let last: UnsafeMutablePointer<UInt8>
    private let suffixes: UnsafeMutablePointer<Int32>
    private let symbols: UnsafeMutablePointer<UInt16>
    private var sortStrategy = SuffixSortStrategy()

    /// What one encoder at `level` holds while it works: its buffers (whole huge pages) and the suffix sorter's
    /// scratch (type bits and buckets; the reduced string's buckets at most 4 bytes per block byte).
    static func workingBytes(level: Int) -> Int {
        HugePageRegion.roundedSize(regionBytes(capacity: level * 100_000)) + 4 * level * 100_000
    }

    private static func regionBytes(capacity: Int) -> Int { capacity * 9 + 64 }

    private init(capacity: Int) {
        self.capacity = capacity
        region = HugePageRegion(bytes: Self.regionBytes(capacity: capacity))
        suffixes = region.base.bindMemory(to: Int32.self, capacity: capacity)
        symbols = (region.base + capacity * 4).bindMemory(to: UInt16.self, capacity: capacity + 1)
        block = (region.base + capacity * 6 + 16).bindMemory(to: UInt8.self, capacity: capacity)
        rotated = (region.base + capacity * 7 + 16).bindMemory(to: UInt8.self, capacity: capacity)
        last = (region.base + capacity * 8 + 16).bindMemory(to: UInt8.self, capacity: capacity)
    }

    deinit {
        region.release()
    }

    /// `input` as one complete bzip2 stream (several blocks when the first pass leaves more than a block).
    static func compress(_ input: UnsafeRawBufferPointer, level: Int) -> [UInt8] {
        let size = level * 100_000
        let encoder = idle.withLock { idle in idle.firstIndex { $0.capacity == size }.map { idle.remove(at: $0) } } ?? BZip2Encoder(capacity: size)
        defer { idle.withLock { if $0.count < System.activeProcessorCount { $0.append(encoder) } } }
        encoder.blockLimit = size - 19
        var sink = BitSink(capacity: input.count + input.count / 50 + 1024)
        sink.write(0x425A_6830 | UInt32(level), bits: 32)  // "BZh" and the level digit
        var streamCRC: UInt32 = 0
        var offset = 0
        while offset < input.count {
            let consumed = encoder.fillBlock(from: input, at: offset)
            var crc = BZip2CRC()
            crc.add(UnsafeRawBufferPointer(rebasing: input[offset..<(offset + consumed.input)]))
            encoder.writeBlock(count: consumed.block, crc: crc.value, inUse: consumed.inUse, to: &sink)
            streamCRC = BZip2CRC.combine(streamCRC, crc.value)
            offset += consumed.input
        }
        sink.reserve(16)
        sink.write48(endMagic)
        sink.write(streamCRC, bits: 32)
        return sink.finish()
    }

    /// The first pass: copies input from `start` into the block, a run of 4–255 equal bytes as 4 bytes and a count
    /// of the rest, until the block is full or the input ends.
    private func fillBlock(from input: UnsafeRawBufferPointer, at start: Int) -> (input: Int, block: Int, inUse: [Bool]) {
        var inUse = [Bool](repeating: false, count: 256)
        let bytes = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let end = input.count
        let block = self.block
        let limit = blockLimit
        var read = start
        var written = 0
        inUse.withUnsafeMutableBufferPointer { inUse in
            while read < end && written < limit {
                let byte = bytes[read]
                inUse[Int(truncatingIfNeeded: byte)] = true
                // Most bytes differ from the next one.
                if read &+ 1 < end && bytes[read &+ 1] != byte {
                    block[written] = byte
                    written &+= 1
                    read &+= 1
                    continue
                }
                var run = 1
                let runEnd = min(end, read &+ 255)
                while read &+ run < runEnd && bytes[read &+ run] == byte { run &+= 1 }
                if run < 4 {
                    for offset in 0..<run { block[written &+ offset] = byte }
                    written &+= run
                } else {
                    block[written] = byte
                    block[written &+ 1] = byte
                    block[written &+ 2] = byte
                    block[written &+ 3] = byte
                    block[written &+ 4] = UInt8(truncatingIfNeeded: run &- 4)
                    inUse[run &- 4] = true
                    written &+= 5
                }
                read &+= run
            }
        }
        return (read - start, written, inUse)
    }

    private func writeBlock(count: Int, crc: UInt32, inUse: [Bool], to sink: inout BitSink) {
        let row = BurrowsWheeler.transform(
            UnsafePointer(block), count: count, suffixes: suffixes, rotated: rotated, into: last, strategy: &sortStrategy)
        // Byte values in use, renumbered densely for move-to-front.
        var dense = [UInt8](repeating: 0, count: 256)
        var used = 0
        for value in 0..<256 where inUse[value] {
            dense[value] = UInt8(used)
            used += 1
        }
        let symbolCount = moveToFront(count: count, dense: dense, used: used)
        let alphabet = used + 2
        sink.reserve(64 + 32 + 256 * 2)
        sink.write48(Self.blockMagic)
        sink.write(crc, bits: 32)
        sink.write(0, bits: 1)  // not randomised
        sink.write(UInt32(row), bits: 24)
        var ranges: UInt32 = 0
        for range in 0..<16 where inUse[(range * 16)..<(range * 16 + 16)].contains(true) { ranges |= 1 << UInt32(15 - range) }
        sink.write(ranges, bits: 16)
        for range in 0..<16 where ranges & (1 << UInt32(15 - range)) != 0 {
            var bits: UInt32 = 0
            for value in 0..<16 where inUse[range * 16 + value] { bits |= 1 << UInt32(15 - value) }
            sink.write(bits, bits: 16)
        }
        let tables = HuffmanTables(symbols: UnsafePointer(symbols), count: symbolCount, alphabet: alphabet)
        tables.write(to: &sink)
    }

    /// Move-to-front over the last column, zero runs as RUNA/RUNB digits (bijective base 2), other positions p as
    /// symbol p + 1, and the end-of-block symbol; returns how many symbols.
    ///
    /// The list's first 16 entries live in two registers (`head` and `next`, entry i in byte i % 8): most positions
    /// are below 16, and are found and moved there without touching memory.
    private func moveToFront(count: Int, dense denseArray: [UInt8], used: Int) -> Int {
        // The dense numbering and the list's entries 16…255 (with room past the end for 8-byte reads), no closures:
        // every variable of the loop stays in a register.
        let dense = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        let list = UnsafeMutablePointer<UInt8>.allocate(capacity: 256 + 8)
        defer {
            dense.deallocate()
            list.deallocate()
        }
        for index in 0..<256 { dense[index] = denseArray[index] }
        for index in 0..<(256 + 8) { list[index] = UInt8(truncatingIfNeeded: index) }
        var head: UInt64 = 0x0706_0504_0302_0100
        var next: UInt64 = 0x0F0E_0D0C_0B0A_0908
        let raw = UnsafeRawPointer(list)
        let symbols = self.symbols, last = self.last
        var written = 0
        var zeros = 0
        for index in 0..<count {
            let value = dense[Int(truncatingIfNeeded: last[index])]
            if UInt8(truncatingIfNeeded: head) == value {
                zeros &+= 1
                continue
            }
            if zeros > 0 {
                written = Self.writeZeroRun(zeros, to: symbols, at: written)
                zeros = 0
            }
            let pattern = UInt64(value) &* 0x0101_0101_0101_0101
            var position: Int
            let inHead = Self.firstMatch(head, pattern)
            if inHead != 0 {
                position = inHead.trailingZeroBitCount >> 3
                // Entries 0…position-1 move up one byte; the value goes to byte 0.
                let moved = UInt64.max >> UInt64(56 &- 8 &* position)
                head = (head & ~moved) | ((head << 8) & moved) | UInt64(value)
            } else {
                let inNext = Self.firstMatch(next, pattern)
                if inNext != 0 {
                    // Entries 8…position-1 move up one byte, entry 7 becomes entry 8.
                    let byte = inNext.trailingZeroBitCount >> 3
                    position = 8 &+ byte
                    let moved = UInt64.max >> UInt64(56 &- 8 &* byte)
                    next = (next & ~moved) | ((next << 8 | head >> 56) & moved)
                } else {
                    position = 16
                    while true {
                        let found = Self.firstMatch(raw.loadUnaligned(fromByteOffset: position, as: UInt64.self).littleEndian, pattern)
                        if found != 0 {
                            position &+= found.trailingZeroBitCount >> 3
                            break
                        }
                        position &+= 8
                    }
                    var shift = position
                    while shift > 16 {
                        list[shift] = list[shift &- 1]
                        shift &-= 1
                    }
                    list[16] = UInt8(truncatingIfNeeded: next >> 56)
                    next = next << 8 | head >> 56
                }
                head = head << 8 | UInt64(value)
            }
            symbols[written] = UInt16(truncatingIfNeeded: position &+ 1)
            written &+= 1
        }
        if zeros > 0 { written = Self.writeZeroRun(zeros, to: symbols, at: written) }
        symbols[written] = UInt16(used + 1)
        return written + 1
    }

    /// A run of `zeros` zero positions as RUNA (0) and RUNB (1) digits, bijective base 2, least significant first.
    @inline(__always)
    private static func writeZeroRun(_ zeros: Int, to symbols: UnsafeMutablePointer<UInt16>, at start: Int) -> Int {
        var written = start
        var run = zeros &- 1
        while true {
            symbols[written] = UInt16(truncatingIfNeeded: run & 1)
            written &+= 1
            if run < 2 { return written }
            run = (run &- 2) >> 1
        }
    }

    /// A mask whose lowest set bit marks the first byte of `word` equal to `pattern`'s (all bytes the same); 0 when
    /// none is.
    @inline(__always)
    private static func firstMatch(_ word: UInt64, _ pattern: UInt64) -> UInt64 {
        let difference = word ^ pattern
        return (difference &- 0x0101_0101_0101_0101) & ~difference & 0x8080_8080_8080_8080
    }
}
