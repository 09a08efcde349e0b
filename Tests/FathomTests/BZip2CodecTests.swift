@testable import FathomToolkit
import Foundation
import Testing

/// Fathom's own bzip2 codec (``BZip2Encoder``, ``BZip2BlockDecoder``) against libbz2, the reference, and the stock
/// tools: its parts against naive definitions, round trips of the inputs that stress a bzip2 codec at every level,
/// and a fuzzer over damaged streams.
@Suite("bzip2 codec", .serialized)
struct BZip2CodecTests {
    /// The inputs a bzip2 codec must survive, by name.
    static func corpus() -> [(name: String, bytes: [UInt8])] {
        var generator = SeededGenerator(seed: 19)
        var inputs: [(String, [UInt8])] = [
            ("empty", []), ("one byte", [0x61]), ("two bytes", [0, 255]), ("abab", Array("abab".utf8)),
            ("four equal", [7, 7, 7, 7]), ("five equal", [7, 7, 7, 7, 7]),
        ]
        inputs.append(("one byte repeated, 1.3 MB", [UInt8](repeating: 0x41, count: 1_300_000)))
        // Runs of every length 1…600, so the first pass meets 4, 255 and 256 exactly, and runs split across blocks.
        inputs.append(("runs 1…600", (1...600).flatMap { [UInt8](repeating: UInt8($0 % 251), count: $0) }))
        for period in [2, 3, 7, 1000, 65_536] {
            let unit = (0..<period).map { _ in UInt8.random(in: 0...255, using: &generator) }
            inputs.append(("period \(period)", Array((0..<(1_000_000 / period + 1)).map { _ in unit }.joined().prefix(1_000_000))))
        }
        inputs.append(("random bytes", (0..<400_000).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        inputs.append(("two symbols", (0..<300_000).map { _ in UInt8.random(in: 0...1, using: &generator) }))
        let words = ["the", "flow", "run", "volume", "sorted", "ECS", "task", "a", "of", "\n"]
        inputs.append(("text", Array((0..<200_000).map { _ in words.randomElement(using: &generator)! }.joined(separator: " ").utf8)))
        let binary = (try? Data(contentsOf: URL(fileURLWithPath: "/bin/ls"))).map { [UInt8]($0) } ?? []
        inputs.append(("binary (/bin/ls)", binary))
        return inputs
    }

    static func libbz2(_ bytes: [UInt8], level: Int) throws -> [UInt8] {
        try bytes.withUnsafeBytes { try BZip2Codec.compressWithLibbz2($0, level: level) }
    }

    static func decodeWithLibbz2(_ stream: [UInt8]) throws -> [UInt8] {
        try stream.withUnsafeBytes { try BZip2Codec.decodeStreamWithLibbz2($0).output }
    }

    static func decode(_ stream: [UInt8]) throws -> BZip2Codec.Decoded {
        try stream.withUnsafeBytes { try SwiftBZip2.decodeStream($0, expectedOutput: 0) }
    }

    /// Sorts `text`'s suffixes, comparing the LMS suffixes first or by induction alone; the order and whether the
    /// comparison sort gave up.
    static func suffixOrder(_ text: [UInt8], comparingFirst: Bool) -> (order: [Int], gaveUp: Bool) {
        var sorted = [Int32](repeating: -1, count: text.count)
        let gaveUp = text.withUnsafeBufferPointer { text in
            sorted.withUnsafeMutableBufferPointer {
                SuffixSorter.sort(text.baseAddress!, count: text.count, into: $0.baseAddress!, comparingFirst: comparingFirst)
            }
        }
        return (sorted.map(Int.init), gaveUp)
    }

    @Test("suffixes sort as a naive sort orders them (a prefix first), by comparison first and by induction alone; long repeats make the comparison sort give up")
    func suffixSorterMatchesANaiveSort() async throws {
        try await offThePool(lowestPriority: false) {
            var generator = SeededGenerator(seed: 3)
            var gaveUp = 0, compared = 0
            for round in 0..<3_300 {
                let text: [UInt8]
                if round < 3_000 {
                    let count = Int.random(in: 1...(round < 2_000 ? 40 : 400), using: &generator)
                    let alphabet = UInt8([1, 2, 3, 4, 255][round % 5])
                    text = (0..<count).map { _ in UInt8.random(in: 0...alphabet, using: &generator) }
                } else {
                    // A unit repeated past the comparison sort's depth limit, with a few bytes changed.
                    let unit = (0..<Int.random(in: 1...7, using: &generator)).map { _ in UInt8.random(in: 0...3, using: &generator) }
                    var repeated = Array(Array(repeating: unit, count: 1_400 / unit.count).joined())
                    for _ in 0..<Int.random(in: 0...3, using: &generator) {
                        repeated[Int.random(in: 0..<repeated.count, using: &generator)] = UInt8.random(in: 0...3, using: &generator)
                    }
                    text = repeated
                }
                let first = Self.suffixOrder(text, comparingFirst: true)
                let induced = Self.suffixOrder(text, comparingFirst: false)
                #expect(!induced.gaveUp, "not tried, so never given up")
                if first.gaveUp { gaveUp += 1 } else { compared += 1 }
                #expect(first.order == induced.order, "\(text)")
                if round < 3_000 || round % 60 == 0 {
                    let naive = (0..<text.count).sorted { text[$0...].lexicographicallyPrecedes(text[$1...]) }
                    #expect(induced.order == naive, "\(text)")
                    if induced.order != naive { return }
                }
                if first.order != induced.order { return }
            }
            #expect(gaveUp >= 250 && compared >= 2_900, "the comparison sort settled \(compared) inputs and gave up on \(gaveUp)")
        }
    }

    @Test("after the comparison sort gives up on a block, the next 16 blocks are sorted by induction alone; each give-up in a row doubles that, up to 256")
    func aGivenUpComparisonSortPauses() {
        var strategy = SuffixSortStrategy()
        #expect(strategy.comparingFirst)
        /// Blocks sorted by induction alone after one more give-up.
        func pauseAfterGivingUp() -> Int {
            strategy.record(gaveUp: true)
            var paused = 0
            while !strategy.comparingFirst {
                strategy.record(gaveUp: false)
                paused += 1
            }
            return paused
        }
        #expect((0..<6).map { _ in pauseAfterGivingUp() } == [16, 32, 64, 128, 256, 256])
        strategy.record(gaveUp: false)
        #expect(pauseAfterGivingUp() == 16, "a block settled by comparison starts the pauses over")
    }

    @Test("the transform equals sorting every rotation (ties by start), repetitions and one-byte blocks included")
    func transformMatchesSortingRotations() async throws {
        try await offThePool(lowestPriority: false) {
            var generator = SeededGenerator(seed: 5)
            for round in 0..<3_000 {
                var block: [UInt8]
                if round % 3 == 0 {
                    let unit = (0..<Int.random(in: 1...5, using: &generator)).map { _ in UInt8.random(in: 0...2, using: &generator) }
                    block = Array((0..<Int.random(in: 1...12, using: &generator)).map { _ in unit }.joined())
                } else {
                    block = (0..<Int.random(in: 1...60, using: &generator)).map { _ in UInt8.random(in: 0...(round % 2 == 0 ? 1 : 3), using: &generator) }
                }
                let n = block.count
                let rotations = (0..<n).sorted { a, b in
                    let left = block[a...] + block[..<a], right = block[b...] + block[..<b]
                    return left == right ? a < b : left.lexicographicallyPrecedes(right)
                }
                let expectedLast = rotations.map { block[($0 + n - 1) % n] }
                let expectedRow = rotations.firstIndex(of: 0)!
                var last = [UInt8](repeating: 0, count: n)
                var suffixes = [Int32](repeating: 0, count: n)
                var rotated = [UInt8](repeating: 0, count: n)
                var strategy = SuffixSortStrategy()
                let row = block.withUnsafeBufferPointer { block in
                    suffixes.withUnsafeMutableBufferPointer { suffixes in
                        rotated.withUnsafeMutableBufferPointer { rotated in
                            last.withUnsafeMutableBufferPointer { last in
                                BurrowsWheeler.transform(
                                    block.baseAddress!, count: n, suffixes: suffixes.baseAddress!, rotated: rotated.baseAddress!, into: last.baseAddress!,
                                    strategy: &strategy)
                            }
                        }
                    }
                }
                #expect(last == expectedLast && row == expectedRow, "\(block)")
                if last != expectedLast || row != expectedRow { return }
            }
        }
    }

    @Test("every input at levels 1–9: ours decodes it back, libbz2 decodes ours, ours decodes libbz2's; sizes as libbz2's",
          .timeLimit(.minutes(10)))
    func roundTripsAgainstLibbz2() async throws {
        try await offThePool {
            var identical = 0, total = 0
            for (name, bytes) in Self.corpus() {
                for level in 1...9 {
                    // The big inputs at three levels, the small ones at all nine.
                    guard bytes.count < 500_000 || [1, 5, 9].contains(level) else { continue }
                    let ours = try bytes.withUnsafeBytes { BZip2Encoder.compress($0, level: level) }
                    let reference = try Self.libbz2(bytes, level: level)
                    let back = try Self.decode(ours)
                    #expect(back.output == bytes && back.streamLength == ours.count, "\(name) -\(level): our round trip")
                    #expect(try Self.decodeWithLibbz2(ours) == bytes, "\(name) -\(level): libbz2 decodes ours")
                    #expect(try Self.decode(reference).output == bytes, "\(name) -\(level): ours decodes libbz2's")
                    #expect(Double(ours.count) <= Double(reference.count) * 1.01 + 16, "\(name) -\(level): \(ours.count) bytes, libbz2 \(reference.count)")
                    total += 1
                    if ours == reference { identical += 1 }
                }
            }
            // Same transform, same table choice: most outputs are libbz2's to the byte.
            print("bzip2 codec: \(identical) of \(total) outputs byte-identical to libbz2's")
            #expect(identical * 2 > total, "byte-identical to libbz2: \(identical) of \(total)")
        }
    }

    @Test("stock bunzip2 decodes what ours writes at -1, -5 and -9; ours decodes lbzip2's and pbzip2's writing of the same inputs")
    func stockToolsAgreeBothWays() async throws {
        let directory = TemporaryDirectory("bz-codec")
        let inputs = try await offThePool { Self.corpus() }
        let plain = directory.file("all")
        let joined = try await offThePool { inputs.flatMap(\.bytes) }
        try Data(joined).write(to: URL(fileURLWithPath: plain))
        // Every input as its own stream(s), concatenated: bunzip2 must give back all inputs in order, at each level.
        for level in [1, 5, 9] {
            let ours = try await offThePool { try inputs.flatMap { try $0.bytes.withUnsafeBytes { BZip2Encoder.compress($0, level: level) } } }
            try Data(ours).write(to: URL(fileURLWithPath: directory.file("ours.bz2")))
            let stock = try await runCommand("/bin/sh", ["-c", "bunzip2 -c '\(directory.file("ours.bz2"))' | cmp - '\(plain)'"])
            #expect(stock.exit.exitCode == 0, "stock bunzip2 of ours at -\(level): \(stock.output)")
        }
        for maker in ["lbzip2 -n2 -9", "lbzip2 -n2 -1", "pbzip2 -p2 -9", "bzip2 -3"] {
            let made = try await runCommand("/bin/sh", ["-c", "\(maker) -c '\(plain)' > '\(directory.file("made.bz2"))'"])
            #expect(made.exit.exitCode == 0)
            let back = directory.file("made.out")
            _ = try await BZip2Tests.fathom(directory.file("made.bz2"), back, decompress: true)
            #expect(try Data(contentsOf: URL(fileURLWithPath: back)) == Data(joined), "ours decodes \(maker)")
        }
    }

    /// Damage of every kind to valid streams: flipped bits, cut ends, inserted and deleted bytes, and fields set
    /// to their extremes. Every input ends as the original bytes (only when libbz2 agrees) or as an error naming a
    /// byte inside the input; none traps or hangs.
    @Test("fuzzing the decoder: 30,000 damaged streams, each decoded or refused with an offset, none trapping",
          .timeLimit(.minutes(10)))
    func fuzzingTheDecoder() async throws {
        try await offThePool {
            var generator = SeededGenerator(seed: 23)
            let seeds = Self.corpus().filter { $0.bytes.count < 100_000 && !$0.bytes.isEmpty }.map {
                try! Self.libbz2(Array($0.bytes.prefix(30_000)), level: 1)
            } + [try Self.libbz2((0..<20_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 13) }, level: 1)]
            var refused = 0, decoded = 0
            var reasons: [String: Int] = [:]
            for round in 0..<30_000 {
                var damaged = seeds[round % seeds.count]
                switch Int.random(in: 0..<5, using: &generator) {
                case 0:
                    for _ in 0..<Int.random(in: 1...4, using: &generator) {
                        damaged[Int.random(in: 0..<damaged.count, using: &generator)] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
                    }
                case 1: damaged = Array(damaged.prefix(Int.random(in: 0..<damaged.count, using: &generator)))
                case 2: damaged.insert(UInt8.random(in: 0...255, using: &generator), at: Int.random(in: 0...damaged.count, using: &generator))
                case 3: damaged.remove(at: Int.random(in: 0..<damaged.count, using: &generator))
                default:
                    // The header fields (selectors, table counts, lengths) sit in the first bytes after the block magic.
                    let at = Int.random(in: 4..<min(damaged.count, 80), using: &generator)
                    damaged[at] = [0x00, 0xFF, 0x80, 0x7F].randomElement(using: &generator)!
                }
                do {
                    let result = try Self.decode(damaged)
                    decoded += 1
                    // Accepted damage must be damage libbz2 accepts too, with the same bytes.
                    let reference = try? Self.decodeWithLibbz2(damaged)
                    #expect(reference == result.output, "round \(round): ours accepted what libbz2 decodes differently")
                } catch let BZip2Codec.DecodeFailure.damaged(offset, reason) {
                    refused += 1
                    #expect((0...damaged.count).contains(offset), "round \(round): offset \(offset) outside \(damaged.count) bytes")
                    reasons[String(reason.prefix(30)), default: 0] += 1
                }
            }
            #expect(refused > 25_000, "refused \(refused), decoded \(decoded)")
            #expect(reasons.count >= 8, "many kinds of refusal: \(reasons)")
        }
    }

    @Test("the engine switch: FATHOM_BZIP2_ENGINE=libbz2 runs libbz2 through the command line, with the same bytes")
    func engineSwitch() async throws {
        let directory = TemporaryDirectory("bz-engine")
        let plain = directory.file("plain")
        try TestFiles.write(TestFiles.compressibleText(bytes: 1_500_000, seed: 4), to: plain)
        let fathom = TestPaths.fathom
        let viaLibbz2 = try await runCommand("/bin/sh", ["-c", "FATHOM_BZIP2_ENGINE=libbz2 '\(fathom)' bzip2 -v -c -9 -b9 '\(plain)' 2>&1 > '\(plain).l.bz2'"])
        let viaOurs = try await runCommand("/bin/sh", ["-c", "'\(fathom)' bzip2 -v -c -9 -b9 '\(plain)' 2>&1 > '\(plain).f.bz2'"])
        let pbzip2 = try await runCommand("/bin/sh", ["-c", "pbzip2 -c -9 -b9 -p2 '\(plain)' > '\(plain).p.bz2'"])
        #expect(viaLibbz2.exit.exitCode == 0 && viaOurs.exit.exitCode == 0 && pbzip2.exit.exitCode == 0)
        #expect(viaLibbz2.output.joined().hasSuffix("(libbz2)") && !viaOurs.output.joined().contains("libbz2"), "\(viaLibbz2.output) \(viaOurs.output)")
        // pbzip2 calls libbz2 per 900k of input; so does the switch; and Fathom's own codec writes the same bytes.
        let reference = try TestFiles.read("\(plain).p.bz2")
        #expect(try TestFiles.read("\(plain).l.bz2") == reference)
        #expect(try TestFiles.read("\(plain).f.bz2") == reference)
    }
}
