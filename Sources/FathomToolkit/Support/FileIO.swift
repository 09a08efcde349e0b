#if canImport(Glibc)
import Glibc
#endif

/// An open file descriptor, closed on deinit. Reads and writes retry on EINTR and short counts.
public final class FileHandleFD: @unchecked Sendable {
    public let fd: Int32
    public let path: String
    private(set) var ownsDescriptor: Bool

    init(fd: Int32, path: String, owns: Bool = true) {
        self.fd = fd
        self.path = path
        self.ownsDescriptor = owns
    }

    deinit {
        if ownsDescriptor { close(fd) }
    }

    /// Leaves the descriptor open on deinit (it was closed or handed on elsewhere).
    func disown() {
        ownsDescriptor = false
    }

    /// Opens `path` for reading; `-` is standard input.
    public static func reading(_ path: String) throws -> FileHandleFD {
        if path == "-" { return FileHandleFD(fd: 0, path: "standard input", owns: false) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ToolkitError.io("open", path, errno) }
        return FileHandleFD(fd: fd, path: path)
    }

    /// Creates (or truncates) `path` for writing with mode 0644.
    static func creating(_ path: String, exclusive: Bool = false) throws -> FileHandleFD {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC)
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw ToolkitError.io("create", path, errno) }
        return FileHandleFD(fd: fd, path: path)
    }

    /// Standard output, not closed.
    public static var standardOutput: FileHandleFD { FileHandleFD(fd: 1, path: "standard output", owns: false) }

    /// Reads up to `count` bytes; fewer only at end of input. Returns 0 at end.
    func readFully(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        try repeatCall("read", count: count, stopAtZero: true) { done in read(fd, buffer + done, count - done) }
    }

    /// Reads from `offset` without moving the file position.
    func readFully(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) throws -> Int {
        try repeatCall("read", count: count, stopAtZero: true) { done in
            pread(fd, buffer + done, count - done, off_t(offset + done))
        }
    }

    func writeAll(_ buffer: UnsafeRawPointer, count: Int) throws {
        _ = try repeatCall("write", count: count, stopAtZero: false) { done in write(fd, buffer + done, count - done) }
    }

    /// Writes at `offset` without moving the file position.
    func writeAll(_ buffer: UnsafeRawPointer, count: Int, at offset: Int) throws {
        _ = try repeatCall("write", count: count, stopAtZero: false) { done in
            pwrite(fd, buffer + done, count - done, off_t(offset + done))
        }
    }

    /// Repeats a read or write system call until `count` bytes moved (or, for reads, the end), retrying on EINTR.
    private func repeatCall(_ name: String, count: Int, stopAtZero: Bool, _ call: (Int) -> Int) throws -> Int {
        var done = 0
        while done < count {
            let moved = call(done)
            if moved < 0 {
                if errno == EINTR { continue }
                throw ToolkitError.io(name, path, errno)
            }
            if moved == 0 && stopAtZero { break }
            done += moved
        }
        return done
    }

    /// Size of a regular file, nil for pipes and terminals.
    var regularFileSize: Int? {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    func sync() throws {
        guard fsync(fd) == 0 || errno == EINVAL || errno == EROFS else { throw ToolkitError.io("fsync", path, errno) }
    }
}

/// A write buffer in front of a descriptor: lines are appended, full buffers are written in one call.
/// It can write at a given file offset (`pwrite`), and note where lines start every `sampleEvery` bytes.
final class BufferedWriter {
    let handle: FileHandleFD
    private let capacity: Int
    private let buffer: UnsafeMutableRawPointer
    private var used = 0
    private(set) var bytesWritten = 0
    /// Where the next flush goes with `pwrite`; nil: the descriptor's own position.
    private var position: Int?
    private let sampleEvery: Int
    private var nextSample = 0
    /// Offsets (from the writer's start) of lines that begin at least `sampleEvery` bytes apart.
    private(set) var samples: [Int] = []

    init(handle: FileHandleFD, capacity: Int = 1 << 20, at position: Int? = nil, sampleEvery: Int = 0) {
        self.handle = handle
        self.capacity = capacity
        self.buffer = .allocate(byteCount: capacity, alignment: 64)
        self.position = position
        self.sampleEvery = sampleEvery
        self.nextSample = sampleEvery > 0 ? 0 : .max
    }

    deinit {
        buffer.deallocate()
    }

    @inline(__always)
    func append(_ bytes: UnsafeRawPointer, count: Int) throws {
        if used + count > capacity {
            try flush()
            if count > capacity {
                try put(bytes, count: count)
                bytesWritten += count
                return
            }
        }
        (buffer + used).copyMemory(from: bytes, byteCount: count)
        used += count
        bytesWritten += count
    }

    /// The byte `appendLine` ends a line with (NUL for `sort -z`).
    var lineEnd: UInt8 = 0x0A

    /// Appends a line and its end byte.
    @inline(__always)
    func appendLine(_ bytes: UnsafeRawPointer, count: Int) throws {
        if bytesWritten >= nextSample {
            samples.append(bytesWritten)
            nextSample = bytesWritten + sampleEvery
        }
        if used + count + 1 <= capacity {
            (buffer + used).copyMemory(from: bytes, byteCount: count)
            buffer.storeBytes(of: lineEnd, toByteOffset: used + count, as: UInt8.self)
            used += count + 1
            bytesWritten += count + 1
            return
        }
        try append(bytes, count: count)
        var end = lineEnd
        try append(&end, count: 1)
    }

