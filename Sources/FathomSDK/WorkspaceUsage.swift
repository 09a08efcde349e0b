import FathomAPI
import FathomCore
import Foundation

/// How much disk a run's workspace (`<volume>/fathom/runs/<id>/`) takes on each volume, measured as `du` does:
/// allocated blocks, every file once, links not followed, nothing outside the workspace counted.
enum WorkspaceUsage {
    /// The most entries walked per volume, and the longest a volume's walk may take (a network volume answers each
    /// entry in a millisecond or more): a workspace past either is not measured, rather than measured wrong, and the
    /// run's final state is not held up by it.
    static let maxEntries = 2_000_000
    static let timeLimit: Duration = .seconds(20)

    /// Bytes per volume name, for the volumes that have the workspace; `unmeasured` names those too large to walk.
    static func measure(volumes: [String: String], workspaceID: FlowRunID) -> (usage: [String: Int64], unmeasured: [String]) {
        var usage: [String: Int64] = [:], unmeasured: [String] = []
        for (name, root) in volumes.sorted(by: { $0.key < $1.key }) {
            let directory = "\(root)/fathom/runs/\(workspaceID)"
            var status = stat()
            guard lstat(directory, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else { continue }
            if let bytes = bytes(under: directory, until: ContinuousClock.now + timeLimit) {
                usage[name] = bytes
            } else {
                unmeasured.append(name)
            }
        }
        return (usage, unmeasured)
    }

    /// `volume=bytes,…` in name order, as the run's `workspaceBytes` fact.
    static func fact(_ usage: [String: Int64]) -> String {
        usage.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// The bytes under `root`; nil when the walk passes ``maxEntries`` or `deadline`.
    static func bytes(under root: String, until deadline: ContinuousClock.Instant) -> Int64? {
        var total: Int64 = 0
        var pending = [root]
        var seen = Set<[UInt64]>()  // (device, inode) of files with several links: counted once
        var entries = 0
        while let directory = pending.popLast() {
            guard entries < maxEntries, ContinuousClock.now < deadline else { return nil }
            var status = stat()
            if lstat(directory, &status) == 0 { total += Int64(status.st_blocks) * 512 }
            guard let handle = opendir(directory) else { continue }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                entries += 1
                if entries % 1024 == 0, entries >= maxEntries || ContinuousClock.now >= deadline { return nil }
                let path = directory + "/" + name
                var item = stat()
                guard lstat(path, &item) == 0 else { continue }
                switch item.st_mode & S_IFMT {
                case S_IFDIR:
                    pending.append(path)
                default:
                    if item.st_nlink > 1, !seen.insert([UInt64(item.st_dev), UInt64(item.st_ino)]).inserted { continue }
                    total += Int64(item.st_blocks) * 512
                }
            }
        }
        return total
    }
}
