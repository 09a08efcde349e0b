/// Finds bzip2 block and end-of-stream magics at any bit offset.
///
/// A block starts with the 48-bit magic 0x314159265359 and a stream ends with 0x177245385090, at whatever bit they
/// fall; nothing is byte-aligned inside a stream. For each of the 8 bit shifts, the two bytes after a magic's first
/// byte are fixed, so one 16-bit table lookup per byte finds every candidate, and only those are checked in full.
/// A match inside compressed data (chance 2⁻⁴⁸ per bit) is possible; ``BlockAssembler`` recovers from it.
enum BlockScanner {
    static let blockMagic: UInt64 = 0x3141_5926_5359
    static let endMagic: UInt64 = 0x1772_4538_5090

    enum Kind {
        case block, end
    }

    /// The two bytes after the first byte of a magic placed at each bit shift.
    private static let probes: [(value: UInt16, shift: Int, kind: Kind)] = (0..<8).flatMap { shift in
        [(blockMagic, Kind.block), (endMagic, Kind.end)].map { magic, kind in
            (UInt16(truncatingIfNeeded: (magic << UInt64(16 - shift)) >> 40), shift, kind)
        }
    }

    private static let table: [UInt64] = {
        var bits = [UInt64](repeating: 0, count: 1024)
        for probe in probes { bits[Int(probe.value) >> 6] |= 1 << UInt64(probe.value & 63) }
        return bits
    }()

    /// The 48 bits starting at bit `bit` of `bytes` (zeros past the end).
    @inline(__always)
    static func bits48(_ bytes: UnsafeRawBufferPointer, at bit: Int) -> UInt64 {
        bits(bytes, at: bit, count: 48)
    }

    /// `count` (≤ 56) bits starting at bit `bit`, most significant first.
    @inline(__always)
    static func bits(_ bytes: UnsafeRawBufferPointer, at bit: Int, count: Int) -> UInt64 {
        guard count > 0 else { return 0 }
        let start = bit >> 3
        var word: UInt64 = 0
        if start + 8 <= bytes.count {
            word = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: start, as: UInt64.self))
        } else {
            for index in 0..<8 {
                word <<= 8
                if start + index < bytes.count { word |= UInt64(bytes[start + index]) }
            }
        }
        return (word << UInt64(bit & 7)) >> UInt64(64 - count)
    }

    /// The first magic at a bit offset ≥ `from` whose 7 bytes lie before `limit` (a byte index).
    static func next(in bytes: UnsafeRawBufferPointer, from: Int, limit: Int) -> (bit: Int, kind: Kind)? {
        var position = (from >> 3) + 1
        let end = min(limit, bytes.count) - 6
        let table = Self.table
        while position < end {
            let value = UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
            if table[Int(value) >> 6] & (1 << UInt64(value & 63)) != 0 {
                var best: (Int, Kind)?
                for probe in probes where probe.value == value {
                    let bit = (position - 1) * 8 + probe.shift
                    guard bit >= from, best == nil || bit < best!.0 else { continue }
                    if bits48(bytes, at: bit) == (probe.kind == .block ? blockMagic : endMagic) { best = (bit, probe.kind) }
                }
                if let best { return best }
            }
            position += 1
        }
        return nil
    }
}

/// Appends bits to a byte array, most significant first.
struct BitWriter {
    private(set) var bytes: [UInt8] = []
    private var accumulator: UInt64 = 0
    private var pending = 0

    init(reserving capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    mutating func append(_ value: UInt64, bits count: Int) {
        accumulator = accumulator << UInt64(count) | (value & ((1 << UInt64(count)) - 1))
        pending += count
        while pending >= 8 {
            pending -= 8
            bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt64(pending)))
        }
    }

    /// Appends `count` bits of `source` starting at bit `bit`.
    mutating func append(_ source: UnsafeRawBufferPointer, fromBit bit: Int, count: Int) {
        if pending == 0 && bit & 7 == 0 {
            let start = bit >> 3
            bytes.append(contentsOf: source[start..<(start + count / 8)])
        } else {
            var offset = 0
            while count - offset >= 56 {
                append(BlockScanner.bits(source, at: bit + offset, count: 56), bits: 56)
                offset += 56
            }
            if count - offset >= 8 {
                let whole = (count - offset) / 8 * 8
                append(BlockScanner.bits(source, at: bit + offset, count: whole), bits: whole)
                offset += whole
            }
            append(BlockScanner.bits(source, at: bit + offset, count: count - offset), bits: count - offset)
            return
        }
        let rest = count % 8
        if rest > 0 { append(BlockScanner.bits(source, at: bit + count - rest, count: rest), bits: rest) }
    }

    /// Pads the last byte with zero bits.
    mutating func finish() -> [UInt8] {
        if pending > 0 { append(0, bits: 8 - pending) }
        return bytes
    }
}
