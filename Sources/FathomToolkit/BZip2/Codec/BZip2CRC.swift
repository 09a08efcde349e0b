/// bzip2's CRC-32: the polynomial 0x04C11DB7, most significant bit first, started at all ones and inverted at the
/// end. Each block carries the CRC of its original bytes; a stream carries the blocks' CRCs combined.
struct BZip2CRC {
    /// One table per byte of a 32-bit word, so four bytes are folded per step ("slicing by four").
    static let tables: [[UInt32]] = {
        var first = [UInt32](repeating: 0, count: 256)
        for index in 0..<256 {
            var crc = UInt32(index) << 24
            for _ in 0..<8 { crc = crc & 0x8000_0000 != 0 ? (crc << 1) ^ 0x04C1_1DB7 : crc << 1 }
            first[index] = crc
        }
        var tables = [first]
        for _ in 1..<4 {
            let previous = tables.last!
            tables.append((0..<256).map { (previous[$0] << 8) ^ first[Int(previous[$0] >> 24)] })
        }
        return tables
    }()
    static let flat: [UInt32] = tables.flatMap { $0 }

    private(set) var state: UInt32 = 0xFFFF_FFFF

    /// The CRC of everything added so far.
    var value: UInt32 { ~state }

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        var crc = state
        var index = 0
        let count = bytes.count
        Self.flat.withUnsafeBufferPointer { table in
            let table = table.baseAddress!
            while index + 4 <= count {
                crc ^= UInt32(base.load(fromByteOffset: index, as: UInt8.self)) << 24
                    | UInt32(base.load(fromByteOffset: index + 1, as: UInt8.self)) << 16
                    | UInt32(base.load(fromByteOffset: index + 2, as: UInt8.self)) << 8
                    | UInt32(base.load(fromByteOffset: index + 3, as: UInt8.self))
                crc = table[768 + Int(crc >> 24)] ^ table[512 + Int((crc >> 16) & 0xFF)]
                    ^ table[256 + Int((crc >> 8) & 0xFF)] ^ table[Int(crc & 0xFF)]
                index += 4
            }
            while index < count {
                crc = (crc << 8) ^ table[Int((crc >> 24) ^ UInt32(base.load(fromByteOffset: index, as: UInt8.self)))]
                index += 1
            }
        }
        state = crc
    }

    /// Adds `count` copies of `byte`.
    mutating func add(_ byte: UInt8, count: Int) {
        var crc = state
        Self.flat.withUnsafeBufferPointer { table in
            for _ in 0..<count { crc = (crc << 8) ^ table[Int((crc >> 24) ^ UInt32(byte))] }
        }
        state = crc
    }

    /// A stream's CRC after one more block.
    static func combine(_ stream: UInt32, _ block: UInt32) -> UInt32 {
        (stream << 1 | stream >> 31) ^ block
    }
}
