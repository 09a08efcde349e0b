import ArgumentParser
import FathomToolkit

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The flags `fathom bzip2` and `fathom bunzip2` share, with bzip2's meaning.
struct BZip2Arguments: ParsableArguments {
    @Argument(help: "Files to (de)compress; none or '-': standard input to standard output.")
    var files: [String] = []

    @Flag(name: [.customShort("d"), .customLong("decompress")], help: "Decompress.")
    var decompress = false

    @Flag(name: [.customShort("z"), .customLong("compress")], help: "Compress (the default for fathom bzip2).")
    var compress = false

    @Flag(name: [.customShort("t"), .customLong("test")], help: "Test the integrity of compressed files; write nothing.")
    var test = false

    @Flag(name: [.customShort("c"), .customLong("stdout")], help: "Write to standard output; keep the input files.")
    var stdout = false

    @Flag(name: [.customShort("k"), .customLong("keep")], help: "Keep (do not delete) input files.")
    var keep = false

    @Flag(name: [.customShort("f"), .customLong("force")], help: "Overwrite existing output files.")
    var force = false

    @Flag(name: [.customShort("v"), .customLong("verbose")], help: "Print sizes and throughput per file.")
    var verbose = false

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "Print nothing but errors (the default; undoes -v).")
    var quiet = false

    @Flag(help: "Block size 100k, as -1.")
    var fast = false

    @Flag(help: "Block size 900k, as -9 (the default).")
    var best = false

    @Option(name: .customShort("b", allowingJoined: true), help: "pbzip2's input per stream in 100k steps, 1-10000 (-b15: 1.5 MB a stream); the block size stays -1…-9.")
    var blockSteps: Int?

    @Option(name: [.customShort("p", allowingJoined: true), .long], help: "Worker threads (default: all cores).")
    var parallel: Int?

    @Option(name: [.customShort("m", allowingJoined: true), .customLong("max-memory")], help: "pbzip2's maximum memory in MB: fewer blocks in flight, then fewer workers, to stay within it.")
    var memoryMB: Int?

    /// `-m` in bytes.
    var memoryLimit: Int? { memoryMB.map { $0 * 1_000_000 } }

    @Flag(help: """
        Compress FILE into FILE.bz2 through a partial file with a checkpoint (.FILE.bz2.fathom-partial), kept when \
        interrupted: run the same command again and it continues from the last whole stream. Byte-identical output.
        """)
    var resume = false

    @Flag(help: "Block size: -1 (100k) to -9 (900k, the default).")
    var levels: [LevelFlag] = []

    enum LevelFlag: EnumerableFlag {
        case one, two, three, four, five, six, seven, eight, nine

        static func name(for value: LevelFlag) -> NameSpecification {
            .customShort(Character("\(LevelFlag.allCases.firstIndex(of: value)! + 1)"))
        }
    }

    /// The block size in 100k: the last of -1…-9 given, else --fast (1) or --best (9); 9 by default (pbzip2's -b sets the input per stream, not this).
    var level: Int {
        if let last = levels.last { return LevelFlag.allCases.firstIndex(of: last)! + 1 }
        return fast ? 1 : 9
    }

    /// Whether to print per-file sizes: -v, unless -q came too.
    var talkative: Bool { verbose && !quiet }

    func validate() throws {
        if let blockSteps, !(1...10_000).contains(blockSteps) {
            throw ValidationError("-b\(blockSteps): pbzip2's input per stream is 1-10000 (100k steps, 100k to 1000000k); use e.g. -b9 for 900k")
        }
        if blockSteps != nil && resume {
            throw ValidationError("--resume cuts streams by the block size (-1…-9): drop -b")
        }
        if fast && best { throw ValidationError("--fast and --best both given; pick one (--fast is -1, --best is -9)") }
        if let parallel, parallel < 1 { throw ValidationError("--parallel must be at least 1, got \(parallel)") }
        if let memoryMB, !(1...1_000_000).contains(memoryMB) {
            throw ValidationError("-m\(memoryMB): pbzip2's memory limit is in MB, 1 or more (e.g. -m500)")
        }
        if resume && (decompress || test || stdout || files.isEmpty || files.contains("-")) {
            throw ValidationError("--resume compresses files into files: drop -d, -t and -c, and name the files (not standard input)")
        }
    }
}

/// `fathom bzip2`: parallel bzip2 (pbzip2-compatible output), or with -d / -t, `fathom bunzip2`.
struct BZip2Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bzip2",
        abstract: "Compress files on all cores into bzip2 files any bunzip2 reads.",
        discussion: """
            Like bzip2: FILE becomes FILE.bz2 and FILE is removed (-k keeps it); no files means standard input to
            standard output. Outputs are written under a temporary name and renamed when complete.
            Example: fathom bzip2 -k -9 -p 8 /mnt/efs/sorted.txt
            """)

    @OptionGroup var arguments: BZip2Arguments

    func run() throws {
        try BZip2Job(arguments: arguments, decompressing: arguments.decompress || arguments.test).run()
    }
}

