import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A path from a parameter or a request, kept inside its root (a volume, a workspace).
///
/// `..` that climbs out, an absolute path elsewhere, and a symbolic link on the way that leads out are
/// refused with an error naming the field. The check resolves the links of the part that exists now.
public enum ConfinedPath {
    /// `path` (relative to `root`, or absolute inside it) as an absolute path under `root`.
    public static func resolve(_ path: String, under root: String, field: String) throws -> String {
        guard !path.contains("\0") else {
            throw ValidationError(code: "invalid_path", field: field, problem: "the path has a NUL byte", fix: "Give a plain path inside \(root).")
        }
        let rootPath = lexical(root)
        let candidate = lexical(path.hasPrefix("/") ? path : rootPath + "/" + path)
        guard isInside(candidate, rootPath) else {
            throw ValidationError(
                code: "path_outside_root", field: field, problem: "'\(path)' leads outside \(rootPath)",
                fix: "Give a path inside it, without '..' that climbs out (e.g. 'hello' or 'data/in.txt').")
        }
        let realRoot = realPath(rootPath) ?? rootPath
        let realCandidate = resolvedExistingPrefix(candidate)
        guard isInside(realCandidate, realRoot) else {
            throw ValidationError(
                code: "path_outside_root", field: field, problem: "'\(path)' passes through a symbolic link to \(realCandidate), outside \(rootPath)",
                fix: "Remove the link, or give a path that stays inside \(rootPath).")
        }
        return candidate
    }

    /// `/a/./b/../c` → `/a/c`, without touching the file system; `..` above `/` stays at `/`.
    static func lexical(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    static func isInside(_ path: String, _ root: String) -> Bool {
        root == "/" || path == root || path.hasPrefix(root + "/")
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The real path of the longest existing prefix of `path`, with the rest appended.
    static func resolvedExistingPrefix(_ path: String) -> String {
        var existing = path
        var rest: [String] = []
        while existing != "/" {
            if let real = realPath(existing) { return lexical(([real] + rest.reversed()).joined(separator: "/")) }
            rest.append((existing as NSString).lastPathComponent)
            existing = (existing as NSString).deletingLastPathComponent
        }
        return lexical("/" + rest.reversed().joined(separator: "/"))
    }
}
