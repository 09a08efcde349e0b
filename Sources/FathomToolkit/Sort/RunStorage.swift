import CMalloc
#if canImport(Glibc)
import Glibc
#endif

/// Where a sort's temporary runs go: plain files, or, with GNU sort's `--compress-program=PROG`, files written
/// through `PROG` (standard input to standard output) and read back through `PROG -d`, for a volume where bytes
/// cost more than the cores that shrink them.
struct RunStorage: Sendable {
    /// The compressor's path; nil for plain files.
    let program: String?

    static let plain = RunStorage(program: nil)

    /// `name` as given (with a `/`) or found on `PATH`, as GNU sort runs it; refused when it is neither.
    static func compressing(with name: String) throws -> RunStorage {
        let fix = "name a program that compresses standard input to standard output and takes -d, e.g. --compress-program=zstd (or gzip, bzip2, lz4)"
        if name.contains("/") {
            guard access(name, X_OK) == 0 else { throw ToolkitError.invalidOption("--compress-program", "'\(name)' is not an executable file", fix) }
            return RunStorage(program: name)
        }
        for directory in (System.environment("PATH") ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return RunStorage(program: candidate) }
        }
        throw ToolkitError.invalidOption("--compress-program", "'\(name)' is not found on PATH", fix)
    }

    /// A new run at `path` to write.
    func create(_ path: String) throws -> RunFile {
        let file = try FileHandleFD.creating(path)
        guard let program else { return RunFile(handle: file, child: nil, program: nil) }
        return try piped(program, [], file: file, path: path, writing: true)
    }

    /// The run at `path` to read, from its start.
    func open(_ path: String) throws -> RunFile {
        let file = try FileHandleFD.reading(path)
        guard let program else { return RunFile(handle: file, child: nil, program: nil) }
        return try piped(program, ["-d"], file: file, path: path, writing: false)
    }

    /// `program` between a pipe and `file`: writing, the pipe feeds it and it writes the file; reading, it reads the
    /// file and feeds the pipe. Our end of the pipe is the run's handle; both ends are closed if it cannot start.
    private func piped(_ program: String, _ arguments: [String], file: FileHandleFD, path: String, writing: Bool) throws -> RunFile {
        let (readEnd, writeEnd) = try Self.makePipe(path)
        let (theirs, ours) = writing ? (readEnd, writeEnd) : (writeEnd, readEnd)
        let child: pid_t
        do {
            child = try Self.spawn(
                program, arguments, input: writing ? theirs : file.fd, output: writing ? file.fd : theirs, path: path)
        } catch {
            close(readEnd)
            close(writeEnd)
            throw error
        }
        close(theirs)
        return RunFile(handle: FileHandleFD(fd: ours, path: path), child: child, program: program)
    }

    private static func makePipe(_ path: String) throws -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        // Close-on-exec from the start, so no other run's program (spawned by another thread) holds this pipe open.
        guard pipe2(&ends, O_CLOEXEC) == 0 else { throw ToolkitError.io("make a pipe for", path, errno) }
        return (ends[0], ends[1])
    }

    /// Starts `program arguments` with `input` as its standard input and `output` as its standard output.
    private static func spawn(_ program: String, _ arguments: [String], input: Int32, output: Int32, path: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, program, &actions, nil, argv, environ)
        guard status == 0 else { throw ToolkitError.io("start the compress program \(program) for", path, status) }
        return pid
    }
}

/// One run being written or read: a file, or the pipe to or from its compress program.
final class RunFile {
    let handle: FileHandleFD
    private let child: pid_t?
    private let program: String?

    init(handle: FileHandleFD, child: pid_t?, program: String?) {
        self.handle = handle
        self.child = child
        self.program = program
    }

    /// Runs `body` (writing or reading the run), then ``finish(early:)``. When `body` fails because the program did
    /// (a write into its closed pipe: EPIPE), the program's own failure is the error.
    func finishing<T>(early: Bool = false, _ body: () throws -> T) throws -> T {
        let result: T
        do {
            result = try body()
        } catch {
            try finish(early: true)
            throw error
        }
        try finish(early: early)
        return result
    }

    /// Ends the pipe and waits for the program; a program that failed is an error naming it and its status. A
    /// reader stopped early (`-u`, a cancel) passes `early`, and a program that died of the closed pipe is fine.
    func finish(early: Bool = false) throws {
        guard let child else { return }
        close(handle.fd)
        handle.disown()
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 {
            guard errno == EINTR else { throw ToolkitError.io("wait for the compress program of", handle.path, errno) }
        }
        let exited = status & 0x7F == 0, code = (status >> 8) & 0xFF, signal = status & 0x7F
        if exited && code == 0 { return }
        if early && !exited && signal == SIGPIPE { return }
        throw ToolkitError.refused(
            "the compress program \(program ?? "?") \(exited ? "exited with status \(code)" : "was killed by signal \(signal)") on \(handle.path)")
    }

    deinit {
        // A run abandoned by an error: end the pipe and reap the program so none is left behind.
        if let child, handle.ownsDescriptor {
            close(handle.fd)
            handle.disown()
            var status: Int32 = 0
            _ = waitpid(child, &status, 0)
        }
    }
}
