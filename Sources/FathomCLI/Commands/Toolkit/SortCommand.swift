import ArgumentParser
import FathomToolkit
import Foundation

/// `fathom sort`: external merge sort with GNU sort's options, byte order (`LC_ALL=C`).
struct SortCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sort",
        abstract: "Sort lines of files of any size within a memory budget, byte-identical to LC_ALL=C sort.",
        discussion: """
            Chunks are sorted on all cores; when the input exceeds --memory, sorted runs spill to --tmp and are merged.
            The output goes to a temporary name and is renamed into place; temporary files are removed on success,
            failure and Ctrl-C. Example: fathom sort -t , -k 2,2n -S 1G -o sorted.csv big.csv
            """)

    @Argument(help: "Input files ('-' or none: standard input).")
    var files: [String] = []

    @Option(name: [.customShort("o", allowingJoined: true), .customLong("output")], help: "Write the result to this file (may be an input) instead of standard output.")
    var output: String?

    @Option(name: [.customShort("t", allowingJoined: true), .customLong("field-separator")], help: "Field separator (one byte; '\\0' for NUL). Default: blanks begin a field.")
    var separator: String?

    @Option(name: [.customShort("k", allowingJoined: true), .customLong("key")], help: "Sort key POS1[,POS2], e.g. 2,2n or 1.3,1.5 (repeatable).")
    var keys: [String] = []

    @Flag(name: [.customShort("n"), .customLong("numeric-sort")], help: "Compare by numeric value.")
    var numeric = false

    @Flag(name: [.customShort("g"), .customLong("general-numeric-sort")], help: "Compare as strtold reads numbers (exponents, inf, nan).")
    var generalNumeric = false

    @Flag(name: [.customShort("h"), .customLong("human-numeric-sort")], help: "Compare human-readable sizes (2K < 1G).")
    var humanNumeric = false

    @Flag(name: [.customShort("M"), .customLong("month-sort")], help: "Compare month names (unknown < JAN < … < DEC).")
    var month = false

    @Flag(name: [.customShort("V"), .customLong("version-sort")], help: "Natural sort of version numbers within text.")
    var version = false

    @Flag(name: [.customShort("R"), .customLong("random-sort")], help: .hidden)
    var random = false

    @Option(name: .customLong("sort"), help: "Sort by WORD: general-numeric (-g), human-numeric (-h), month (-M), numeric (-n), version (-V).")
    var sortWord: String?

    @Flag(name: [.customShort("f"), .customLong("ignore-case")], help: "Fold lowercase to uppercase when comparing.")
    var ignoreCase = false

    @Flag(name: [.customShort("d"), .customLong("dictionary-order")], help: "Consider only blanks, letters and digits.")
    var dictionaryOrder = false

    @Flag(name: [.customShort("i"), .customLong("ignore-nonprinting")], help: "Consider only printable characters.")
    var ignoreNonprinting = false

    @Flag(name: [.customShort("z"), .customLong("zero-terminated")], help: "Lines end with a NUL byte, not a newline.")
    var zeroTerminated = false

    @Flag(name: [.customShort("r"), .customLong("reverse")], help: "Reverse the order.")
    var reverse = false

    @Flag(name: [.customShort("u"), .customLong("unique")], help: "Output only the first of lines with equal keys.")
    var unique = false

    @Flag(name: [.customShort("s"), .customLong("stable")], help: "Stable: keep input order of equal keys (no last-resort whole-line compare).")
    var stable = false

    @Flag(name: [.customShort("b"), .customLong("ignore-leading-blanks")], help: "Ignore leading blanks in keys.")
    var ignoreLeadingBlanks = false

    @Flag(name: [.customShort("c"), .long], help: "Check that the input is sorted; report the first disorder (--check=diagnose-first too).")
    var check = false

    @Flag(name: [.customShort("m"), .customLong("merge")], help: "Merge files that are each sorted already; do not sort them again.")
    var merge = false

    @Option(name: .customLong("files0-from"), help: "Read the input files' names from this file, each ended by a NUL byte ('-': standard input).")
    var files0From: String?

    @Flag(name: .customShort("C"), help: "Check that the input is sorted, saying nothing: the exit status tells (--check=quiet, --check=silent).")
    var checkQuietly = false

    @Option(name: [.customShort("S", allowingJoined: true), .customLong("buffer-size"), .customLong("memory")], help: "Memory budget: 64M, 2G, 25%; a bare number is KiB, as in GNU sort (default 25% of RAM).")
    var memory: String?

    @Option(name: .long, help: "Threads sorting chunks (default: all cores).")
    var parallel: Int?

    @Option(name: [.customShort("T", allowingJoined: true), .customLong("temporary-directory"), .customLong("tmp")], help: "Directory for temporary runs (default: $TMPDIR or /tmp).")
    var tmp: String?

    @Option(name: .customLong("compress-program"), help: "Write temporary runs through PROG and read them back with PROG -d (e.g. zstd, lz4, gzip, bzip2), for a volume where bytes cost more than cores.")
    var compressProgram: String?

    @Option(name: .customLong("batch-size"), help: "Runs merged at once (default 64).")
    var batchSize = 64

    @Flag(inversion: .prefixedNo, help: "Show progress on standard error (default: when it is a terminal).")
    var progress: Bool?

    @Flag(help: """
        Keep a checkpoint of the sorted runs in --tmp: the same sort started again after an interruption (Ctrl-C, \
        SIGTERM, SIGKILL, a failure) reuses them and sorts only the rest. Needs input files, not standard input.
        """)
    var checkpoint = false

    /// The global ordering the flags name; more than one is refused, as GNU sort refuses it.
    func globalOrder() throws -> SortOptions {
        if random || sortWord == "random" {
            throw ToolkitError.invalidOption("-R", "random order is not supported: Fathom's sort is deterministic", "shuffle with 'shuf', or drop -R")
        }
        var modes: [SortMode] = []
        if numeric { modes.append(.numeric) }
        if generalNumeric { modes.append(.generalNumeric) }
        if humanNumeric { modes.append(.humanNumeric) }
        if month { modes.append(.month) }
        if version { modes.append(.version) }
        if let sortWord {
            let words: [String: SortMode] = [
                "general-numeric": .generalNumeric, "human-numeric": .humanNumeric, "month": .month, "numeric": .numeric, "version": .version,
            ]
            guard let mode = words[sortWord] else {
                throw ToolkitError.invalidOption(
                    "--sort", "'\(sortWord)' is not a sort order", "use general-numeric, human-numeric, month, numeric or version")
            }
            modes.append(mode)
        }
        var order = try SortOptions(
            separator: separator.map(SortOptions.parseSeparator), keys: keys.map(SortKey.init(parsing:)),
            reverse: reverse, skipBlanks: ignoreLeadingBlanks, stable: stable, unique: unique)
        if Set(modes).count > 1 {
            throw ToolkitError.invalidOption(
                "-\(modes.compactMap(\.letter).joined())", "these orderings are incompatible (GNU sort refuses them too)",
                "keep one of -g, -h, -M, -n, -V")
        }
        order.mode = modes.first ?? .bytes
        order.foldCase = ignoreCase
        order.ignore = dictionaryOrder ? .nonDictionary : (ignoreNonprinting ? .nonPrinting : .none)
        if dictionaryOrder && ignoreNonprinting {
            throw ToolkitError.invalidOption("-di", "options '-di' are incompatible (GNU sort refuses them too)", "keep -d or -i")
        }
        order.zeroTerminated = zeroTerminated
        try order.checkCompatible()
        return order
    }

    func validate() throws {
        if files0From != nil && !files.isEmpty {
            throw ValidationError("extra operand '\(files[0])': file operands cannot be combined with --files0-from; put every name in the list")
        }
        if merge && (files.contains("-") || (files.isEmpty && files0From == nil)) {
            throw ValidationError("-m merges files by name: give the sorted files (standard input is not read with -m)")
        }
        if merge && checkpoint { throw ValidationError("--checkpoint keeps sorted runs; -m sorts nothing: drop one of them") }
        if let parallel, parallel < 1 { throw ValidationError("--parallel must be at least 1, got \(parallel)") }
        if batchSize < 2 { throw ValidationError("--batch-size must be at least 2, got \(batchSize)") }
        if checkpoint && (files.isEmpty || files.contains("-")) {
            throw ValidationError("--checkpoint needs input files: standard input cannot be read again; name the files")
        }
        if (check || checkQuietly) && files.count > 1 {
            throw ValidationError("--check takes one input file, got \(files.count); check them one at a time")
        }
    }

    /// The names in a `--files0-from` list: NUL-ended, none empty.
    static func names(listedIn list: String) throws -> [String] {
        let data: [UInt8]
        if list == "-" {
            data = Array(FileHandle.standardInput.readDataToEndOfFile())
        } else {
            guard let contents = FileManager.default.contents(atPath: list) else {
                throw ToolkitError.io("open", list, errno == 0 ? ENOENT : errno)
            }
            data = Array(contents)
        }
        var pieces = data.split(separator: 0, omittingEmptySubsequences: false)
        if pieces.last?.isEmpty == true { pieces.removeLast() }
        guard !pieces.contains(where: \.isEmpty) else {
            throw ToolkitError.invalidOption("--files0-from", "\(list) holds an empty file name", "end each name with one NUL byte (find -print0 writes such a list)")
        }
        guard !pieces.isEmpty else {
            throw ToolkitError.invalidOption("--files0-from", "\(list) names no file", "list at least one file")
        }
        return pieces.map { String(decoding: $0, as: UTF8.self) }
    }

    func run() throws {
        try ToolkitRunner.run("sort") { cancellation in
            let order = try globalOrder()
            let files = try files0From.map(Self.names(listedIn:)) ?? files
            if check || checkQuietly {
                if let disorder = try SortChecker.check(input: files.first ?? "-", order: order) {
                    if checkQuietly { throw ExitCode(1) }  // GNU sort -C: the status alone says it
                    throw disorder
                }
                return
            }
            // GNU sort reads a bare number as KiB (`-S 1024` is 1 MiB).
            let budget = try memory.map { try ByteSize(parsing: $0.allSatisfy(\.isNumber) ? $0 + "K" : $0, field: "--buffer-size").bytes }
            var configuration = SortConfiguration(
                order: order, memory: budget, parallelism: parallel, temporaryDirectory: tmp, fanIn: batchSize)
            if merge {
                _ = try ExternalSort.merge(sortedInputs: files, output: output, configuration: configuration, cancellation: cancellation)
                return
            }
            configuration.checkpoint = checkpoint
            configuration.compressProgram = compressProgram
            // A compress program that dies leaves a closed pipe: its write must fail with EPIPE (and the program's
            // status be reported), not kill this process.
            if compressProgram != nil { signal(SIGPIPE, SIG_IGN) }
            let show = progress ?? ProgressLine.enabled
            let throttle = Throttle(interval: 0.25)
            let summary = try ExternalSort.sort(
                inputs: files, output: output, configuration: configuration, cancellation: cancellation
            ) { state in
                guard show, throttle.ready(force: state.phase == .done) else { return }
                ProgressLine.show(SortProgressText.describe(state))
            }
            if show {
                ProgressLine.clear()
                if let note = summary.checkpointNote { ToolkitRunner.writeError(note) }
                ToolkitRunner.writeError(SortProgressText.summary(summary))
            }
        }
    }
}

/// `fathom sort`'s command line read as the command reads it.
public enum SortCommandLine {
    /// The sort options the arguments name (GNU spellings rewritten, then parsed): what the property tests compare
    /// with GNU sort given the same spelling.
    public static func order(fromArguments arguments: [String]) throws -> SortOptions {
        let command = try SortCommand.parse(Array(GNUSpellings.rewrite(["sort"] + arguments).dropFirst()))
        return try command.globalOrder()
    }
}
