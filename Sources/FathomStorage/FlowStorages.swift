import AWS
import FathomCore
import Foundation

/// The one door from a URL to bundle storage: the coordinator's storage root, the runner's bundle,
/// the registrar's S3 prefix all go through here, so a new kind of storage is added in one place.
public enum FlowStorages {
    /// The storage rooted at `url`: `s3://bucket/prefix` (the standard AWS credential chain), or
    /// `file:///path` / `/path` (a directory). Nil when the URL is neither.
    public static func open(_ url: String) throws -> (any FlowStorage)? {
        switch StorageLocation(url) {
        case .s3(let bucket, let prefix)?:
            return S3FlowStorage(bucket: bucket, prefix: prefix, client: try defaultAWSClient())
        case .local(let path)?:
            return try LocalFlowStorage(root: path)
        case nil:
            return nil
        }
    }

    /// Copies the bundle that `url` names (one object, not a root) to `destination`, verified against
    /// `sha256`. False when this process cannot read the URL itself (a path on the coordinator's disk):
    /// the coordinator serves it then.
    public static func fetchBundle(url: String, sha256: String, to destination: String) async throws -> Bool {
        switch StorageLocation(url) {
        case .local(let path)? where FileManager.default.fileExists(atPath: path):
            try await BundleFiles.copyVerified(from: path, to: destination, sha256: sha256, permissions: .bundle)
            return true
        case .s3(let bucket, let key)?:
            try await S3FlowStorage.download(s3: S3Client(client: try defaultAWSClient()), bucket: bucket, key: key, sha256: sha256, to: destination)
            return true
        default:
            return false
        }
    }

    /// An AWS client with the standard credential chain and the environment's region and endpoints.
    public static func defaultAWSClient() throws -> AWSClient {
        AWSClient(configuration: try AWSConfiguration(), credentials: CredentialChain.standard())
    }
}

/// Where a storage URL points.
public enum StorageLocation: Equatable, Sendable {
    case local(path: String)
    case s3(bucket: String, key: String)

    /// Parses `file:///path`, a plain path, or `s3://bucket/key-or-prefix`.
    public init?(_ url: String) {
        if url.hasPrefix("s3://") {
            let rest = url.dropFirst(5)
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            guard slash != rest.startIndex else { return nil }
            let key = slash == rest.endIndex ? "" : String(rest[rest.index(after: slash)...])
            self = .s3(bucket: String(rest[..<slash]), key: key)
        } else if let parsed = URL(string: url), parsed.isFileURL {
            self = .local(path: parsed.path)
        } else if url.hasPrefix("/") {
            self = .local(path: url)
        } else {
            return nil
        }
    }
}
