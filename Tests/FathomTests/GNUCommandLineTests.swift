import Foundation
import Testing

/// Command lines as they are found in shell scripts, run through GNU sort / bzip2 and through `fathom sort` /
/// `fathom bzip2` on the same files: the same bytes out and the same exit status.
@Suite struct GNUCommandLineTests {
    /// Each case's arguments as a shell hands them over (`-t$'\t'` is `-t` and a tab). `{OUT}` is an output file of
    /// each tool's own; `{TMP}` a directory for temporary runs; the input file comes last.
    static let sortCases: [[String]] = [
        [], ["-r"], ["-u"], ["-ru"], ["-n"], ["-nr"], ["-rn"],
        ["-t,", "-k2,2n"], ["-t", ",", "-k", "2,2n"], ["-t,", "-k2,2nr"], ["-t,", "-k2,2", "-n"], ["-nr", "-t,", "-k2,2"],
        ["-rn", "-t,", "-k2,2"], ["-t,", "-nru", "-k2,2"], ["-t,", "-k3,3", "-k1,1"], ["-t,", "-k1,1", "-u"], ["-t,", "-k1,1", "-s"],
        ["-t,", "-k1,1r", "-k2,2n"], ["-t,", "-k1.2,1.4"], ["-t,", "-k1.3"], ["-t,", "-k4"],
        ["--field-separator=,", "--key=2,2", "--numeric-sort"], ["--field-separator=,", "--key=2,2", "-n", "--reverse"],
        ["--field-separator", ",", "--key", "1,1", "--unique"], ["--field-separator=,", "--key=1,1", "--stable"],
        ["-t\t", "-k2,2n"], ["-t", "\t", "-k2,2"], ["-t\t", "-k1,1", "-k2,2nr"],
        ["-S1M", "-t,", "-k2,2n"], ["-S", "50%", "-t,", "-k2,2"], ["--buffer-size=2M", "-t,", "-k3,3"], ["-S1024", "-r"],
        ["-T{TMP}", "-S1M", "-t,", "-k2,2n"], ["--temporary-directory={TMP}", "-n"], ["-T", "{TMP}", "-u"],
        ["-o{OUT}", "-t,", "-k2,2n"], ["--output={OUT}", "-r"], ["-o", "{OUT}", "-u"], ["--parallel=2", "-t,", "-k2,2n"],
        ["-b", "-k2"], ["-k2"], ["-k2,2", "-b"], ["-nrk2"],
    ]

    /// Check modes: the case, and whether its input is sorted first.
    static let checkCases: [([String], Bool)] = [
        (["-c"], true), (["-c"], false), (["-C"], true), (["-C"], false), (["--check"], false), (["--check=quiet"], false),
        (["--check=silent"], false), (["--check=diagnose-first"], false), (["-c", "-t,", "-k2,2n"], false),
    ]

    static func input(_ directory: TemporaryDirectory) throws -> String {
        var generator = SeededGenerator(seed: 0x5EED)
        var lines: [String] = []
        for index in 0..<3_000 {
            let name = "name\(generator.next() % 37)"
            let number = Int(generator.next() % 2_001) - 1_000
            let word = ["alpha", "Beta", "gamma", " delta", "épsilon", "zeta"][Int(generator.next() % 6)]
            let padding = index % 5 == 0 ? "  " : ""
            lines.append("\(padding)\(name),\(number),\(word),\(generator.next() % 100)\t\(generator.next() % 50)")
        }
        let path = directory.file("input.txt")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `tool` (a shell word: `sort` or the fathom binary and `sort`) with `arguments` and `input`; returns its
    /// exit status, standard output and what it wrote to `{OUT}`.
    static func run(_ tool: [String], _ arguments: [String], input: String, in directory: TemporaryDirectory, tag: String)
        async throws -> (status: Int32?, stdout: Data, file: Data?)
    {
        let out = directory.file("\(tag).out"), tmp = directory.file("\(tag).tmp"), captured = directory.file("\(tag).stdout")
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: out)  // a fresh output for each case
        let resolved = arguments.map { $0.replacingOccurrences(of: "{OUT}", with: out).replacingOccurrences(of: "{TMP}", with: tmp) }
        let result = try await runCommand(
            "/bin/sh", ["-c", "exec \"$@\" > '\(captured)'", "sh"] + tool + resolved + [input], environment: ["LC_ALL": "C"])
        return (result.exit.exitCode, (try? Data(contentsOf: URL(fileURLWithPath: captured))) ?? Data(), FileManager.default.contents(atPath: out))
    }

