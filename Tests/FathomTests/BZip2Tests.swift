import FathomProcess
import FathomToolkit
import Foundation
import Testing

/// Fathom's parallel bzip2 against the stock tools: bzip2/bunzip2, pbzip2 and lbzip2.
@Suite("Parallel bzip2")
struct BZip2Tests {
    /// Compresses (or decompresses) a file with the library, into a file.
    static func fathom(_ input: String, _ output: String, decompress: Bool = false, level: Int = 9) async throws -> BZip2Summary {
        try await offThePool {
            let source = try FileHandleFD.reading(input)
            let target = try AtomicOutput(path: output)
            let summary = decompress
                ? try ParallelBZip2.decompress(input: source, output: target.handle, name: input, parallelism: 2)
                : try ParallelBZip2.compress(input: source, output: target.handle, level: level, parallelism: 2)
            try target.commit()
            return summary
        }
    }

    /// The toolkit error decompressing `input` threw, or nil if it succeeded.
    static func decompressionError(_ input: String, _ output: String) async throws -> ToolkitError? {
        do {
            _ = try await fathom(input, output, decompress: true)
            return nil
        } catch let error as ToolkitError {
            return error
        }
    }

    static func shell(_ script: String) async throws -> (exit: ChildExit, output: [String]) {
        try await runNiced("/bin/sh", ["-c", script])
    }

