import Foundation
import Subprocess
import SystemPackage
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Which output stream a line came from.
public enum OutputStream: String, Sendable {
    case stdout, stderr
}

/// How a child process ended.
public struct ChildExit: Sendable, Equatable, CustomStringConvertible {
    /// The exit code, when it exited.
    public var exitCode: Int32?
    /// The signal, when a signal killed it.
    public var signal: Int32?
    /// The last lines it wrote to stderr, oldest first.
    public var stderrTail: [String]
    /// The first stderr lines that read like the cause of a crash ("Fatal error: …", "panic: …").
    public var stderrHighlights: [String] = []

    /// What to show of stderr in a crash report: the highlights, then the last lines that are not
    /// the Swift backtracer's listing (frames, registers, loaded images).
    public var crashReport: [String] {
        stderrHighlights + stderrTail.filter { !Self.isBacktraceNoise($0) && !stderrHighlights.contains($0) }.suffix(8)
    }

    /// Whether a stderr line reads like the cause of a crash.
    public static func isHighlight(_ line: String) -> Bool {
        let lowered = line.lowercased()
        return ["fatal error", "panic", "precondition failed", "assertion failed", "error:", "killed", "segmentation fault", "program crashed"]
            .contains { lowered.contains($0) }
    }

    /// A line of the backtracer's listing after the crash message: an image or frame address, a register,
    /// a thread header, or its bookkeeping.
    public static func isBacktraceNoise(_ line: String) -> Bool {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed == "..." { return true }
        for prefix in ["0x", "Backtrace took", "Images (", "Registers:", "Platform:", "Thread ", "*** Signal", "rflags", "cs 0x"] where trimmed.hasPrefix(prefix) {
            return true
        }
        let words = trimmed.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard words.count >= 2 else { return false }
        if words[0].allSatisfy(\.isNumber), words[1] == "[ra]" || words[1].hasPrefix("0x") || words[1] == "[thunk]" { return true }  // a frame
        if words[0].count <= 3, words[0].allSatisfy({ $0.isLetter || $0.isNumber }), words[1].hasPrefix("0x") { return true }  // a register
        return false
    }

    public var succeeded: Bool { exitCode == 0 }

    public var description: String {
        if let signal { return "killed by signal \(signal) (\(ChildExit.signalName(signal)))" }
        return "exited with status \(exitCode ?? -1)"
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGKILL: return "SIGKILL"
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGSEGV: return "SIGSEGV"
        case SIGABRT: return "SIGABRT"
        case SIGILL: return "SIGILL"
        case SIGBUS: return "SIGBUS"
        case SIGTRAP: return "SIGTRAP"
        default: return "signal \(signal)"
        }
    }
}

/// A child process to run in its own process group.
///
/// Its stdout and stderr are streamed line by line to `onLine`. Cancelling the calling task sends
/// SIGTERM to the whole process group, then SIGKILL after ``killGrace``.
public struct ChildProcess: Sendable {
    public var executable: String
    public var arguments: [String]
    /// Variables to set on top of ``baseEnvironment``.
    public var environment: [String: String]
    /// `nil` inherits this process's environment; otherwise exactly these variables.
    public var baseEnvironment: [String: String]?
    public var workingDirectory: String?
    /// How long after SIGTERM the group gets SIGKILL.
    public var killGrace: Duration = .seconds(10)
    /// How many stderr lines to keep for ``ChildExit/stderrTail``.
    public var stderrTailLines = 20

    public init(
        executable: String, arguments: [String] = [], environment: [String: String] = [:],
        baseEnvironment: [String: String]? = nil, workingDirectory: String? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.baseEnvironment = baseEnvironment
        self.workingDirectory = workingDirectory
    }

    /// Runs to completion. `onStart` receives the process id (which is also its process group id).
    public func run(
        onStart: @Sendable (Int32) -> Void = { _ in },
        onLine: @escaping @Sendable (OutputStream, String) -> Void
    ) async throws -> ChildExit {
        var options = PlatformOptions()
        options.processGroupID = 0
        // On cancellation Subprocess ends with SIGKILL; SIGTERM first gives a flow the grace to stop its own children.
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: killGrace)]
        let environmentSetting: Subprocess.Environment
        if let base = baseEnvironment {
            environmentSetting = .custom(
                Dictionary(uniqueKeysWithValues: base.merging(environment) { _, new in new }.map {
                    (Subprocess.Environment.Key(rawValue: $0.key)!, $0.value)
                }))
        } else {
            environmentSetting = .inherit.updating(
                Dictionary(uniqueKeysWithValues: environment.map { (Subprocess.Environment.Key(rawValue: $0.key)!, $0.value) }))
        }
        let executablePath = executable.contains("/") ? Executable.path(FilePath(executable)) : Executable.name(executable)
        let groupID = Locked<Int32?>(nil)
        let tail = Locked<[String]>([])
        let highlights = Locked<[String]>([])
        let grace = killGrace
        let tailLimit = stderrTailLines
        let result = try await withTaskCancellationHandler {
            try await Subprocess.run(
                executablePath, arguments: Arguments(arguments), environment: environmentSetting,
                workingDirectory: workingDirectory.map { FilePath($0) }, platformOptions: options,
                input: .none, output: .sequence, error: .sequence
            ) { execution in
                let pid = execution.processIdentifier.value
                groupID.withLock { $0 = pid }
                onStart(pid)
                if Task.isCancelled { ChildProcess.terminateGroup(pid, grace: grace) }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await line in execution.standardOutput.strings() { onLine(.stdout, line) }
                    }
                    group.addTask {
                        for try await line in execution.standardError.strings() {
                            onLine(.stderr, line)
                            if ChildExit.isHighlight(line) {
                                highlights.withLock { if $0.count < 5 { $0.append(line) } }
                            }
                            tail.withLock { lines in
                                lines.append(line)
                                if lines.count > tailLimit { lines.removeFirst(lines.count - tailLimit) }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
        } onCancel: {
            if let pid = groupID.withLock({ $0 }) { ChildProcess.terminateGroup(pid, grace: grace) }
        }
        var exit = ChildExit(exitCode: nil, signal: nil, stderrTail: tail.value, stderrHighlights: highlights.value)
        switch result.terminationStatus {
        case .exited(let code): exit.exitCode = code
        case .signaled(let signal): exit.signal = signal
        }
        return exit
    }

    /// SIGTERM to the process group now, SIGKILL after `grace` if it is still there.
    public static func terminateGroup(_ groupID: Int32, grace: Duration) {
        guard groupID > 0 else { return }
        kill(-groupID, SIGTERM)
        Task.detached {
            try? await Task.sleep(for: grace)
            kill(-groupID, SIGKILL)
        }
    }
}

/// A value behind a lock that escaping closures can share (a `Mutex` cannot be captured).
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) {
        mutex = Mutex(value)
    }

    public func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
        mutex.withLock { body(&$0) }
    }

    /// A copy of the current value.
    public var value: Value { withLock { $0 } }
}
