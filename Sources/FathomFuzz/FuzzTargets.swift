import FathomCore
import FathomToolkit
import Foundation

/// The parsers that take user input, each a libFuzzer target. Every input must either parse or be
/// refused with an error: a trap, a hang or a leak is a finding.
enum FuzzTarget: String, CaseIterable {
    /// UI form bodies (`application/x-www-form-urlencoded`).
    case form
    /// Cron expressions, and the next time of each that parses.
    case cron
    /// Durations (`90s`, `1h`) and byte sizes (`512M`, `2G`), and their formatting.
    case sizes
    /// bzip2 streams through Fathom's parallel decoder (block scanner, assembler, CRCs).
    case bzip2
    /// Traps on inputs that start with "FUZZ": proves that a finding stops the run (LibFuzzerTests).
    case selfCheck = "self-check"

    /// Runs one input.
    func run(_ bytes: [UInt8]) {
        switch self {
        case .form:
            _ = try? FormFields.parse(bytes)  // fuzzing: a thrown error is the parser working; only a trap is a finding
        case .cron:
            guard let text = String(validating: bytes, as: UTF8.self), let cron = try? CronExpression(text) else { return }  // fuzzing: only a trap is a finding
            let instant = bytes.reduce(0) { $0 &* 31 &+ Int($1) } % 10_000_000_000
            for zone in ["UTC", "Europe/Berlin", "Pacific/Chatham"] {
                _ = cron.next(after: Date(timeIntervalSince1970: Double(instant)), in: TimeZone(identifier: zone)!)
            }
        case .sizes:
            guard let text = String(validating: bytes, as: UTF8.self) else { return }
            if let seconds = DurationText.seconds(text) { _ = DurationText.describe(seconds) }
            if let size = try? ByteSize(parsing: text, field: "memory") { _ = ByteSize.format(size.bytes) }  // fuzzing: only a trap is a finding
        case .bzip2:
            BZip2Input.decode(bytes)
        case .selfCheck:
            if bytes.starts(with: Array("FUZZ".utf8)) { fatalError("self-check: libFuzzer found the planted input") }
        }
    }

    /// The target named by `FATHOM_FUZZ_TARGET`.
    static var selected: FuzzTarget {
        let name = ProcessInfo.processInfo.environment["FATHOM_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("set FATHOM_FUZZ_TARGET to one of: \(allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
            exit(2)
        }
        return target
    }
}

/// The decoder reads files: each input goes through one in memory-backed /dev/shm.
enum BZip2Input {
    static let path = "/dev/shm/fathom-fuzz-\(getpid()).bz2"

    static func decode(_ bytes: [UInt8]) {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)),
              let input = try? FileHandleFD.reading(path) else { return }  // fuzzing: an unreadable scratch file skips the input
        _ = try? ParallelBZip2.decompress(input: input, output: nil, name: "fuzz input", parallelism: 2)  // fuzzing: a corrupt stream is expected; only a trap is a finding
    }
}

/// `fathom-fuzz TARGET FILE...` replays inputs (a finding libFuzzer saved, a corpus) through a target.
/// Built by scripts/fuzz (`-sanitize=fuzzer -DFATHOM_LIBFUZZER`), it is libFuzzer: `FATHOM_FUZZ_TARGET=cron
/// fathom-fuzz CORPUS -runs=N …`.
@main
struct FuzzMain {
    static func main() throws {
        #if FATHOM_LIBFUZZER
        selectedTarget = FuzzTarget.selected
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            selectedTarget?.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
            return 0
        })
        #else
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: fathom-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE...  (libFuzzer: scripts/fuzz)")
            exit(2)
        }
        for file in arguments.dropFirst() {
            target.run([UInt8](try Data(contentsOf: URL(fileURLWithPath: file))))
            print("\(file): ok")
        }
        #endif
    }
}

#if FATHOM_LIBFUZZER
import CFuzzer

/// Set once, before libFuzzer calls back (a C callback captures nothing).
nonisolated(unsafe) var selectedTarget: FuzzTarget?
#endif
