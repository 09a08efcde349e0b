import FathomCLI
import FathomProcess
import FathomToolkit
import Foundation
import Testing

/// `fathom sort` against GNU sort: the same input and options must give the same bytes.
@Suite("Sort matches LC_ALL=C sort")
struct SortTests {
    /// One random case: input files, GNU options, and the same options for Fathom.
    struct Case: CustomStringConvertible {
        var seed: UInt64
        var files: [[UInt8]]
        var arguments: [String]
        var order: SortOptions
        var memory: Int
        var fanIn: Int
        var threads: Int

        var description: String {
            "seed \(seed): sort \(arguments.joined(separator: " ")) (\(files.map(\.count)) bytes, \(threads) threads, fan-in \(fanIn))"
        }
    }

    static func randomCase(seed: UInt64, large: Bool) throws -> Case {
        var random = SeededGenerator(seed: seed)
        let separator: String? = random.chance(0.4) ? random.pick([",", "\t", ":"]) : nil
        let alphabets: [[UInt8]] = [
            Array("abcAB ".utf8), Array("0123456789-.+ \t".utf8), Array("ab,:\t 0\r".utf8),
            [0x00, 0xFF, 0x80, 0x61, 0x20, 0x0D, 0x2C, 0x3A, 0x09, 0x31, 0x2D],
        ]
        let alphabet = random.pick(alphabets) + Array((separator ?? " ").utf8)
        var files: [[UInt8]] = []
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            var bytes: [UInt8] = []
            let lines = large ? Int.random(in: 2000...6000, using: &random) : Int.random(in: 0...50, using: &random)
            for _ in 0..<lines {
                if random.chance(0.15) {
                    bytes += numberLike(&random)
                } else if random.chance(0.05) {
                    bytes += Array(random.pick(["JAN", "feb", " Mar", "1K", "2M", "-3G", "0.5k", "v1.10", "v1.9", "file9.txt", "file10.txt", "inf", "1e3", ".x", "a~b"]).utf8)
                } else if random.chance(large ? 0.0005 : 0.01) {
                    bytes += (0..<Int.random(in: 40_000...90_000, using: &random)).map { _ in random.pick(alphabet) }
                } else {
                    bytes += (0..<Int.random(in: 0...12, using: &random)).map { _ in random.pick(alphabet) }
                }
                bytes.append(0x0A)
            }
            if !bytes.isEmpty, random.chance(0.4) { bytes.removeLast() }
            files.append(bytes)
        }
        var keys: [String] = []
        for _ in 0..<(random.chance(0.6) ? Int.random(in: 1...2, using: &random) : 0) {
            var exclusive = random.chance(0.3) ? random.pick(["d", "g", "h", "i", "M", "n", "V"]) : ""
            var key = "\(Int.random(in: 1...4, using: &random))"
            if random.chance(0.3) { key += ".\(Int.random(in: 1...3, using: &random))" }
            key += randomFlags(&random, exclusive: &exclusive)
            if random.chance(0.6) {
                key += ",\(Int.random(in: 1...4, using: &random))"
                if random.chance(0.3) { key += ".\(Int.random(in: 0...3, using: &random))" }
                key += randomFlags(&random, exclusive: &exclusive)
            }
            keys.append(key + exclusive)
        }
        var global = ["r", "u", "s", "b", "f"].filter { _ in random.chance(0.25) }
        if random.chance(0.4) { global.append(random.pick(["n", "n", "g", "h", "M", "V", "d", "i"])) }
        let arguments = spelled(separator: separator, keys: keys, flags: global.shuffled(using: &random), &random)
        let order = try SortCommandLine.order(fromArguments: arguments)
        return Case(
            seed: seed, files: files, arguments: arguments, order: order, memory: large ? 1 : 1 << 30,
            fanIn: Int.random(in: 2...5, using: &random), threads: Int.random(in: 1...4, using: &random))
    }

    /// A key position's letters; the one exclusive ordering letter (`d g h i M n V`) goes on one position only.
    static func randomFlags(_ random: inout SeededGenerator, exclusive: inout String) -> String {
        guard random.chance(0.4) else { return "" }
        var letters = ["b", "r", "f"].filter { _ in random.chance(0.4) }
        if !exclusive.isEmpty, random.chance(0.5) {
            letters.append(exclusive)
            exclusive = ""
        }
        return letters.shuffled(using: &random).joined()
    }

    /// The options as a script might spell them: values joined or apart, short or long, flags in clusters (one
    /// ending in `-k`), each drawn at random. GNU sort and `fathom sort` both read the same spelling.
    static func spelled(separator: String?, keys: [String], flags: [String], _ random: inout SeededGenerator) -> [String] {
        let long = ["n": "--numeric-sort", "r": "--reverse", "u": "--unique", "s": "--stable", "b": "--ignore-leading-blanks",
                    "f": "--ignore-case", "d": "--dictionary-order", "i": "--ignore-nonprinting", "g": "--general-numeric-sort",
                    "h": "--human-numeric-sort", "M": "--month-sort", "V": "--version-sort"]
        var arguments: [String] = []
        if let separator {
            arguments += random.pick([["-t", separator], ["-t" + separator], ["--field-separator=" + separator], ["--field-separator", separator]])
        }
        var remaining = keys
        if let first = remaining.first, !flags.isEmpty, random.chance(0.3) {
            arguments.append("-" + flags.joined() + "k" + first)  // -nrk2,2
            remaining.removeFirst()
        } else if !flags.isEmpty && random.chance(0.4) {
            arguments.append("-" + flags.joined())  // -nru
        } else {
            for flag in flags { arguments.append(random.chance(0.5) ? "-" + flag : long[flag]!) }
        }
        for key in remaining {
            arguments += random.pick([["-k", key], ["-k" + key], ["--key=" + key], ["--key", key]])
        }
        return arguments
    }

    /// Numbers with signs, leading zeros, blanks, fractions and junk after them.
    static func numberLike(_ random: inout SeededGenerator) -> [UInt8] {
        var text = String(repeating: random.pick([" ", "\t", ""]), count: Int.random(in: 0...2, using: &random))
        text += random.pick(["", "-", "+", "-", ""])
        text += String(repeating: "0", count: Int.random(in: 0...3, using: &random))
        text += String(Int.random(in: 0...99999, using: &random))
        if random.chance(0.5) { text += "." + String(Int.random(in: 0...999, using: &random)) + random.pick(["", "0", "00"]) }
        text += random.pick(["", "", " x", ",7", "e3", ".5.5", "-"])
        return Array(text.utf8)
    }

    /// Runs GNU sort and Fathom's sort on the case and returns both outputs.
    static func outputs(of testCase: Case, in directory: TemporaryDirectory) async throws -> (gnu: Data, fathom: Data) {
        let inputs = try testCase.files.enumerated().map { index, bytes in
            let path = directory.file("in\(index)")
            try TestFiles.write(bytes, to: path)
            return path
        }
        let expected = directory.file("gnu.out")
        let gnu = try await runNiced(
            "/usr/bin/sort", testCase.arguments + ["-o", expected] + inputs, environment: ["LC_ALL": "C"])
        #expect(gnu.exit.succeeded, "GNU sort failed: \(gnu.output) for \(testCase)")
        let actual = directory.file("fathom.out")
        var configuration = SortConfiguration(
            order: testCase.order, memory: testCase.memory, parallelism: testCase.threads, temporaryDirectory: directory.path,
            fanIn: testCase.fanIn)
        configuration.parallelMergeMinimum = 0
        let settings = configuration
        _ = try await offThePool { try ExternalSort.sort(inputs: inputs, output: actual, configuration: settings) }
        return (try TestFiles.read(expected), try TestFiles.read(actual))
    }

    @Test("random small inputs with random keys and options: byte-identical to GNU sort")
    func randomSmallCases() async throws {
        let directory = TemporaryDirectory("sort-property")
        var mismatches: [String] = []
        for seed in UInt64(1)...400 {
            let testCase = try await offThePool { try Self.randomCase(seed: seed, large: false) }
            let (gnu, fathom) = try await Self.outputs(of: testCase, in: directory)
            if gnu != fathom { mismatches.append(Self.keep(testCase, from: directory)) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) cases differ, first: \(mismatches.prefix(5))")
    }

    /// Copies a failing case's files to /tmp/fathom-sort-failures/SEED for a look at the bytes.
    static func keep(_ testCase: Case, from directory: TemporaryDirectory) -> String {
        let target = "/tmp/fathom-sort-failures/\(testCase.seed)"
        try? FileManager.default.removeItem(atPath: target)
        try? FileManager.default.createDirectory(atPath: "/tmp/fathom-sort-failures", withIntermediateDirectories: true)
        try? FileManager.default.copyItem(atPath: directory.path, toPath: target)
        return "\(testCase) (files in \(target))"
    }

    @Test("random inputs larger than the memory budget spill runs and merge in several passes: byte-identical")
    func randomSpillingCases() async throws {
        let directory = TemporaryDirectory("sort-spill")
        var mismatches: [String] = []
        for seed in UInt64(1001)...1030 {
            let testCase = try await offThePool { try Self.randomCase(seed: seed, large: true) }
            let (gnu, fathom) = try await Self.outputs(of: testCase, in: directory)
            if gnu != fathom { mismatches.append(Self.keep(testCase, from: directory)) }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(".") }
            #expect(leftovers.isEmpty, "temporary files left behind: \(leftovers)")
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) cases differ, first: \(mismatches.prefix(5))")
    }

    @Test("the CLI on a file twice its budget: same bytes as GNU sort, RSS within budget + 10%, -o onto its input")
    func cliLargeFile() async throws {
        let directory = TemporaryDirectory("sort-cli")
        let input = directory.file("words.txt")
        // 128 MiB of random text lines: base64 of random bytes, '+' ends a line and '/' separates words.
        let made = try await runNiced("/bin/sh", ["-c", "head -c 100663296 /dev/urandom | base64 -w0 | tr '+/' '\\n ' > \(input); echo >> \(input)"])
        #expect(made.exit.succeeded)
        let expected = directory.file("gnu.out")
        _ = try await runNiced("/usr/bin/sort", ["-o", expected, input], environment: ["LC_ALL": "C"])
        // The release build when scripts/test made it: the budget covers the whole process, and a debug build's
        // own pages are most of a small budget.
        let released = StaticBinaryTests.directory + "/fathom"
        let fathom = FileManager.default.isExecutableFile(atPath: released) ? released : TestPaths.fathom
        let output = directory.file("fathom.out")
        // 64 MiB: below about 50 MiB, a fixed 6-8 MiB of merge buffers and thread stacks goes over the budget
        // (docs/toolkit.md says so); the binary's own pages are about 21 MiB of it.
        let budget = 64
        let timed = try await runNiced(
            "/usr/bin/time",
            ["-f", "peak-kb=%M", fathom, "sort", "-S", "\(budget)M", "--parallel", "2", "-T", directory.path,
             "-o", output, input])
        #expect(timed.exit.succeeded, "\(timed.output)")
        #expect(try TestFiles.read(output) == (try TestFiles.read(expected)))
        let peak = timed.exit.stderrTail.compactMap { $0.hasPrefix("peak-kb=") ? Int($0.dropFirst(8)) : nil }.first ?? .max
        #expect(peak * 1024 <= budget * 1_153_434, "peak RSS \(peak) KiB over \(budget) MiB + 10%")

        let copy = directory.file("copy.txt")
        try FileManager.default.copyItem(atPath: input, toPath: copy)
        let inPlace = try await runNiced(fathom, ["sort", "-S", "64M", "-o", copy, copy])
        #expect(inPlace.exit.succeeded)
        #expect(try TestFiles.read(copy) == (try TestFiles.read(expected)))
    }

    @Test("--check finds the first disorder as GNU sort does; -u rejects repeats; exit 1")
    func check() async throws {
        let directory = TemporaryDirectory("sort-check")
        let path = directory.file("lines")
        try TestFiles.write(Array("a\nb\nb\nc\nB\nd\n".utf8), to: path)
        let gnu = try await runCommand("/usr/bin/sort", ["-c", path], environment: ["LC_ALL": "C"])
        let ours = try await runCommand(TestPaths.fathom, ["sort", "--check", path])
        #expect(ours.exit.exitCode == 1 && gnu.exit.exitCode == 1)
        #expect(gnu.exit.stderrTail.first?.hasSuffix(":5: disorder: B") == true)
        #expect(ours.exit.stderrTail.first == "fathom sort: \(path):5: disorder: B")
        #expect(try SortChecker.check(input: path, order: SortOptions(unique: true)) == .disorder(path, line: 3, "b"))
        try TestFiles.write(Array("a\nb\nc\n".utf8), to: path)
        #expect(try await runCommand(TestPaths.fathom, ["sort", "-c", "-u", path]).exit.succeeded)
    }

    @Test("standard input to standard output, and bad options named with their fix")
    func streamsAndErrors() async throws {
        let directory = TemporaryDirectory("sort-stdin")
        let script = "printf 'b,2\\na,10\\nc,1' | \(TestPaths.fathom) sort -t , -k 2n"
        let piped = try await runCommand("/bin/sh", ["-c", script])
        #expect(piped.output == ["c,1", "b,2", "a,10"])
        for (arguments, needle) in [
            (["-k", "0"], "-k 0: field number is zero"), (["-k", "2.0"], "character offset is zero"),
            (["-k", "1x"], "ordering option 'x' is not one of"), (["-t", "ab"], "exactly one byte"),
            (["-S", "lots"], "--buffer-size: 'lots' has an unknown unit"),
        ] {
            let result = try await runCommand(TestPaths.fathom, ["sort"] + arguments + [directory.path + "/none"])
            #expect(result.exit.exitCode == 2, "\(arguments)")
            #expect(result.exit.stderrTail.joined().contains(needle), "\(arguments): \(result.exit.stderrTail)")
        }
        let missing = try await runCommand(TestPaths.fathom, ["sort", directory.file("absent")])
        #expect(missing.exit.stderrTail.joined().contains("No such file or directory"))
    }

    @Test("cancelled mid-sort and failed mid-sort: no output, no temporary files")
    func cleanupOnCancelAndFailure() async throws {
        let directory = TemporaryDirectory("sort-cancel")
        let input = directory.file("input")
        try await offThePool { try TestFiles.write(TestFiles.wordLines(bytes: 2 << 20, seed: 3), to: input) }
        let output = directory.file("out")
        let configuration = SortConfiguration(
            order: SortOptions(), memory: 1, parallelism: 2, temporaryDirectory: directory.path)
        let flag = CancellationFlag()
        let cancelled = try await offThePool { () -> ToolkitError? in
            do {
                _ = try ExternalSort.sort(inputs: [input], output: output, configuration: configuration, cancellation: flag) {
                    if $0.runsWritten >= 3 { flag.cancel() }
                }
                return nil
            } catch let error as ToolkitError {
                return error
            }
        }
        #expect(cancelled == .cancelled)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["input"])
        let failed = try await offThePool { () -> ToolkitError? in
            do {
                _ = try ExternalSort.sort(inputs: [input, directory.file("absent")], output: output, configuration: configuration)
                return nil
            } catch let error as ToolkitError {
                return error
            }
        }
        #expect(failed != nil, "a missing second input fails the sort")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["input"])
    }

    @Test("Ctrl-C during a sort: exit 130, no output file, the temporary runs removed")
    func interruptRemovesTemporaryFiles() async throws {
        let directory = TemporaryDirectory("sort-sigint")
        let input = directory.file("input")
        let made = try await runNiced("/bin/sh", ["-c", "head -c 12582912 /dev/urandom | base64 -w0 | tr '+/' '\\n ' > \(input)"])
        #expect(made.exit.succeeded)
        let scratch = directory.file("tmp")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let output = directory.file("out")
        // The input comes through a pipe the shell keeps open, as from a producer still writing: the sort has
        // written its runs and waits for more when Ctrl-C comes. Closing the pipe then is what a terminal's
        // Ctrl-C does to the producer (a moment later here); the sort must still end cancelled, not finish.
        let fifo = directory.file("pipe")
        let script = """
            mkfifo \(fifo)
            \(TestPaths.fathom) sort -S 1M -T \(scratch) -o \(output) < \(fifo) &
            pid=$!
            exec 3> \(fifo)
            cat \(input) >&3
            for i in $(seq 1 600); do
              if ls \(scratch)/.fathom-sort-*/run-* >/dev/null 2>&1; then break; fi
              sleep 0.05
            done
            ls \(scratch)/.fathom-sort-*/ | head -1
            kill -INT $pid
            sleep 0.3
            exec 3>&-
            wait $pid
            echo "exit=$?"
            rm -f \(fifo)
            """
        let result = try await runNiced("/bin/sh", ["-c", script])
        // Standard output and error arrive as one list, in no fixed order between the two.
        #expect(result.output.contains { $0.hasPrefix("run-") }, "runs were on disk when interrupted: \(result.output)")
        #expect(result.output.contains("exit=130"), "\(result.output) \(result.exit.stderrTail)")
        #expect(result.exit.stderrTail.contains { $0.contains("cancelled; temporary files removed") })
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["input", "tmp"])
    }
}