    @Test func sortCommandLinesGiveGNUSortsBytes() async throws {
        let directory = TemporaryDirectory("gnu-sort-lines")
        let input = try Self.input(directory)
        for arguments in Self.sortCases {
            let gnu = try await Self.run(["/usr/bin/sort"], arguments, input: input, in: directory, tag: "gnu")
            let ours = try await Self.run([TestPaths.fathom, "sort"], arguments, input: input, in: directory, tag: "fathom")
            #expect(gnu.status == 0 && ours.status == 0, "\(arguments): GNU \(String(describing: gnu.status)), Fathom \(String(describing: ours.status))")
            #expect(ours.stdout == gnu.stdout && ours.file == gnu.file, "\(arguments): the output differs from GNU sort's")
        }
    }

    @Test func checkModesGiveGNUSortsStatusAndSilence() async throws {
        let directory = TemporaryDirectory("gnu-sort-check")
        let unsorted = try Self.input(directory)
        let sorted = directory.file("sorted.txt")
        _ = try await runCommand("/bin/sh", ["-c", "LC_ALL=C sort -t, -k2,2n '\(unsorted)' > '\(sorted)'"])
        for (arguments, isSorted) in Self.checkCases {
            let input = isSorted ? sorted : unsorted
            let gnu = try await Self.run(["/usr/bin/sort"], arguments, input: input, in: directory, tag: "gnu")
            let ours = try await Self.run([TestPaths.fathom, "sort"], arguments, input: input, in: directory, tag: "fathom")
            #expect(ours.status == gnu.status, "\(arguments) on \(isSorted ? "sorted" : "unsorted") input: GNU \(String(describing: gnu.status)), Fathom \(String(describing: ours.status))")
            #expect(ours.stdout.isEmpty && gnu.stdout.isEmpty)
        }
    }

    /// The ordering modes and their long spellings, on text made to tell them apart: sizes as `du -h` prints them,
    /// month names, versions and file names, floats with exponents, `inf`, case and punctuation, control bytes.
    static let modeCases: [[String]] = [
        ["-f"], ["-d"], ["-i"], ["-fd"], ["-fi"], ["-g"], ["-h"], ["-M"], ["-V"], ["-fr"], ["-gr"], ["-hr"], ["-Mr"], ["-Vr"],
        ["-k2,2h"], ["-k2,2g"], ["-k3,3M"], ["-k1,1V"], ["-k1,1f", "-k2,2h"], ["-b", "-k2,2d"], ["-k1,1fi", "-r"], ["-s", "-k1,1f"],
        ["-u", "-f"], ["-u", "-k2,2h"], ["-u", "-k1,1V"], ["-bV"], ["-k2", "-g"], ["-hk2,2"], ["-fk1,1"], ["-s", "-V"],
        ["--ignore-case"], ["--dictionary-order"], ["--ignore-nonprinting"], ["--general-numeric-sort"], ["--human-numeric-sort"],
        ["--month-sort"], ["--version-sort"], ["--sort=human-numeric"], ["--sort=version", "-r"], ["--sort=month"],
        ["--sort=general-numeric", "-k2,2"], ["--sort=numeric", "-k2,2"], ["-S64K", "-k2,2h"], ["-S64K", "-V"],
        ["--compress-program=gzip", "-S64K"], ["--compress-program", "bzip2", "-S64K", "-k2,2h"], ["--compress-program=gzip", "-S64K", "-u", "-f"],
    ]

