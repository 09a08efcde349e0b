import FathomCore
#if canImport(Glibc)
import Glibc
#endif

/// One run's workspace, `<volume>/fathom/runs/<run id>/`.
public struct RunWorkspace: Sendable, Equatable {
    public var runID: String
    public var path: String
    /// Seconds since the epoch of the newest change anywhere inside it.
    public var lastModified: Double
    /// Bytes on disk.
    public var bytes: Int
}

/// What a collection found and did.
public struct CollectionReport: Sendable {
    public var removed: [RunWorkspace] = []
    public var keptActive: [RunWorkspace] = []
    public var keptRecent: [RunWorkspace] = []
    /// Entries of the workspace root that are not run workspaces (files, links, other names), never touched.
    public var ignored: [String] = []
    public var bytesFreed = 0
}

/// Removes expired run workspaces from a volume, and nothing else.
///
/// Only directories named like run ids directly under `<volume>/fathom/runs` are candidates. The root is opened
/// component by component without following links, and every removal goes through descriptors without following
/// links, so a symbolic link (to `/`, to another run, anywhere) is at most removed as a link, never followed.
/// Workspaces of active runs are kept whatever their age.
public struct WorkspaceCollector: Sendable {
    public let volumePath: String

    public init(volumePath: String) {
        self.volumePath = volumePath
    }

    public var workspaceRoot: String { volumePath + "/fathom/runs" }

    /// Whether a directory name is a run id (a lowercase UUID).
    public static func isRunID(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.count == 36 else { return false }
        return bytes.enumerated().allSatisfy { index, byte in
            [8, 13, 18, 23].contains(index) ? byte == 0x2D : (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte)
        }
    }

    /// Lists the run workspaces with their age and size.
    public func scan() throws -> (workspaces: [RunWorkspace], ignored: [String]) {
        guard let root = try openRoot() else { return ([], []) }
        defer { close(root) }
        var workspaces: [RunWorkspace] = []
        var ignored: [String] = []
        try DirectoryWalk.entries(of: root, path: workspaceRoot) { name, path, info in
            guard (info.st_mode & S_IFMT) == S_IFDIR, Self.isRunID(name) else {
                ignored.append(name)
                return
            }
            let directory = openat(root, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard directory >= 0 else { throw ToolkitError.io("open", path, errno) }
            defer { close(directory) }
            var newest = Double(info.st_mtim.tv_sec)
            var bytes = 0
            try Self.measure(directory, path: path, newest: &newest, bytes: &bytes)
            workspaces.append(RunWorkspace(runID: name, path: path, lastModified: newest, bytes: bytes))
        }
        return (workspaces.sorted { $0.lastModified < $1.lastModified }, ignored.sorted())
    }

    /// Removes workspaces unchanged for `olderThan` seconds whose run is not in `activeRuns`.
    public func collect(olderThan seconds: Double, activeRuns: Set<String>, now: Double? = nil, dryRun: Bool = false) throws -> CollectionReport {
        let clock = now ?? Double(time(nil))
        let (workspaces, ignored) = try scan()
        var report = CollectionReport(ignored: ignored)
        guard !workspaces.isEmpty, let root = try openRoot() else { return report }
        defer { close(root) }
        for workspace in workspaces {
            if activeRuns.contains(workspace.runID) {
                report.keptActive.append(workspace)
            } else if clock - workspace.lastModified < seconds {
                report.keptRecent.append(workspace)
            } else {
                if !dryRun { _ = try TreeRemover.remove(named: workspace.runID, in: root, path: workspace.path) }
                report.removed.append(workspace)
                report.bytesFreed += workspace.bytes
            }
        }
        return report
    }

    /// Opens `<volume>/fathom/runs` one component at a time, refusing links; nil when it does not exist.
    private func openRoot() throws -> Int32? {
        var volumeInfo = stat()
        guard stat(volumePath, &volumeInfo) == 0, (volumeInfo.st_mode & S_IFMT) == S_IFDIR else {
            throw ToolkitError.refused("volume path \(volumePath) is not a directory; check --volume")
        }
        var current = open(volumePath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard current >= 0 else { throw ToolkitError.io("open", volumePath, errno) }
        var path = volumePath
        for component in ["fathom", "runs"] {
            path += "/" + component
            let next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let failure = errno
            close(current)
            if next < 0 {
                if failure == ENOENT { return nil }
                if failure == ELOOP || failure == ENOTDIR {
                    throw ToolkitError.refused("\(path) is a symbolic link or not a directory; refusing to collect through it")
                }
                throw ToolkitError.io("open", path, failure)
            }
            current = next
        }
        return current
    }

    private static func measure(_ directory: Int32, path: String, newest: inout Double, bytes: inout Int) throws {
        try DirectoryWalk.entries(of: directory, path: path) { name, childPath, info in
            newest = max(newest, Double(info.st_mtim.tv_sec))
            bytes += Int(info.st_blocks) * 512
            guard (info.st_mode & S_IFMT) == S_IFDIR else { return }
            let child = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { throw ToolkitError.io("open", childPath, errno) }
            defer { close(child) }
            try measure(child, path: childPath, newest: &newest, bytes: &bytes)
        }
    }
}

/// Durations written as `7d`, `12h`, `30m`, `90s` or a bare number of seconds.
public enum AgeParser {
    public static func seconds(_ text: String, field: String) throws -> Double {
        guard let seconds = DurationText.seconds(text) else {
            throw ToolkitError.invalidOption(field, "'\(text)' is not a duration", "write a number with s, m, h, d or w, e.g. 7d or 12h")
        }
        return seconds
    }
}
