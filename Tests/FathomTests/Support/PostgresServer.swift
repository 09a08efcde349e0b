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
        private var server: PostgresServer?

        func get() async throws -> PostgresServer {
            if let server { return server }
            let started = try await PostgresServer.start()
            server = started
            atexit { PostgresServer.stopShared() }
            PostgresServer.sharedPID = started.pid
            return started
        }
    }

    /// The shared server's pid, for the exit handler (a C function: it cannot reach the actor). Written once, before
    /// the handler can run.
    nonisolated(unsafe) private static var sharedPID: pid_t = 0

    private static func stopShared() {
        // SIGQUIT: immediate shutdown; the cluster is thrown away with its directory.
        if sharedPID > 0 { kill(sharedPID, SIGQUIT) }
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
        let asPostgres = getuid() == 0
        if asPostgres { _ = chown(directory, getpwnam("postgres").pointee.pw_uid, getpwnam("postgres").pointee.pw_gid) }
        func command(_ executable: String, _ arguments: [String]) -> (String, [String]) {
            asPostgres ? ("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments) : (executable, arguments)
        }
        let data = directory + "/data"
        let (initdb, initArguments) = command(bin + "/initdb", ["-D", data, "-U", "fathom", "--auth=trust", "-E", "UTF8", "--no-sync"])
        let made = try await runCommand(initdb, initArguments)
        guard made.exit.succeeded else { throw Failure("initdb failed: \(made.output.suffix(5))") }
        let port = try MotoServer.freePort()
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
