import AWS
import FathomAPI
import FathomClient
import FathomCore
import FathomProcess
import FathomStorage
import Foundation
import Synchronization

/// Registers a bundle: asks it to describe itself, uploads it by hash, and registers its flows.
public struct BundleRegistrar: Sendable {
    let client: APIClient

    public init(client: APIClient) {
        self.client = client
    }

    /// Runs `BUNDLE describe` and decodes what it prints.
    public static func describe(bundleAt path: String) async throws -> BundleDescription {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw CLIError("bundle '\(path)' is not an executable file. Build it first (swift build) and pass its path.")
        }
        let output = Mutex<[String]>([])
        let exit = try await ChildProcess(executable: path, arguments: ["describe"]).run { stream, line in
            if stream == .stdout { output.withLock { $0.append(line) } }
        }
        guard exit.succeeded else {
            throw CLIError("'\(path) describe' \(exit): \(exit.stderrTail.suffix(3).joined(separator: " | ")). Is it a Fathom flow bundle?")
        }
        let text = output.withLock { $0.joined(separator: "\n") }
        do {
            return try APICoding.decode(BundleDescription.self, from: Data(text.utf8))
        } catch {
            throw CLIError("'\(path) describe' did not print a bundle description: \(error). Is it a Fathom flow bundle?")
        }
    }

    /// Uploads and registers every flow of the bundle at `path`. With `storage` (`s3://bucket/prefix`)
    /// the bundle goes to S3 with this machine's AWS credentials; otherwise to the coordinator's storage.
    public func register(
        bundleAt path: String, runConfig: RunConfig?, labels: [String: String] = [:], queue: String? = nil, storage: String? = nil,
        retryPolicy: RunRetryPolicy? = nil
    ) async throws -> [FlowVersion] {
        let description = try await Self.describe(bundleAt: path)
        let sha256 = try FileHashing.sha256(ofFileAt: path).sha256
        let storageURL: String
        if let storage {
            // A directory here would not be one the agents' machines see: only S3 is shared.
            guard let s3 = try FlowStorages.open(storage) as? S3FlowStorage else {
                throw CLIError("--storage '\(storage)' is not s3://bucket/prefix; leave it out to store bundles in the coordinator")
            }
            let build = ProcessInfo.processInfo.hostName + " " + Date().formatted(.iso8601)
            try await s3.store(fileAt: path, sha256: sha256, metadata: [
                "flows": description.flows.map(\.name).joined(separator: ","), "build": build, "file": URL(fileURLWithPath: path).lastPathComponent,
            ])
            storageURL = s3.url(forSHA256: sha256)
        } else {
            storageURL = try await BundleFiles.withChunks(of: path) { chunks, size in
                try await client.uploadBundle(chunks, size: size, sha256: sha256)
            }.storageURL
        }
        let response = try await client.registerFlows(RegisterFlowsRequest(
            bundleSHA256: sha256, storageURL: storageURL, flows: description.flows, runConfig: runConfig,
            labels: labels, queue: queue, retryPolicy: retryPolicy))
        return response.versions
    }
}
