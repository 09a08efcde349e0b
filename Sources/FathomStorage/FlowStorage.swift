import FathomCore
import Foundation

/// Where flow bundles live, addressed by the sha256 of their bytes.
///
/// Implementations: ``LocalFlowStorage`` (a directory, the default); S3 comes behind the same protocol.
public protocol FlowStorage: Sendable {
    /// The URL that names a stored bundle in this storage, e.g. `file:///data/bundles/<sha256>`.
    func url(forSHA256 sha256: String) -> String
    /// Whether a bundle with this hash is stored.
    func contains(sha256: String) async throws -> Bool
    /// Stores the file at `path`, whose hash must be `sha256`. Storing the same bundle twice is a no-op.
    func store(fileAt path: String, sha256: String) async throws
    /// Copies the bundle into `destination`, verifying its hash. Nothing is left at `destination` on a mismatch.
    func fetch(sha256: String, to destination: String) async throws
    /// Proves a new bundle could be stored now (for `/readyz`).
    func checkWritable() async throws
}

/// A storage failure a user can act on.
extension FlowStorage {
    /// Storages whose writes cannot be probed cheaply (S3: a PUT per probe) only prove they answer.
    public func checkWritable() async throws {
        _ = try await contains(sha256: String(repeating: "0", count: 64))
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

    public var description: String {
        switch self {
        case .hashMismatch(let expected, let actual, let source):
            return "bundle hash mismatch for \(source): expected sha256 \(expected), got \(actual). The stored bundle was changed or corrupted; register it again."
        case .missing(let sha256, let location):
            return "bundle \(sha256) is not in storage (\(location)). Register the flow again with 'fathom register'."
        case .invalidHash(let text):
            return "'\(text)' is not a sha256: expected 64 lowercase hex characters."
        case .notWritable(let location):
            return "cannot write to the bundle storage \(location): check its permissions, flags (lsattr) and free space."
        }
    }

    /// Whether `text` is a lowercase hex sha256.
    public static func isValidSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
