import FathomSDK
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Appends its run id to a file, once per process start: the chaos test counts flow processes started per run.
struct Tally: Flow {
    static let name = "tally"
    struct Parameters: FlowParameters {
        var file = "/tmp/fathom-tally"
        var milliseconds = 0
    }

    static func run(_ parameters: Parameters, context: FlowContext) async throws {
        let line = Array((context.runID + "\n").utf8)
        let fd = open(parameters.file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TallyError(description: "cannot open \(parameters.file): errno \(errno)") }
        defer { close(fd) }
        // One write of a short line with O_APPEND: whole lines, even from many processes at once.
        guard write(fd, line, line.count) == line.count else { throw TallyError(description: "short write to \(parameters.file)") }
        if parameters.milliseconds > 0 { try await Task.sleep(for: .milliseconds(parameters.milliseconds)) }
    }

    struct TallyError: Error, CustomStringConvertible {
        var description: String
    }
}
