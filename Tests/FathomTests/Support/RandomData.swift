import Foundation

/// A seeded generator (SplitMix64), so a failing random case can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &self) < probability
    }

    mutating func pick<T>(_ values: [T]) -> T {
        values[Int.random(in: 0..<values.count, using: &self)]
    }
}

/// Files for the toolkit's tests.
enum TestFiles {
    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A file's bytes as `Data`, whose `==` is one memcmp (comparing `[UInt8]` element by element takes seconds
    /// for large files in a debug build, and would hold a thread the other tests need).
    static func read(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// Text lines of random words, `count` bytes or a little more.
    static func wordLines(bytes count: Int, seed: UInt64) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        var output: [UInt8] = []
        output.reserveCapacity(count + 128)
        while output.count < count {
            for word in 0..<Int.random(in: 1...8, using: &random) {
                if word > 0 { output.append(0x20) }
                for _ in 0..<Int.random(in: 1...9, using: &random) { output.append(UInt8.random(in: 0x61...0x7A, using: &random)) }
            }
            output.append(0x0A)
        }
        return output
    }

    /// Bytes that compress like text: words from a small vocabulary, with numbers.
    static func compressibleText(bytes count: Int, seed: UInt64) -> [UInt8] {
        var random = SeededGenerator(seed: seed)
        let vocabulary = (0..<200).map { index in Array("w\(index)x\(index * 7 % 13)".utf8) }
        var output: [UInt8] = []
        output.reserveCapacity(count + 64)
        while output.count < count {
            output += random.pick(vocabulary)
            output.append(random.chance(0.1) ? 0x0A : 0x20)
        }
        return Array(output.prefix(count))
    }
}
