/// Bits written most significant first into a growing buffer, 32 at a time.
struct BitSink: ~Copyable {
    private var storage: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var used = 0
    private var pending: UInt64 = 0
    private var pendingBits = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        storage = .allocate(capacity: self.capacity)
    }

    deinit {
        storage.deallocate()
    }

    /// Bits written so far.
    var bitCount: Int { used * 8 + pendingBits }

    /// Makes room for at least `bytes` more bytes (call before a run of writes; a write itself never grows).
    mutating func reserve(_ bytes: Int) {
        guard used + bytes + 8 > capacity else { return }
        let grown = max(capacity * 2, used + bytes + 64)
        let replacement = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        replacement.update(from: storage, count: used)
        storage.deallocate()
        storage = replacement
        capacity = grown
    }

    /// Writes the low `count` bits of `value` (`count` ≤ 32; the bits above must be zero).
    @inline(__always)
    mutating func write(_ value: UInt32, bits count: Int) {
        pending = pending << UInt64(count) | UInt64(value)
        pendingBits += count
        if pendingBits >= 32 {
            pendingBits -= 32
            let word = UInt32(truncatingIfNeeded: pending >> UInt64(pendingBits))
            UnsafeMutableRawPointer(storage + used).storeBytes(of: word.bigEndian, as: UInt32.self)
            used += 4
        }
    }

    /// Writes 48 bits (a block or end-of-stream magic).
    mutating func write48(_ value: UInt64) {
        write(UInt32(value >> 24), bits: 24)
        write(UInt32(value & 0xFF_FFFF), bits: 24)
    }

    /// Pads to a whole byte with zeros and hands back the bytes.
    consuming func finish() -> [UInt8] {
        reserve(8)
        if pendingBits % 8 != 0 { write(0, bits: 8 - pendingBits % 8) }
        while pendingBits > 0 {
            pendingBits -= 8
            storage[used] = UInt8(truncatingIfNeeded: pending >> UInt64(pendingBits))
            used += 1
        }
        return Array(UnsafeBufferPointer(start: storage, count: used))
    }
}

/// Reads bits most significant first from a buffer, checking every read against its end.
struct BitSource {
    let bytes: UnsafeRawBufferPointer
    /// The next bit to read, counted from the start of `bytes`.
    var position: Int
    let bitCount: Int

    init(_ bytes: UnsafeRawBufferPointer, bit: Int = 0) {
        self.bytes = bytes
        self.position = bit
        self.bitCount = bytes.count * 8
    }

    /// The byte holding the next bit, for error messages.
    var byteOffset: Int { position >> 3 }

    /// The next 32 bits without moving; bits past the end read as zeros.
    @inline(__always)
    func peek32() -> UInt32 {
        let byte = position >> 3
        let word: UInt64
        if byte + 8 <= bytes.count {
            word = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: byte, as: UInt64.self))
        } else {
            var assembled: UInt64 = 0
            for index in 0..<8 {
                assembled <<= 8
                if byte + index < bytes.count { assembled |= UInt64(bytes[byte + index]) }
            }
            word = assembled
        }
        return UInt32(truncatingIfNeeded: (word << UInt64(position & 7)) >> 32)
    }

    /// Whether `count` more bits are there.
    @inline(__always)
    func has(_ count: Int) -> Bool { bitCount - position >= count }

    /// Reads `count` (1…32) bits, or throws when the input ends first.
    @inline(__always)
    mutating func read(_ count: Int) throws(BZip2DecodeError) -> UInt32 {
        guard has(count) else { throw BZip2DecodeError(offset: bytes.count, reason: "the input ends in the middle of a block (truncated)") }
        let value = peek32() >> UInt32(32 - count)
        position += count
        return value
    }

    mutating func readBit() throws(BZip2DecodeError) -> Bool {
        try read(1) == 1
    }

    mutating func read48() throws(BZip2DecodeError) -> UInt64 {
        UInt64(try read(24)) << 24 | UInt64(try read(24))
    }
}

/// Why a bzip2 stream was refused, and the byte of the input where that was found.
struct BZip2DecodeError: Error, Equatable {
    var offset: Int
    var reason: String
}
