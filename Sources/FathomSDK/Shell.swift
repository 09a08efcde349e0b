import FathomAPI
import FathomCore
import FathomProcess
import Foundation

/// A shell command that exited non-zero or was killed.
public struct ShellError: Error, CustomStringConvertible {
    public var command: String
    public var exit: ChildExit

    public var description: String {
        let tail = exit.crashReport.suffix(8).joined(separator: "\n  ")
        return "command '\(command)' \(exit)" + (tail.isEmpty ? "" : "; last stderr:\n  \(tail)")
    }
}

/// The outcome of a shell task that succeeded.
public struct ShellResult: Sendable, Codable {
    public var exitCode: Int32
    /// Number of stdout lines it wrote.
    public var stdoutLines: Int
}

extension FlowContext {
    /// Runs a command line with `/bin/sh -c` as a task: stdout and stderr stream into the logs,
    /// a non-zero exit fails the task, and cancellation kills the command's whole process group.
    @discardableResult
    public func shell(
        _ commandLine: String, name: String? = nil, workingDirectory: String? = nil, environment: [String: String] = [:],
        retries: Int = 0, retryDelay: Duration = .zero, timeout: Duration? = nil
    ) async throws -> ShellResult {
        try await shell(
            executable: "/bin/sh", arguments: ["-c", commandLine], name: name ?? commandLine,
            workingDirectory: workingDirectory, environment: environment, retries: retries, retryDelay: retryDelay,
            timeout: timeout)
    }

    /// Runs an executable with arguments (no shell) as a task.
    @discardableResult
    public func shell(
        executable: String, arguments: [String], name: String? = nil, workingDirectory: String? = nil,
        environment: [String: String] = [:], retries: Int = 0, retryDelay: Duration = .zero, timeout: Duration? = nil
    ) async throws -> ShellResult {
        let display = ([executable] + arguments).joined(separator: " ")
        return try await task(name ?? display, retries: retries, retryDelay: retryDelay, timeout: timeout) { task in
            let sink = self.sink
            let counter = Locked(0)
            let process = ChildProcess(
                executable: executable, arguments: arguments, environment: environment, workingDirectory: workingDirectory)
            let exit = try await process.run { stream, line in
                if stream == .stdout { counter.withLock { $0 += 1 } }
                sink.log(LogEntry(
                    timestamp: Date(), level: .info, message: line, taskRunID: task.taskRunID, source: LogSource(rawValue: stream.rawValue)))
            }
            try Task.checkCancellation()
            guard exit.succeeded else { throw ShellError(command: display, exit: exit) }
            return ShellResult(exitCode: 0, stdoutLines: counter.value)
        }
    }
}
