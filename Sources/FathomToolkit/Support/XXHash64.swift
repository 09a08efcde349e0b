import FathomCore

/// XXH64 (Yann Collet's xxHash, 64-bit), streaming: a fast non-cryptographic hash for telling a file's bytes apart
/// from another version of it (checkpoints' input fingerprints, their directory keys). Not for anything an attacker
/// chooses: no secret is at stake in a checkpoint, and a changed size or modification time is caught besides.
public struct XXHash64: Sendable {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    private let seed: UInt64
    private var lanes: (UInt64, UInt64, UInt64, UInt64)
    /// Bytes of an unfinished 32-byte stripe.
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    public init(seed: UInt64 = 0) {
        self.seed = seed
        lanes = (seed &+ Self.prime1 &+ Self.prime2, seed &+ Self.prime2, seed, seed &- Self.prime1)
        pending.reserveCapacity(32)
    }

    /// The hash of `bytes` in one call.
    public static func hash(_ bytes: some Sequence<UInt8>, seed: UInt64 = 0) -> UInt64 {
        var hasher = XXHash64(seed: seed)
        Array(bytes).withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
    }

    /// Adds bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var offset = 0
        if !pending.isEmpty {
            let take = min(32 - pending.count, bytes.count)
            pending += bytes[0..<take]
            offset = take
            guard pending.count == 32 else { return }
            pending.withUnsafeBytes { consumeStripe($0, at: 0) }
            pending.removeAll(keepingCapacity: true)
        }
        while bytes.count - offset >= 32 {
            consumeStripe(bytes, at: offset)
            offset += 32
        }
        pending += bytes[offset...]
    }

    /// The hash of the bytes so far.
    public func finalize() -> UInt64 {
        var hash: UInt64
        if length >= 32 {
            hash = rotate(lanes.0, 1) &+ rotate(lanes.1, 7) &+ rotate(lanes.2, 12) &+ rotate(lanes.3, 18)
            for lane in [lanes.0, lanes.1, lanes.2, lanes.3] {
                hash ^= Self.round(0, lane)
                hash = hash &* Self.prime1 &+ Self.prime4
            }
        } else {
            hash = seed &+ Self.prime5
        }
        hash &+= length
        pending.withUnsafeBytes { rest in
            var offset = 0
            while rest.count - offset >= 8 {
                hash ^= Self.round(0, rest.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian)
                hash = rotate(hash, 27) &* Self.prime1 &+ Self.prime4
                offset += 8
            }
            if rest.count - offset >= 4 {
                hash ^= UInt64(rest.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian) &* Self.prime1
                hash = rotate(hash, 23) &* Self.prime2 &+ Self.prime3
                offset += 4
            }
            while offset < rest.count {
                hash ^= UInt64(rest[offset]) &* Self.prime5
                hash = rotate(hash, 11) &* Self.prime1
                offset += 1
            }
        }
        hash ^= hash >> 33
        hash &*= Self.prime2
        hash ^= hash >> 29
        hash &*= Self.prime3
        hash ^= hash >> 32
        return hash
    }

    private mutating func consumeStripe(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        func word(_ index: Int) -> UInt64 { bytes.loadUnaligned(fromByteOffset: offset + index * 8, as: UInt64.self).littleEndian }
        lanes = (Self.round(lanes.0, word(0)), Self.round(lanes.1, word(1)), Self.round(lanes.2, word(2)), Self.round(lanes.3, word(3)))
    }

    private static func round(_ accumulator: UInt64, _ input: UInt64) -> UInt64 {
        (accumulator &+ input &* prime2).rotated(31) &* prime1
    }

    private func rotate(_ value: UInt64, _ bits: UInt64) -> UInt64 { value.rotated(bits) }
}

extension UInt64 {
    fileprivate func rotated(_ bits: UInt64) -> UInt64 { (self << bits) | (self >> (64 - bits)) }
}

extension XXHash64 {
    /// 128 bits as 32 hex digits: the hashes of `bytes` with seeds 0 and 1.
    public static func hex128(_ bytes: [UInt8]) -> String {
        Hex.lowercase(withUnsafeBytes(of: hash(bytes, seed: 0).bigEndian, Array.init) + withUnsafeBytes(of: hash(bytes, seed: 1).bigEndian, Array.init))
    }
}
