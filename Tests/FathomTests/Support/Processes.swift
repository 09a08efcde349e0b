import FathomProcess
import Foundation
import Synchronization
import Testing

/// A real child process running in the background, with its output collected.
final class BackgroundProcess: Sendable {
    private let lines = Locked<[String]>([])
    private let pidBox = Locked<Int32?>(nil)
    private let task = Locked<Task<ChildExit?, Never>?>(nil)
    private let finished = Locked(false)

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) {
        let process = ChildProcess(executable: executable, arguments: arguments, environment: environment)
        let runner = Task { [lines, pidBox, finished] in
            let exit = try? await process.run(onStart: { pid in
                pidBox.withLock { $0 = pid }
                LiveGroups.add(pid)
            }) { _, line in
                lines.withLock { $0.append(line) }
            }
            if let pid = pidBox.withLock({ $0 }) { LiveGroups.remove(pid) }
            pidBox.withLock { $0 = nil }  // Gone: nothing left to kill.
            finished.withLock { $0 = true }
            return exit
        }
        task.withLock { $0 = runner }
    }

    /// A test that forgets to stop its process (or fails first) must not leave it running.
    deinit {
        if let pid = pidBox.value { kill(-pid, SIGKILL) }
    }

    var output: [String] { lines.withLock { $0 } }

    /// Process groups still running, killed when the test process exits: a test whose `defer { Task { stop() } }`
    /// had no time to run before the end must not leave its server behind (a moto_server was seen to).
    private enum LiveGroups {
        nonisolated(unsafe) private static var groups: Set<pid_t> = []
        private static let lock = NSLock()
        private static let handler: Void = { atexit { LiveGroups.killAll() } }()

        static func add(_ pid: pid_t) {
            _ = handler
            lock.withLock { _ = groups.insert(pid) }
        }

        static func remove(_ pid: pid_t) {
            lock.withLock { _ = groups.remove(pid) }
        }

        private static func killAll() {
            // At exit a thread holding the lock may never run again: try it, and give up rather than wait.
            guard lock.try() else { return }
            let running = groups
            lock.unlock()
            for pid in running { kill(-pid, SIGKILL) }
        }
    }

    /// Whether the process has exited.
    var isFinished: Bool { finished.value }
    var pid: Int32? { pidBox.withLock { $0 } }

    /// Waits for an output line matching `predicate` and returns it.
    func waitForLine(timeout: Duration = .seconds(30), where predicate: @escaping (String) -> Bool) async throws -> String {
        var found: String?
        let appeared = await eventually(timeout: timeout) {
            found = output.first(where: predicate)
            return found != nil
        }
        guard appeared, let found else {
            throw TestFailure("no matching output line within \(timeout); got:\n\(output.suffix(20).joined(separator: "\n"))")
        }
        return found
    }

    /// The first `http://…` URL in a line.
    static func url(in line: String) -> String? {
        line.split(separator: " ").first { $0.hasPrefix("http://") }.map { String($0).trimmingCharacters(in: .punctuationCharacters.subtracting(CharacterSet(charactersIn: "/"))) }
    }

    /// Sends SIGKILL to the process (not its group).
    func kill9() {
        if let pid { kill(pid, SIGKILL) }
    }

    /// SIGTERM to its group, then waits for it to end.
    func stop() async {
        let runner = task.withLock { $0 }
        runner?.cancel()
        _ = await runner?.value
    }

}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command to completion and returns its exit and output.
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> (exit: ChildExit, output: [String]) {
    let lines = Locked<[String]>([])
    let exit = try await ChildProcess(executable: executable, arguments: arguments, environment: environment).run { _, line in
        lines.withLock { $0.append(line) }
    }
    return (exit, lines.withLock { $0 })
}

/// Runs `body`, then `cleanup` whether it threw or not, and waits for both: for processes that must be gone when
/// the test ends (a `defer { Task { … } }` may never run when the test process exits right after).
func withCleanup<T>(_ cleanup: () async -> Void, _ body: () async throws -> T) async throws -> T {
    let value: T
    do {
        value = try await body()
    } catch {
        await cleanup()
        throw error
    }
    await cleanup()
    return value
}
