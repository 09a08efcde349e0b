import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real PostgreSQL server for the tests: Debian's `postgresql` binaries, a cluster made by `initdb` in a
/// temporary directory as the non-root `postgres` user, and `postgres` on a free loopback port. One server per test
/// process (started on first use, stopped when the process exits); each test gets a database of its own.
final class PostgresServer: Sendable {
    let port: Int
    let directory: String
    let pid: pid_t

    /// Where Debian puts the server's binaries (`/usr/lib/postgresql/<major>/bin`), or nil when it is not installed.
    static var binaries: String? {
        let root = "/usr/lib/postgresql"
        let majors = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        return majors.last.map { "\(root)/\($0)/bin" }.flatMap { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") ? $0 : nil }
    }

    /// Why the PostgreSQL tests cannot run here, or nil when they can.
    static var unavailableReason: String? {
        if binaries == nil { return "PostgreSQL is not installed (apt-get install postgresql; scripts/test installs it)" }
        if getuid() == 0, getpwnam("postgres") == nil { return "there is no 'postgres' user to run initdb as" }
        return nil
    }

    /// The process's server, started on first use.
    static func shared() async throws -> PostgresServer {
        try await SharedServer.instance.get()
    }

    private actor SharedServer {
        static let instance = SharedServer()
        /// The start in progress or done: concurrent first uses wait for the same server (an actor is reentrant at
        /// each await, so a flag set after the start would let every test start its own).
        private var starting: Task<PostgresServer, any Error>?

        func get() async throws -> PostgresServer {
            if let starting { return try await starting.value }
            let task = Task { () throws -> PostgresServer in
                PostgresServer.stopOrphans()
                let started = try await PostgresServer.start()
                PostgresServer.sharedPostmaster = started.postmasterPID
                atexit { PostgresServer.stopShared() }
                return started
            }
            starting = task
            return try await task.value
        }
    }

    /// The shared server's postmaster, for the exit handler (a C function: it cannot reach the actor). Written once,
    /// before the handler is registered.
    nonisolated(unsafe) private static var sharedPostmaster: pid_t = 0

    private static func stopShared() {
        // SIGQUIT: immediate shutdown; the cluster is thrown away with its directory.
        if sharedPostmaster > 0 { kill(sharedPostmaster, SIGQUIT) }
    }

    /// The postmaster's own pid, from `postmaster.pid` (the process started is `runuser`, which does not pass signals on).
    var postmasterPID: pid_t {
        let text = (try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8)) ?? ""  // not written yet: no pid
        return text.split(separator: "\n").first.flatMap { pid_t($0) } ?? pid
    }

    /// Servers of earlier test processes that died without their exit handler (SIGKILL, a crash): each directory
    /// names its owner; a server whose owner is gone is stopped and its directory removed.
    static func stopOrphans() {
        let temporary = NSTemporaryDirectory()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? [] where name.hasPrefix("fathom-pg-") {  // unreadable: nothing to reap
            let directory = temporary + name
            guard let owner = (try? String(contentsOfFile: directory + "/owner", encoding: .utf8)).flatMap({ pid_t($0) }),  // no owner file: not ours to judge
                  owner != getpid(), kill(owner, 0) != 0, errno == ESRCH
            else { continue }
            let text = (try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8)) ?? ""  // never started
            if let postmaster = text.split(separator: "\n").first.flatMap({ pid_t($0) }), postmaster > 0 { kill(postmaster, SIGQUIT) }
            try? FileManager.default.removeItem(atPath: directory)  // best effort: a directory still in use is tried again next time
        }
    }

    private init(port: Int, directory: String, pid: pid_t) {
        self.port = port
        self.directory = directory
        self.pid = pid
    }

    /// initdb (as `postgres` when this process is root) and start the server on a free port; waits until it takes connections.
    static func start() async throws -> PostgresServer {
        guard let bin = binaries else { throw Failure(unavailableReason ?? "no PostgreSQL") }
        let directory = NSTemporaryDirectory() + "fathom-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try String(getpid()).write(toFile: directory + "/owner", atomically: true, encoding: .utf8)
        let asPostgres = getuid() == 0
        if asPostgres { _ = chown(directory, getpwnam("postgres").pointee.pw_uid, getpwnam("postgres").pointee.pw_gid) }
        func command(_ executable: String, _ arguments: [String]) -> (String, [String]) {
            asPostgres ? ("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments) : (executable, arguments)
        }
        let data = directory + "/data"
        let (initdb, initArguments) = command(bin + "/initdb", ["-D", data, "-U", "fathom", "--auth=trust", "-E", "UTF8", "--no-sync"])
        let made = try await runCommand(initdb, initArguments)
        guard made.exit.succeeded else { throw Failure("initdb failed: \(made.output.suffix(5))") }
        let port = try LoopbackPort.unused()
        let (postgres, arguments) = command(bin + "/postgres", [
            "-D", data, "-p", String(port), "-k", directory, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
            "-c", "max_connections=300", "-c", "shared_buffers=64MB",
        ])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: postgres)
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let server = PostgresServer(port: port, directory: directory, pid: process.processIdentifier)
        let ready = await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
            (try? await runCommand(bin + "/pg_isready", ["-h", "127.0.0.1", "-p", String(port)]))?.exit.succeeded ?? false
        }
        guard ready else { throw Failure("postgres did not take connections on port \(port) within 30 s") }
        return server
    }

    /// A new empty database; its URL for `fathom server --database`.
    func createDatabase() async throws -> String {
        let name = "fathom_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        guard let bin = Self.binaries else { throw Failure("no PostgreSQL") }
        let made = try await runCommand(bin + "/createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "fathom", name])
        guard made.exit.succeeded else { throw Failure("createdb failed: \(made.output)") }
        return "postgres://fathom@127.0.0.1:\(port)/\(name)?sslmode=disable"
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