    static func modeInput(_ directory: TemporaryDirectory) throws -> String {
        var generator = SeededGenerator(seed: 0x0DE5)
        let names = ["file10.tar.gz", "file9.tar.gz", "file2.txt", "v1.10", "v1.9", "v1.9~rc1", "a~b", ".hidden", "..", ".", "x.P", "x.G-",
                     "README", "readme", "Read-Me", "read_me", "\u{1}ctl", "tab\there", "Zeta", "alpha"]
        let sizes = ["1.5K", "2M", "-3G", "0K", "10k", "999", "1.0T", "512", "0.5M", "7E", "-1K", "abc", "3e2", "-inf", "inf", "1e-3", "0x10"]
        let months = ["jan", "FEB", "Mar", "apr", "May", "JUNE", "jul", "AUG", "sep", "Oct", "nov", "DEC", "foo"]
        var lines: [String] = []
        for _ in 0..<2_000 {
            let name = names[Int(generator.next() % UInt64(names.count))] + (generator.next() % 3 == 0 ? "\(generator.next() % 20)" : "")
            let size = sizes[Int(generator.next() % UInt64(sizes.count))]
            let month = months[Int(generator.next() % UInt64(months.count))]
            lines.append("\(name) \(size) \(month) \(generator.next() % 1000)")
        }
        let path = directory.file("modes.txt")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func orderingModesGiveGNUSortsBytes() async throws {
        let directory = TemporaryDirectory("gnu-sort-modes")
        let input = try Self.modeInput(directory)
        for arguments in Self.modeCases {
            let gnu = try await Self.run(["/usr/bin/sort"], arguments, input: input, in: directory, tag: "gnu")
            let ours = try await Self.run([TestPaths.fathom, "sort"], arguments, input: input, in: directory, tag: "fathom")
            #expect(gnu.status == 0 && ours.status == 0, "\(arguments): GNU \(String(describing: gnu.status)), Fathom \(String(describing: ours.status))")
            #expect(ours.stdout == gnu.stdout, "\(arguments): the output differs from GNU sort's")
        }
        // -z: NUL-ended lines (which may hold newlines), in one chunk and spilled to runs and merged.
        let zero = directory.file("zero.bin")
        let text = try String(contentsOfFile: input, encoding: .utf8)
        try Data(text.replacingOccurrences(of: "\n", with: "\u{0}").replacingOccurrences(of: " 7", with: "\n7").utf8)
            .write(to: URL(fileURLWithPath: zero))
        for arguments in [["-z"], ["-zr"], ["-z", "-k2,2h"], ["-zu", "-k1,1"], ["--zero-terminated", "-V"], ["-z", "-S64K", "-f"]] {
            let gnu = try await Self.run(["/usr/bin/sort"], arguments, input: zero, in: directory, tag: "gnu")
            let ours = try await Self.run([TestPaths.fathom, "sort"], arguments, input: zero, in: directory, tag: "fathom")
            #expect(gnu.status == 0 && ours.status == 0 && ours.stdout == gnu.stdout, "\(arguments)")
        }
        // What GNU sort refuses, and random order, refused with the reason.
        for (arguments, words) in [(["-dn"], "incompatible"), (["-gn"], "incompatible"), (["-k1,1di"], "incompatible"), (["-k1,1hV"], "incompatible"),
                                   (["-R"], "random order"), (["--sort=random"], "random order"), (["-k1,1R"], "random order"), (["--sort=alpha"], "not a sort order"),
                                   (["--compress-program=no-such-program", "-S64K"], "not found on PATH"), (["--compress-program=false", "-S64K"], "exited with status 1"),
                                   (["--compress-program=gzip", "--checkpoint"], "drop --checkpoint or --compress-program")] {
            let refused = try await runCommand(TestPaths.fathom, ["sort"] + arguments + [input])
            #expect(refused.exit.exitCode != 0 && refused.output.joined(separator: " ").contains(words), "\(arguments): \(refused.output)")
        }
    }

    /// `-m` merges files sorted already (each sorted by GNU sort with the same keys); `--files0-from` reads the
    /// names from a NUL-ended list.
    @Test func mergeAndFileListsGiveGNUSortsBytes() async throws {
        let directory = TemporaryDirectory("gnu-sort-merge")
        let input = try Self.input(directory)
        let lines = try String(contentsOfFile: input, encoding: .utf8).split(separator: "\n")
        var parts: [String] = []
        for part in 0..<3 {
            let path = directory.file("part\(part).txt")
            try (lines.enumerated().filter { $0.offset % 3 == part }.map(\.element).joined(separator: "\n") + "\n")
                .write(toFile: path, atomically: true, encoding: .utf8)
            parts.append(path)
        }
        for (keys, merge) in [([String](), ["-m"]), (["-t,", "-k2,2n"], ["-m", "-t,", "-k2,2n"]), (["-r"], ["--merge", "-r"]),
                              (["-t,", "-k1,1"], ["-mu", "-t,", "-k1,1"]), (["-t,", "-k1,1"], ["-t,", "-k1,1", "-m", "-s"]), ([], ["-mo{OUT}"])] {
            var sorted: [String] = []
            for (index, part) in parts.enumerated() {
                let path = directory.file("sorted\(index).txt")
                _ = try await runCommand("/bin/sh", ["-c", "LC_ALL=C sort \"$@\" > '\(path)'", "sh"] + keys + [part])
                sorted.append(path)
            }
            let out = directory.file("merge.out")
            let resolved = merge.map { $0.replacingOccurrences(of: "{OUT}", with: out) }
            let gnu = try await runCommand("/bin/sh", ["-c", "LC_ALL=C sort \"$@\" > '\(directory.file("gnu"))'; cp '\(out)' '\(directory.file("gnu.file"))' 2>/dev/null; rm -f '\(out)'", "sh"] + resolved + sorted)
            let ours = try await runCommand("/bin/sh", ["-c", "\"$@\" > '\(directory.file("ours"))'; cp '\(out)' '\(directory.file("ours.file"))' 2>/dev/null; rm -f '\(out)'", "sh", TestPaths.fathom, "sort"] + resolved + sorted)
            #expect(gnu.exit.exitCode == 0 && ours.exit.exitCode == 0, "\(merge): \(ours.output)")
            #expect(FileManager.default.contents(atPath: directory.file("ours")) == FileManager.default.contents(atPath: directory.file("gnu")), "\(merge)")
            #expect(FileManager.default.contents(atPath: directory.file("ours.file")) == FileManager.default.contents(atPath: directory.file("gnu.file")), "\(merge)")
        }
        // A list of names, each ended by NUL, as find -print0 writes it.
        let list = directory.file("names")
        try Data(parts.map { Array($0.utf8) + [0] }.joined()).write(to: URL(fileURLWithPath: list))
        for arguments in [["--files0-from=\(list)"], ["--files0-from", list, "-t,", "-k2,2n"]] {
            let gnu = try await runCommand("/bin/sh", ["-c", "LC_ALL=C sort \"$@\" > '\(directory.file("gnu")).list'", "sh"] + arguments)
            let ours = try await runCommand("/bin/sh", ["-c", "\"$@\" > '\(directory.file("ours")).list'", "sh", TestPaths.fathom, "sort"] + arguments)
            #expect(gnu.exit.exitCode == 0 && ours.exit.exitCode == 0, "\(arguments): \(ours.output)")
            #expect(FileManager.default.contents(atPath: directory.file("ours") + ".list") == FileManager.default.contents(atPath: directory.file("gnu") + ".list"))
        }
        // Refused with the reason: -m with standard input, a list with an empty name, a list and operands.
        try Data([0x61, 0, 0]).write(to: URL(fileURLWithPath: directory.file("empty-name")))
        for (arguments, words) in [(["-m"], "-m merges files by name"), (["--files0-from=\(directory.file("empty-name"))"], "empty file name"),
                                   (["--files0-from=\(list)", input], "extra operand")] {
            let refused = try await runCommand(TestPaths.fathom, ["sort"] + arguments)
            #expect(refused.exit.exitCode != 0 && refused.output.joined(separator: " ").contains(words), "\(arguments): \(refused.output)")
        }
    }

    /// bzip2 and pbzip2 spellings: what Fathom writes, stock bunzip2 reads back to the input; what it reads, it
    /// reads as bunzip2 does.
    @Test func bzip2CommandLinesAsBzip2AndPbzip2TakeThem() async throws {
        let directory = TemporaryDirectory("gnu-bzip2-lines")
        let input = try Self.input(directory)
        let original = try Data(contentsOf: URL(fileURLWithPath: input))
        for arguments in [["-9c"], ["-1c"], ["-c", "--fast"], ["-c", "--best"], ["-zc"], ["-cq"], ["-p2", "-c"], ["-p", "2", "-c"],
                          ["-b5", "-c"], ["--stdout"], ["-c", "-v"], ["--compress", "--stdout", "-9"], ["-m500", "-c"], ["-c", "-m", "20"],
                          ["-p2", "-m40", "-c"], ["-1", "-m3", "-c"], ["-cm100"]] {
            let ours = try await Self.run([TestPaths.fathom, "bzip2"], arguments, input: input, in: directory, tag: "fathom")
            #expect(ours.status == 0, "\(arguments)")
            let compressed = directory.file("ours.bz2")
            try ours.stdout.write(to: URL(fileURLWithPath: compressed))
            let back = try await Self.run(["/bin/bunzip2"], ["-c"], input: compressed, in: directory, tag: "check")
            #expect(back.status == 0 && back.stdout == original, "\(arguments): bunzip2 does not give the input back")
        }
        // Decompression, against stock bzip2's file.
        let reference = directory.file("reference.bz2")
        _ = try await runCommand("/bin/sh", ["-c", "bzip2 -c '\(input)' > '\(reference)'"])
        for (tool, arguments) in [(["bzip2"], ["-dc"]), (["bzip2"], ["-d", "-c"]), (["bunzip2"], ["-c"]), (["bzcat"], []),
                                  (["bzip2"], ["--decompress", "--stdout"]), (["bunzip2"], ["-cp2"]), (["bunzip2"], ["-c", "-q"]),
                                  (["bunzip2"], ["-c", "-m20"]), (["bzcat"], ["-m", "10"])] {
            let ours = try await Self.run([TestPaths.fathom] + tool, arguments, input: reference, in: directory, tag: "fathom")
            #expect(ours.status == 0 && ours.stdout == original, "\(tool) \(arguments)")
        }
        for arguments in [["-t"], ["-tv"], ["--test"], ["-tq"]] {
            let ours = try await Self.run([TestPaths.fathom, "bzip2"], arguments, input: reference, in: directory, tag: "fathom")
            #expect(ours.status == 0 && ours.stdout.isEmpty, "\(arguments)")
        }
        // -k and -f: FILE.bz2 next to FILE, FILE kept, an existing FILE.bz2 replaced only with -f.
        let file = directory.file("kept.txt")
        try original.write(to: URL(fileURLWithPath: file))
        for arguments in [["-k"], ["-kf"], ["-k", "-f", "-9"]] {
            let ours = try await runCommand(TestPaths.fathom, ["bzip2"] + arguments + [file])
            #expect(ours.exit.exitCode == 0, "\(arguments): \(ours.output)")
            #expect(FileManager.default.fileExists(atPath: file) && FileManager.default.fileExists(atPath: file + ".bz2"), "\(arguments)")
        }
        let again = try await runCommand(TestPaths.fathom, ["bzip2", "-k", file])
        #expect(again.exit.exitCode != 0, "an existing kept.txt.bz2 is not replaced without -f")
        // What is refused says so.
        // pbzip2's -b sets the input per stream (N × 100k) apart from the block size: the same bytes as pbzip2 writes.
        for arguments in [["-b15", "-c"], ["-b5", "-1", "-c"], ["-b1", "-c"], ["-cb3", "-5"]] {
            let pbzip2 = try await Self.run(["/usr/bin/pbzip2"], arguments, input: input, in: directory, tag: "pbzip2")
            let ours = try await Self.run([TestPaths.fathom, "bzip2"], arguments, input: input, in: directory, tag: "fathom")
            #expect(pbzip2.status == 0 && ours.status == 0 && ours.stdout == pbzip2.stdout, "\(arguments): not pbzip2's bytes")
        }
        for (arguments, words) in [(["-b0", "-c"], "1-10000"), (["-b10001", "-c"], "1-10000"), (["-b5", "--resume"], "drop -b"), (["--fast", "--best", "-c"], "pick one"), (["-9", "-m5", "-c"], "give -m 16 or more"),
                                   (["-m0", "-c"], "1 or more")] {
            let refused = try await runCommand(TestPaths.fathom, ["bzip2"] + arguments + [input])
            #expect(refused.exit.exitCode != 0 && refused.output.joined().contains(words), "\(arguments): \(refused.output)")
        }
    }
}
