import AWS
import Foundation

/// Bundles in S3: `s3://bucket/prefix/bundles/<sha256>`, with the hash in the object's metadata.
/// Storing a bundle that is already there uploads nothing; every fetch is verified.
public struct S3FlowStorage: FlowStorage {
    public let bucket: String
    /// The key prefix, without leading or trailing slashes (may be empty).
    public let prefix: String
    let s3: S3Client

    public init(bucket: String, prefix: String, client: AWSClient) {
        self.bucket = bucket
        self.prefix = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.s3 = S3Client(client: client)
    }

    /// The object key of a bundle.
    public func key(forSHA256 sha256: String) -> String {
        (prefix.isEmpty ? "" : prefix + "/") + "bundles/" + sha256
    }

    public func url(forSHA256 sha256: String) -> String {
        "s3://\(bucket)/\(key(forSHA256: sha256))"
    }

    public func contains(sha256: String) async throws -> Bool {
        guard StorageError.isValidSHA256(sha256) else { throw StorageError.invalidHash(sha256) }
        return try await s3.headObject(bucket: bucket, key: key(forSHA256: sha256))?.metadata["sha256"] == sha256
    }

    public func size(sha256: String) async throws -> Int64? {
        guard StorageError.isValidSHA256(sha256) else { throw StorageError.invalidHash(sha256) }
        guard let object = try await s3.headObject(bucket: bucket, key: key(forSHA256: sha256)), object.metadata["sha256"] == sha256 else {
            return nil
        }
        return object.size
    }

    public func store(fileAt path: String, sha256: String) async throws {
        try await store(fileAt: path, sha256: sha256, metadata: [:])
    }

    /// Stores a bundle with extra object metadata (e.g. `flows`, `build`); a no-op when it is already there.
    public func store(fileAt path: String, sha256: String, metadata: [String: String]) async throws {
        if try await contains(sha256: sha256) { return }
        let actual = try FileHashing.sha256(ofFileAt: path).sha256
        guard actual == sha256 else { throw StorageError.hashMismatch(expected: sha256, actual: actual, source: path) }
        try await s3.putObject(
            bucket: bucket, key: key(forSHA256: sha256), fromFile: path, metadata: metadata.merging(["sha256": sha256]) { _, ours in ours })
    }

    public func fetch(sha256: String, to destination: String) async throws {
        try await Self.download(s3: s3, bucket: bucket, key: key(forSHA256: sha256), sha256: sha256, to: destination)
    }

    /// Downloads `s3://bucket/key` into `destination` if it hashes to `sha256`; nothing is left there otherwise.
    public static func download(s3: S3Client, bucket: String, key: String, sha256: String, to destination: String) async throws {
        let temporary = destination + ".partial-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        do {
            try await s3.getObject(bucket: bucket, key: key, toFile: temporary)
        } catch let error as AWSError where error.serviceError?.code == "NoSuchKey" || error.serviceError?.httpStatus == 404 {
            throw StorageError.missing(sha256: sha256, location: "s3://\(bucket)/\(key)")
        }
        try AtomicFile.publishVerified(temporary, to: destination, sha256: sha256, source: "s3://\(bucket)/\(key)")
    }
}

extension S3FlowStorage {
    /// What storing and serving bundles sends (a coordinator with `--storage s3://…`, `fathom register --storage`):
    /// the IAM policies `fathom infra` writes are made from this list.
    public static let storingOperations: Set<AWSOperation> = [
        AWSOperation.S3.headObject, AWSOperation.S3.putObject, AWSOperation.S3.createMultipartUpload, AWSOperation.S3.uploadPart,
        AWSOperation.S3.completeMultipartUpload, AWSOperation.S3.abortMultipartUpload, AWSOperation.S3.getObject,
    ]

    /// What fetching a bundle sends (`fathom execute` in a flow's task).
    public static let fetchingOperations: Set<AWSOperation> = [AWSOperation.S3.getObject]
}