    func flush() throws {
        if used > 0 { try put(buffer, count: used) }
        used = 0
    }

    private func put(_ bytes: UnsafeRawPointer, count: Int) throws {
        if let offset = position {
            try handle.writeAll(bytes, count: count, at: offset)
            position = offset + count
        } else {
            try handle.writeAll(bytes, count: count)
        }
    }
}

/// A hidden file beside `path`, in the same directory (so it can be renamed onto it): `dir/.NAME<suffix>`.
func hiddenSibling(of path: String, suffix: String) -> String {
    let slash = path.lastIndex(of: "/")
    let directory = slash.map { String(path[...$0]) } ?? ""
    let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
    return "\(directory).\(name)\(suffix)"
}

/// Where a command's result goes: standard output, or a file written under a temporary name in the same
/// directory and renamed into place only when complete, so no reader ever sees a partial file.
public final class AtomicOutput {
    public let finalPath: String?
    let temporaryPath: String?
    public let handle: FileHandleFD
    private var committed = false

    /// - Parameter path: nil (or `-`) for standard output.
    public init(path: String?) throws {
        guard let path, path != "-" else {
            finalPath = nil
            temporaryPath = nil
            handle = .standardOutput
            return
        }
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let name = path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
        var template = Array("\(directory.isEmpty ? "/" : directory)/.\(name).fathom-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw ToolkitError.io("create a temporary file in", directory, errno) }
        fchmod(fd, 0o644)
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        finalPath = path
        temporaryPath = temporary
        handle = FileHandleFD(fd: fd, path: temporary)
    }

    /// Flushes to disk and renames the temporary file to the final name.
    public func commit() throws {
        guard let temporaryPath, let finalPath else { return }
        try handle.sync()
        guard rename(temporaryPath, finalPath) == 0 else { throw ToolkitError.io("rename to", finalPath, errno) }
        committed = true
    }

    deinit {
        if !committed, let temporaryPath { unlink(temporaryPath) }
    }
}

/// A directory for temporary files, removed with everything in it when released unless it is kept (a checkpoint
/// that a later run resumes from).
final class ScratchDirectory {
    let path: String
    /// Whether the directory stays when released.
    var keep = false

    /// A new private directory under `parent`.
    init(under parent: String, prefix: String) throws {
        var template = Array("\(parent)/.\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw ToolkitError.io("create a temporary directory in", parent, errno) }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The directory at `path`, made (mode 0700) when missing; a link or a file there is refused.
    init(named path: String) throws {
        if mkdir(path, 0o700) != 0, errno != EEXIST { throw ToolkitError.io("create a directory at", path, errno) }
        var info = stat()
        guard lstat(path, &info) == 0 else { throw ToolkitError.io("stat", path, errno) }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw ToolkitError.refused("\(path) is not a directory (a link or a file is in the way of a checkpoint)")
        }
        self.path = path
    }

    /// The names in the directory (not `.` and `..`).
    func names() throws -> [String] {
        guard let stream = opendir(path) else { throw ToolkitError.io("list", path, errno) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    deinit {
        if !keep {
            _ = try? TreeRemover.remove(path)  // temporary files: a removal that fails leaves them for the workspace janitor
        }
    }
}

/// Removes a directory tree through descriptors (`openat`, `unlinkat`), never following a symbolic link:
/// a link is removed as a link, so nothing outside the tree can be touched.
enum TreeRemover {
    /// Removes `path` (a file, a link or a directory tree) and returns the bytes freed.
    @discardableResult
    static func remove(_ path: String) throws -> Int {
        let slash = path.lastIndex(of: "/")
        let parentPath = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let parent = open(parentPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else {
            if errno == ENOENT { return 0 }
            throw ToolkitError.io("open", parentPath, errno)
        }
        defer { close(parent) }
        return try remove(named: name, in: parent, path: path)
    }

    /// Removes the entry `name` of the directory open at `parent`.
    static func remove(named name: String, in parent: Int32, path: String) throws -> Int {
        var info = stat()
        guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return 0 }
            throw ToolkitError.io("stat", path, errno)
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            guard unlinkat(parent, name, 0) == 0 else { throw ToolkitError.io("remove", path, errno) }
            return Int(info.st_blocks) * 512
        }
        let directory = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else { throw ToolkitError.io("open", path, errno) }
        var freed = 0
        try DirectoryWalk.entries(of: directory, path: path) { child, childPath, _ in
            freed += try remove(named: child, in: directory, path: childPath)
        }
        close(directory)
        guard unlinkat(parent, name, AT_REMOVEDIR) == 0 else { throw ToolkitError.io("remove", path, errno) }
        return freed
    }
}

/// Lists a directory through its descriptor, with each entry's `lstat` (links are not followed).
enum DirectoryWalk {
    static func entries(of directory: Int32, path: String, _ body: (String, String, stat) throws -> Void) throws {
        let duplicate = dup(directory)
        guard duplicate >= 0, let stream = fdopendir(duplicate) else { throw ToolkitError.io("read directory", path, errno) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(stream)
        for name in names {
            var info = stat()
            guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                if errno == ENOENT { continue }
                throw ToolkitError.io("stat", "\(path)/\(name)", errno)
            }
            try body(name, "\(path)/\(name)", info)
        }
    }
}