    @Test("round trips at block boundaries and odd sizes; stock bunzip2 decodes every output", arguments: [1, 9])
    func roundTrips(level: Int) async throws {
        let directory = TemporaryDirectory("bz-roundtrip")
        let block = level * 100_000 - 19
        let sizes = [0, 1, 2, block - 1, block, block + 1, 2 * block + 1, 3 * block - 1]
        var random = SeededGenerator(seed: UInt64(level))
        for (index, size) in sizes.enumerated() {
            let seed = random.next()
            let random = try await offThePool {
                var generator = SeededGenerator(seed: seed)
                return index % 2 == 0
                    ? (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
                    : TestFiles.compressibleText(bytes: size, seed: UInt64(index))
            }
            let plain = directory.file("plain\(index)")
            try TestFiles.write(random, to: plain)
            let packed = plain + ".bz2"
            let summary = try await Self.fathom(plain, packed, level: level)
            #expect(summary.bytesIn == size)
            #expect(summary.streams == max(1, (size + block - 1) / block), "size \(size)")
            let stock = try await Self.shell("bunzip2 -c \(packed) | cmp - \(plain)")
            #expect(stock.exit.succeeded, "bunzip2 disagrees for \(size) bytes at -\(level): \(stock.output)")
            let back = directory.file("back\(index)")
            _ = try await Self.fathom(packed, back, decompress: true)
            #expect(try TestFiles.read(back) == Data(random), "round trip of \(size) bytes at -\(level)")
        }
    }

    @Test("decodes what bzip2, pbzip2 and lbzip2 write (single and multi-stream), and concatenations of them")
    func decodesOtherTools() async throws {
        let directory = TemporaryDirectory("bz-interop")
        let plain = directory.file("plain")
        try await offThePool { try TestFiles.write(TestFiles.compressibleText(bytes: 3_500_000, seed: 11), to: plain) }
        // Random bytes do not compress: one stream of 3 MB, cut into its 31 blocks and decoded in parallel.
        let random = directory.file("random")
        _ = try await Self.shell("head -c 3000000 /dev/urandom > \(random)")
        let makers = [
            "bzip2": "bzip2 -c -9 \(plain)", "bzip2-1": "bzip2 -c -1 \(plain)", "pbzip2": "pbzip2 -c -p2 -9 \(plain)",
            "lbzip2": "lbzip2 -c -n2 -9 \(plain)", "empty": "bzip2 -c < /dev/null",
            "bzip2-random": "bzip2 -c -1 \(random)",
        ]
        for (name, command) in makers {
            let packed = directory.file("\(name).bz2")
            let made = try await Self.shell("\(command) > \(packed)")
            #expect(made.exit.succeeded, "\(name): \(made.output)")
            let back = directory.file("\(name).out")
            let summary = try await Self.fathom(packed, back, decompress: true)
            let expected = name == "empty" ? Data() : try TestFiles.read(name == "bzip2-random" ? random : plain)
            #expect(try TestFiles.read(back) == expected, "\(name)")
            if name == "pbzip2" { #expect(summary.streams > 3, "pbzip2's streams, each decoded whole") }
            if name == "bzip2-random" { #expect(summary.streams == 1 && summary.blocks >= 30, "one stream, its blocks decoded apart") }
        }
        let both = directory.file("both.bz2")
        _ = try await Self.shell("cat \(directory.file("pbzip2.bz2")) \(directory.file("bzip2.bz2")) > \(both)")
        _ = try await Self.fathom(both, directory.file("both.out"), decompress: true)
        #expect(try TestFiles.read(directory.file("both.out")) == (try TestFiles.read(plain)) + (try TestFiles.read(plain)))
    }

    @Test("truncated, bit-flipped and non-bzip2 input: an error naming the offset, nothing under the output name")
    func damagedInput() async throws {
        let directory = TemporaryDirectory("bz-damage")
        let plain = directory.file("plain")
        try await offThePool { try TestFiles.write(TestFiles.compressibleText(bytes: 2_000_000, seed: 5), to: plain) }
        let packed = directory.file("plain.bz2")
        _ = try await Self.fathom(plain, packed, level: 1)
        let good = [UInt8](try TestFiles.read(packed))
        var damaged: [(String, [UInt8])] = [
            ("truncated", Array(good.prefix(good.count * 2 / 3))), ("truncated-header", Array(good.prefix(3))),
            ("not-bzip2", Array("just some text\n".utf8)), ("empty", []),
        ]
        for position in [40, good.count / 2, good.count - 30] {
            var flipped = good
            flipped[position] ^= 0x10
            damaged.append(("flip@\(position)", flipped))
        }
        for (name, bytes) in damaged {
            let input = directory.file("\(name).bz2")
            try TestFiles.write(bytes, to: input)
            let output = directory.file(name)
            let error = try await Self.decompressionError(input, output)
            guard case .corrupt(_, let offset, _) = error else {
                Issue.record("\(name): expected a corruption error, got \(String(describing: error))")
                continue
            }
            #expect(offset >= 0 && offset <= bytes.count, "\(name): offset \(offset)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(name) left output")
            let cli = try await runNiced(TestPaths.fathom, ["bunzip2", input])
            #expect(cli.exit.exitCode == 2, "\(name)")
            #expect(cli.exit.stderrTail.joined().contains("at byte"), "\(name): \(cli.exit.stderrTail)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(name) left output from the CLI")
            #expect(FileManager.default.fileExists(atPath: input), "\(name): the damaged input must stay")
        }
    }

    @Test("CLI behaves like bzip2: FILE → FILE.bz2 (input removed unless -k), -f, -c, -t, refuses to overwrite")
    func commandLine() async throws {
        let directory = TemporaryDirectory("bz-cli")
        let plain = directory.file("data.txt")
        let content = TestFiles.compressibleText(bytes: 300_000, seed: 2)
        try TestFiles.write(content, to: plain)
        let fathom = TestPaths.fathom
        #expect(try await runCommand(fathom, ["bzip2", "-k", "-1", plain]).exit.succeeded)
        #expect(FileManager.default.fileExists(atPath: plain) && FileManager.default.fileExists(atPath: plain + ".bz2"))
        let again = try await runCommand(fathom, ["bzip2", plain])
        #expect(again.exit.exitCode == 2 && again.exit.stderrTail.joined().contains("already exists; use -f"))
        #expect(try await runCommand(fathom, ["bzip2", "-f", plain]).exit.succeeded)
        #expect(!FileManager.default.fileExists(atPath: plain), "input removed without -k")
        let tested = try await runCommand(fathom, ["bunzip2", "-t", plain + ".bz2"])
        #expect(tested.exit.succeeded && tested.exit.stderrTail.joined().contains(": ok"))
        #expect(try await runCommand(fathom, ["bunzip2", plain + ".bz2"]).exit.succeeded)
        #expect(try TestFiles.read(plain) == Data(content) && !FileManager.default.fileExists(atPath: plain + ".bz2"))
        let piped = try await Self.shell("\(fathom) bzip2 -c < \(plain) | \(fathom) bzip2 -d -c | cmp - \(plain)")
        #expect(piped.exit.succeeded, "\(piped.output)")
        #expect(try await Self.shell("\(fathom) bzip2 -c -3 \(plain) | bunzip2 | cmp - \(plain)").exit.succeeded)
    }

    @Test("several GiB through standard input and output: bounded memory, identical bytes", .timeLimit(.minutes(10)))
    func streamingGigabytes() async throws {
        let gib = 3
        // The release build when scripts/test made it (the debug build is several times slower at this).
        let released = StaticBinaryTests.directory + "/fathom"
        let fathom = FileManager.default.isExecutableFile(atPath: released) ? released : TestPaths.fathom
        let script = """
            set -e
            head -c \(gib)G /dev/zero | tr '\\0' 'x' | /usr/bin/time -f 'compress-kb=%M' \(fathom) bzip2 -1 -c \
              | /usr/bin/time -f 'decompress-kb=%M' \(fathom) bunzip2 -c | sha256sum
            head -c \(gib)G /dev/zero | tr '\\0' 'x' | sha256sum
            """
        let result = try await Self.shell(script)
        #expect(result.exit.succeeded, "\(result.output) \(result.exit.stderrTail)")
        let sums = result.output.filter { $0.hasSuffix("-") }
        #expect(sums.count == 2 && sums[0] == sums[1], "\(sums)")
        let memoryLines = result.exit.stderrTail.filter { $0.contains("-kb=") }
        #expect(memoryLines.count == 2, "\(result.exit.stderrTail)")
        for line in memoryLines {
            let kilobytes = Int(line.split(separator: "=").last ?? "") ?? .max
            #expect(kilobytes < 200_000, "\(line): memory must not grow with the input")
        }
    }
}
