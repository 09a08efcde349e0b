import Foundation

/// Bundles in a local directory: `<root>/<sha256>`, written atomically, read-only once stored.
public struct LocalFlowStorage: FlowStorage {
    /// The directory holding the bundles.
    public let root: String

    public init(root: String) throws {
        self.root = root
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    public func url(forSHA256 sha256: String) -> String {
        URL(fileURLWithPath: path(forSHA256: sha256)).absoluteString
    }

    /// The file path of a stored bundle.
    public func path(forSHA256 sha256: String) -> String {
        (root as NSString).appendingPathComponent(sha256)
    }

    /// Creates and removes a probe file in the directory: fails when uploads could not be stored.
    public func checkWritable() async throws {
        let probe = (root as NSString).appendingPathComponent(".probe-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: probe, contents: Data()) else {
            throw StorageError.notWritable(root)
        }
        try FileManager.default.removeItem(atPath: probe)
    }

    public func contains(sha256: String) async throws -> Bool {
        guard StorageError.isValidSHA256(sha256) else { throw StorageError.invalidHash(sha256) }
        return FileManager.default.fileExists(atPath: path(forSHA256: sha256))
    }

    public func store(fileAt source: String, sha256: String) async throws {
        guard StorageError.isValidSHA256(sha256) else { throw StorageError.invalidHash(sha256) }
        if try await contains(sha256: sha256) { return }
        let temporary = (root as NSString).appendingPathComponent(".incoming-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        try FileManager.default.copyItem(atPath: source, toPath: temporary)
        try AtomicFile.publishVerified(temporary, to: path(forSHA256: sha256), sha256: sha256, source: source)
    }

    public func fetch(sha256: String, to destination: String) async throws {
        let source = path(forSHA256: sha256)
        guard try await contains(sha256: sha256) else { throw StorageError.missing(sha256: sha256, location: root) }
        try AtomicFile.copyVerified(from: source, to: destination, sha256: sha256)
    }
}

/// Whole-file writes that never leave a half-written file under the final name.
public enum AtomicFile {
    /// Renames `source` over `destination` in one step.
    public static func rename(_ source: String, to destination: String) throws {
        guard Foundation.rename(source, destination) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: destination, "errno": errno])
        }
    }

    /// Copies `source` to `destination` through a temporary name, checking the copy's sha256 first.
    public static func copyVerified(from source: String, to destination: String, sha256: String, permissions: Int = 0o555) throws {
        let temporary = destination + ".partial-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        try FileManager.default.copyItem(atPath: source, toPath: temporary)
        try publishVerified(temporary, to: destination, sha256: sha256, source: source, permissions: permissions)
    }

    /// Checks that `temporary` hashes to `sha256`, makes it read-only (and executable), and renames
    /// it to `destination`. On a mismatch nothing appears at `destination`.
    public static func publishVerified(
        _ temporary: String, to destination: String, sha256: String, source: String, permissions: Int = 0o555
    ) throws {
        let actual = try FileHashing.sha256(ofFileAt: temporary).sha256
        guard actual == sha256 else { throw StorageError.hashMismatch(expected: sha256, actual: actual, source: source) }
        try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: temporary)
        try rename(temporary, to: destination)
    }
}
