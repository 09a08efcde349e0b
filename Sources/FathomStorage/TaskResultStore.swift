import AWS
import Crypto
import FathomAPI
import FathomCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where a run keeps task results too large for the coordinator: a directory on a volume, or an S3 prefix.
/// The coordinator records a ``TaskResultReference`` (url, size, sha256) in their place.
public protocol TaskResultStore: Sendable {
    /// Where results go, as a user would write it (`/mnt/efs/…` or `s3://bucket/prefix`).
    var location: String { get }
    /// Stores `data` as the result of `taskRunID` and returns its reference.
    func put(_ data: Data, taskRunID: TaskRunID) async throws -> TaskResultReference
    /// The stored result, checked against the reference's size and sha256.
    func get(_ reference: TaskResultReference) async throws -> Data
}

/// A stored result that cannot be used: gone, changed, or unreadable.
public struct TaskResultStoreError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Results larger than this are not stored at all (the task still completes; a resumed attempt runs it again).
public enum TaskResultLimits {
    /// Results up to this size as JSON go to the coordinator itself.
    public static let inline = 64 << 10
    /// Results up to this size go to the result store.
    public static let stored = 256 << 20
}

extension TaskResultStore {
    /// Checks fetched bytes against what the reference recorded.
    func verified(_ data: Data, _ reference: TaskResultReference) throws -> Data {
        guard Int64(data.count) == reference.size else {
            throw TaskResultStoreError("the stored result at \(reference.url) is \(data.count) bytes, not the \(reference.size) recorded")
        }
        guard Hex.lowercase(SHA256.hash(data: data)) == reference.sha256 else {
            throw TaskResultStoreError("the stored result at \(reference.url) changed since it was written (its sha256 differs)")
        }
        return data
    }

    func reference(_ url: String, _ data: Data) -> TaskResultReference {
        TaskResultReference(url: url, size: Int64(data.count), sha256: Hex.lowercase(SHA256.hash(data: data)))
    }
}

/// Results as files in a directory (a run's workspace on a volume, or a shared path): `<directory>/<task run>.json`,
/// each written aside, flushed and renamed, so a reader finds a whole result or none.
public struct DirectoryResultStore: TaskResultStore {
    public let directory: String
    public var location: String { directory }

    public init(directory: String) {
        self.directory = directory
    }

    public func put(_ data: Data, taskRunID: TaskRunID) async throws -> TaskResultReference {
        guard Identifier.isValid(taskRunID) else { throw TaskResultStoreError("'\(taskRunID)' is not a task run id") }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + taskRunID + ".json"
        try AtomicFile.writeDurably(data, to: path)
        return reference(URL(fileURLWithPath: path).absoluteString, data)
    }

    public func get(_ reference: TaskResultReference) async throws -> Data {
        guard let url = URL(string: reference.url), url.isFileURL else {
            throw TaskResultStoreError("\(reference.url) is not a file URL")
        }
        let path = url.path
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw TaskResultStoreError("the stored result \(path) is gone")
        }
        defer { try? handle.close() }  // read-only: nothing is lost if close fails
        guard reference.size <= Int64(TaskResultLimits.stored) else {
            throw TaskResultStoreError("the stored result \(path) is recorded as \(reference.size) bytes, over the \(TaskResultLimits.stored >> 20) MiB limit")
        }
        let data = try handle.read(upToCount: Int(reference.size) + 1) ?? Data()
        return try verified(data, reference)
    }
}

/// Results as S3 objects: `s3://bucket/prefix/<flow run>/<task run>.json`.
public struct S3ResultStore: TaskResultStore {
    public let s3: S3Client
    public let bucket: String
    /// The key prefix, ending in `/` unless empty.
    public let prefix: String
    public var location: String { "s3://\(bucket)/\(prefix)" }

    public init(s3: S3Client, bucket: String, prefix: String) {
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
    }

    public func put(_ data: Data, taskRunID: TaskRunID) async throws -> TaskResultReference {
        guard Identifier.isValid(taskRunID) else { throw TaskResultStoreError("'\(taskRunID)' is not a task run id") }
        let key = prefix + taskRunID + ".json"
        try await s3.putObject(bucket: bucket, key: key, data: data, contentType: "application/json")
        return reference("s3://\(bucket)/\(key)", data)
    }

    public func get(_ reference: TaskResultReference) async throws -> Data {
        guard case .s3(let bucket, let key)? = StorageLocation(reference.url), !key.isEmpty else {
            throw TaskResultStoreError("\(reference.url) is not an s3://bucket/key URL")
        }
        let data: Data
        do {
            data = try await s3.getObjectData(bucket: bucket, key: key)
        } catch let error as AWSError where error.serviceError?.httpStatus == 404 {
            throw TaskResultStoreError("the stored result \(reference.url) is gone")
        }
        return try verified(data, reference)
    }
}

/// The result store a run uses, from `FATHOM_RESULT_STORE`.
public enum TaskResultStores {
    public static let variable = "FATHOM_RESULT_STORE"

    /// `FATHOM_RESULT_STORE` as a store for run `runID`:
    /// - `s3://bucket/prefix`: objects under `prefix/<run>/`;
    /// - an absolute path (or `file:///path`): files under `path/<run>/`;
    /// - `none`: large results are not kept;
    /// - unset: files in `.fathom-results/` of the run's workspace (`defaultDirectory`), when it has one.
    public static func store(
        setting: String?, runID: FlowRunID, defaultDirectory: @autoclosure () -> String?,
        aws: () throws -> AWSClient
    ) throws(ValidationError) -> (any TaskResultStore)? {
        guard let setting = setting?.trimmingCharacters(in: .whitespaces), !setting.isEmpty else {
            return defaultDirectory().map { DirectoryResultStore(directory: $0) }
        }
        if setting == "none" { return nil }
        switch StorageLocation(setting) {
        case .s3(let bucket, let key)?:
            let client: AWSClient
            do {
                client = try aws()
            } catch {
                throw invalid(setting, "cannot set up the AWS client for it: \(error)", fix: "Give the run AWS credentials and a region.")
            }
            let prefix = key.isEmpty || key.hasSuffix("/") ? key : key + "/"
            return S3ResultStore(s3: S3Client(client: client), bucket: bucket, prefix: prefix + runID + "/")
        case .local(let path)? where path.hasPrefix("/"):
            let root = path.hasSuffix("/") ? String(path.dropLast()) : path
            return DirectoryResultStore(directory: root + "/" + runID)
        default:
            throw invalid(setting, "is not an s3://bucket/prefix URL, an absolute path or 'none'", fix: "Set e.g. s3://my-bucket/fathom-results or /mnt/efs/results.")
        }
    }

    /// Reads a stored result wherever its reference points: with `store` when it is the S3 store the reference
    /// is in, else with a file read or an S3 client from the standard credential chain.
    public static func fetch(_ reference: TaskResultReference, store: (any TaskResultStore)?) async throws -> Data {
        if reference.url.hasPrefix("file:") { return try await DirectoryResultStore(directory: "/").get(reference) }
        if let s3 = store as? S3ResultStore { return try await s3.get(reference) }
        return try await S3ResultStore(s3: S3Client(client: try FlowStorages.defaultAWSClient()), bucket: "", prefix: "").get(reference)
    }

    static func invalid(_ setting: String, _ problem: String, fix: String) -> ValidationError {
        ValidationError(code: "invalid_result_store", field: variable, problem: "\(variable)='\(setting.prefix(200))' \(problem)", fix: fix)
    }
}
