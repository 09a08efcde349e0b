import FathomAPI
import FathomCore
import Foundation

/// How much disk a run's workspace (`<volume>/fathom/runs/<id>/`) takes on each volume, measured as `du` does:
/// allocated blocks, every file once, links not followed, nothing outside the workspace counted.
enum WorkspaceUsage {
    /// The most entries walked per volume; a bigger workspace is reported as at least the bytes seen.
    static let maxEntries = 2_000_000

    /// Bytes per volume name, for the volumes that have the workspace.
    static func measure(volumes: [String: String], workspaceID: FlowRunID) -> [String: Int64] {
        var usage: [String: Int64] = [:]
        for (name, root) in volumes {
            let directory = "\(root)/fathom/runs/\(workspaceID)"
            var status = stat()
            guard lstat(directory, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else { continue }
            usage[name] = bytes(under: directory)
        }
        return usage
    }

    /// `volume=bytes,…` in name order, as the run's `workspaceBytes` fact.
    static func fact(_ usage: [String: Int64]) -> String {
        usage.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    static func bytes(under root: String) -> Int64 {
        var total: Int64 = 0
        var pending = [root]
        var seen = Set<[UInt64]>()  // (device, inode) of files with several links: counted once
        var entries = 0
        while let directory = pending.popLast(), entries < maxEntries {
            var status = stat()
            if lstat(directory, &status) == 0 { total += Int64(status.st_blocks) * 512 }
            guard let handle = opendir(directory) else { continue }
            defer { closedir(handle) }
            while let entry = readdir(handle), entries < maxEntries {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                entries += 1
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
