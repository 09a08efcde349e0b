import Foundation

#if canImport(Glibc)
import Glibc
#endif
import NIOCore

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

    public func size(sha256: String) async throws -> Int64? {
        guard StorageError.isValidSHA256(sha256) else { throw StorageError.invalidHash(sha256) }
        return try await BundleFiles.size(ofFileAt: path(forSHA256: sha256))
    }

    public func store(fileAt source: String, sha256: String) async throws {
        guard StorageError.isValidSHA256(sha256) else { throw StorageError.invalidHash(sha256) }
        if try await contains(sha256: sha256) { return }
        try await BundleFiles.copyVerified(from: source, to: path(forSHA256: sha256), sha256: sha256, permissions: .bundle)
    }

    /// Streams the chunks into a new file beside the bundles and renames it into place once its hash
    /// is checked: no copy, no second read.
    public func store(chunks: some AsyncSequence<ByteBuffer, any Error>, sha256: String, maxBytes: Int64) async throws -> Int64 {
        guard StorageError.isValidSHA256(sha256) else { throw StorageError.invalidHash(sha256) }
        let temporary = (root as NSString).appendingPathComponent(".incoming-\(UUID().uuidString)")
        let (actual, size) = try await BundleFiles.write(chunks, to: temporary, maxBytes: maxBytes, permissions: .bundle)
        try BundleFiles.publish(temporary, to: path(forSHA256: sha256), ifItHashes: actual, to: sha256, source: "the upload")
        return size
    }

    public func fetch(sha256: String, to destination: String) async throws {
        guard try await contains(sha256: sha256) else { throw StorageError.missing(sha256: sha256, location: root) }
        try await BundleFiles.copyVerified(from: path(forSHA256: sha256), to: destination, sha256: sha256, permissions: .bundle)
    }

    /// Streams the stored file itself: it was verified when it was stored and is read-only since.
    public func read(sha256: String, _ body: (ByteBuffer) async throws -> Void) async throws {
        guard try await contains(sha256: sha256) else { throw StorageError.missing(sha256: sha256, location: root) }
        try await BundleFiles.read(path(forSHA256: sha256), body)
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

    /// Writes `data` beside `path`, flushes it, and renames it into place.
    public static func writeDurably(_ data: Data, to path: String) throws {
        let temporary = path + ".partial"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TaskResultStoreError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var failure: String?
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count, failure == nil {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno != EINTR { failure = "cannot write \(temporary): \(String(cString: strerror(errno)))" }
                } else {
                    offset += written
                }
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = "cannot flush \(temporary): \(String(cString: strerror(errno)))" }
        close(fd)
        if failure == nil, Foundation.rename(temporary, path) != 0 { failure = "cannot rename \(temporary) into place: \(String(cString: strerror(errno)))" }
        if let failure {
            unlink(temporary)
            throw TaskResultStoreError(failure)
        }
    }
}