/// `fathom bunzip2`: parallel decompression of bzip2 files (any number of streams).
struct BUnzip2Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bunzip2",
        abstract: "Decompress bzip2 files (from bzip2, pbzip2, lbzip2 or Fathom), streams in parallel.",
        discussion: "FILE.bz2 becomes FILE; damaged input is an error naming the byte offset and leaves no output.")

    @OptionGroup var arguments: BZip2Arguments

    func run() throws {
        try BZip2Job(arguments: arguments, decompressing: !arguments.compress).run()
    }
}

/// `fathom bzcat`: decompress to standard output, as `bzcat` (`bunzip2 -c`).
struct BZCatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bzcat", abstract: "Decompress bzip2 files to standard output (bunzip2 -c), streams in parallel.")

    @OptionGroup var arguments: BZip2Arguments

    func run() throws {
        var arguments = arguments
        arguments.stdout = true
        try BZip2Job(arguments: arguments, decompressing: true).run()
    }
}

/// One bzip2 invocation over its files.
struct BZip2Job {
    let arguments: BZip2Arguments
    let decompressing: Bool

    private var command: String { decompressing ? "bunzip2" : "bzip2" }

    func run() throws {
        try ToolkitRunner.run(command) { cancellation in
            let files = arguments.files.isEmpty ? ["-"] : arguments.files
            var failures = 0
            for file in files {
                do {
                    try process(file, cancellation: cancellation)
                } catch let error as ToolkitError {
                    if case .cancelled = error { throw error }
                    ToolkitRunner.writeError("fathom \(command): \(error)")
                    failures += 1
                }
            }
            if failures > 0 { throw ToolkitError.refused("\(failures) of \(files.count) files failed") }
        }
    }

    private func process(_ file: String, cancellation: CancellationFlag) throws {
        let toStandardOutput = arguments.stdout || file == "-"
        if !decompressing, toStandardOutput, !arguments.test, isatty(1) == 1 {
            throw ToolkitError.refused("compressed data not written to a terminal; use -c with a redirect, or name a file")
        }
        let input = try FileHandleFD.reading(file)
        var target: String?
        if !toStandardOutput && !arguments.test {
            let name = decompressing ? Self.decompressedName(file) : file + ".bz2"
            if !decompressing, file.hasSuffix(".bz2") {
                throw ToolkitError.refused("\(file) already has the .bz2 suffix; skipped (use -c to compress it again)")
            }
            if !arguments.force, access(name, F_OK) == 0 {
                throw ToolkitError.refused("output file \(name) already exists; use -f to overwrite it")
            }
            target = name
        }
        let summary: BZip2Summary
        if arguments.resume, !decompressing, let target {
            summary = try ResumableBZip2.compress(
                input: file, output: target, level: arguments.level, parallelism: arguments.parallel,
                memoryLimit: arguments.memoryLimit, cancellation: cancellation)
            if let note = summary.checkpointNote, arguments.talkative { ToolkitRunner.writeError("fathom bzip2: \(note)") }
            try finish(file, target: target, summary: summary)
            return
        }
        let output = arguments.test ? nil : try AtomicOutput(path: target)
        if decompressing {
            summary = try ParallelBZip2.decompress(
                input: input, output: output?.handle, name: file == "-" ? "standard input" : file,
                parallelism: arguments.parallel, memoryLimit: arguments.memoryLimit, cancellation: cancellation)
        } else {
            summary = try ParallelBZip2.compress(
                input: input, output: output!.handle, level: arguments.level, parallelism: arguments.parallel,
                memoryLimit: arguments.memoryLimit, streamBytes: arguments.blockSteps.map { $0 * 100_000 }, cancellation: cancellation)
        }
        try output?.commit()
        try finish(file, target: target, summary: summary)
    }

    /// Removes the input unless kept, and reports.
    private func finish(_ file: String, target: String?, summary: BZip2Summary) throws {
        if target != nil, !arguments.keep, file != "-" { unlink(file) }
        if arguments.talkative || (arguments.test && !arguments.quiet) {
            ToolkitRunner.writeError(BZip2Report.line(file: file, summary: summary, decompressing: decompressing, testing: arguments.test))
        }
    }

    /// bzip2's names: `x.bz2` → `x`, `x.bz` → `x`, `x.tbz2` / `x.tbz` → `x.tar`, anything else → `x.out`.
    static func decompressedName(_ file: String) -> String {
        for (suffix, replacement) in [(".bz2", ""), (".bz", ""), (".tbz2", ".tar"), (".tbz", ".tar")] where file.hasSuffix(suffix) && file.count > suffix.count {
            return String(file.dropLast(suffix.count)) + replacement
        }
        return file + ".out"
    }
}
