import ArgumentParser
import FathomProcess
import FathomToolkit

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Runs a toolkit job from a command: SIGINT and SIGTERM cancel it (its temporary files are removed), toolkit
/// errors print as `fathom NAME: message` with exit code 2 (1 for `--check` disorder, as GNU sort does).
enum ToolkitRunner {
    static func run(_ name: String, _ body: (CancellationFlag) throws -> Void) throws {
        let cancellation = CancellationFlag()
        let watcher = SignalWatcher(signals: [SIGINT, SIGTERM]) { cancellation.cancel() }
        defer { watcher.stop() }
        do {
            try body(cancellation)
        } catch let error as ToolkitError {
            ProgressLine.clear()
            writeError("fathom \(name): \(error)")
            switch error {
            case .cancelled: throw ExitCode(130)
            case .disorder: throw ExitCode(1)
            default: throw ExitCode(2)
            }
        }
    }

    static func writeError(_ text: String) {
        let line = text + "\n"
        _ = line.withCString { fputs($0, stderr) }
    }
}

/// A one-line progress display on standard error, redrawn in place; only when standard error is a terminal.
enum ProgressLine {
    static var enabled: Bool { isatty(2) == 1 }

    static func show(_ text: String) {
        guard enabled else { return }
        _ = "\r\u{1B}[K\(text)".withCString { fputs($0, stderr) }
    }

    static func clear() {
        guard enabled else { return }
        _ = "\r\u{1B}[K".withCString { fputs($0, stderr) }
    }
}
