import FathomCore
import Foundation
import NIOCore

/// Where flow bundles live, addressed by the sha256 of their bytes.
///
/// Implementations: ``LocalFlowStorage`` (a directory, the default); S3 comes behind the same protocol.
public protocol FlowStorage: Sendable {
    /// The URL that names a stored bundle in this storage, e.g. `file:///data/bundles/<sha256>`.
    func url(forSHA256 sha256: String) -> String
    /// Whether a bundle with this hash is stored.
    func contains(sha256: String) async throws -> Bool
    /// The size of a stored bundle, or nil when it is not stored.
    func size(sha256: String) async throws -> Int64?
    /// Stores the file at `path`, whose hash must be `sha256`. Storing the same bundle twice is a no-op.
    func store(fileAt path: String, sha256: String) async throws
    /// Stores a bundle whose bytes arrive in chunks (an upload), checking their size as they come and
    /// their hash at the end; returns the size. Nothing is stored when either is wrong.
    func store(chunks: some AsyncSequence<ByteBuffer, any Error>, sha256: String, maxBytes: Int64) async throws -> Int64
    /// Copies the bundle into `destination`, verifying its hash. Nothing is left at `destination` on a mismatch.
    func fetch(sha256: String, to destination: String) async throws
    /// Calls `body` with the stored bundle's bytes in order, one bounded chunk at a time (a download).
    func read(sha256: String, _ body: (ByteBuffer) async throws -> Void) async throws
    /// Proves a new bundle could be stored now (for `/readyz`).
    func checkWritable() async throws
}

/// A storage failure a user can act on.
extension FlowStorage {
    /// Storages whose writes cannot be probed cheaply (S3: a PUT per probe) only prove they answer.
    public func checkWritable() async throws {
        _ = try await contains(sha256: String(repeating: "0", count: 64))
    }

    /// Storages without a streaming write receive the chunks into a temporary file first.
    public func store(chunks: some AsyncSequence<ByteBuffer, any Error>, sha256: String, maxBytes: Int64) async throws -> Int64 {
        guard StorageError.isValidSHA256(sha256) else { throw StorageError.invalidHash(sha256) }
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("fathom-bundle-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: temporary) }  // a leftover temporary file is not worth a second error
        let (actual, size) = try await BundleFiles.write(chunks, to: temporary, maxBytes: maxBytes)
        guard actual == sha256 else { throw StorageError.hashMismatch(expected: sha256, actual: actual, source: "the upload") }
        try await store(fileAt: temporary, sha256: sha256)
        return size
    }

    /// Storages without a streaming read fetch the bundle into a temporary file first.
    public func read(sha256: String, _ body: (ByteBuffer) async throws -> Void) async throws {
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("fathom-bundle-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: temporary) }  // a leftover temporary file is not worth a second error
        try await fetch(sha256: sha256, to: temporary)
        try await BundleFiles.read(temporary, body)
    }
}

public enum StorageError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The bytes do not hash to what was registered.
    case hashMismatch(expected: String, actual: String, source: String)
    /// No bundle with this hash is stored.
    case missing(sha256: String, location: String)
    /// A malformed sha256.
    case invalidHash(String)
    /// The storage refuses new files.
    case notWritable(String)
    /// More bytes arrived than a bundle may have.
    case tooLarge(maxBytes: Int64)

    public var description: String {
        switch self {
        case .hashMismatch(let expected, let actual, let source):
            return "bundle hash mismatch for \(source): expected sha256 \(expected), got \(actual). The stored bundle was changed or corrupted; register it again."
        case .missing(let sha256, let location):
            return "bundle \(sha256) is not in storage (\(location)). Register the flow again with 'fathom register'."
        case .invalidHash(let text):
            return "'\(text)' is not a sha256: expected 64 lowercase hex characters."
        case .tooLarge(let maxBytes):
            return "the bundle is larger than \(maxBytes) bytes, the most this storage accepts; nothing was stored."
        case .notWritable(let location):
            return "cannot write to the bundle storage \(location): check its permissions, flags (lsattr) and free space."
        }
    }

    /// Whether `text` is a lowercase hex sha256.
    public static func isValidSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
