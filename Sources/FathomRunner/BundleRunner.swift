import FathomAPI
import FathomClient
import FathomCore
import AWS
import FathomStorage
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `fathom execute --flow-run ID`: fetches the run's bundle, verifies it, and replaces this
/// process with it (`run --flow-run ID`). Every failure before the flow starts is reported to the
/// coordinator as the run's Crashed reason, not only printed.
public struct BundleRunner: Sendable {
    /// The coordinator the run belongs to.
    public let client: APIClient
    /// The run to execute.
    public let runID: FlowRunID
    /// Verified bundles, one file per sha256, shared by runs.
    public let cacheDirectory: String

    /// A runner for `runID`, caching verified bundles in `cacheDirectory`.
    public init(client: APIClient, runID: FlowRunID, cacheDirectory: String) {
        self.client = client
        self.runID = runID
        self.cacheDirectory = cacheDirectory
    }

    /// `FATHOM_BUNDLE_CACHE`, or `~/.fathom/cache/bundles`.
    public static func defaultCacheDirectory(environment: [String: String]) -> String {
        environment["FATHOM_BUNDLE_CACHE"] ?? (NSHomeDirectory() as NSString).appendingPathComponent(".fathom/cache/bundles")
    }

    /// Does not return on success (the bundle replaces this process); returns an exit code on failure.
    public func run() async -> Int32 {
        let version: FlowVersion
        do {
            version = try await client.version(ofRun: runID)
        } catch {
            return await fail("cannot read flow run \(runID) from the coordinator: \(error)", report: false)
        }
        let path: String
        do {
            path = try await fetch(version)
        } catch {
            return await fail("cannot fetch the flow bundle: \(error)", report: true)
        }
        let arguments = [path, "run", "--flow-run", runID, "--api-url", client.urlList]
        setenv("FATHOM_API_URL", client.urlList, 1)
        setenv("FATHOM_BUNDLE_SHA256", version.bundleSHA256, 1)
        let cArguments = arguments.map { strdup($0) } + [nil]
        execv(path, cArguments)
        let reason = String(cString: strerror(errno))
        return await fail("the flow bundle \(path) is not executable: \(reason)", report: true)
    }

    /// The path of a verified copy of the run's bundle in the cache.
    public func fetch(_ version: FlowVersion) async throws -> String {
        try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        let cached = (cacheDirectory as NSString).appendingPathComponent(version.bundleSHA256)
        // A cached file is only ever created by an atomic rename after its hash was checked.
        if FileManager.default.isExecutableFile(atPath: cached) { return cached }
        if try await FlowStorages.fetchBundle(url: version.storageURL, sha256: version.bundleSHA256, to: cached) { return cached }
        let temporary = cached + ".partial-\(UUID().uuidString)"
        let actual = try await client.downloadBundle(sha256: version.bundleSHA256) { body in
            try await BundleFiles.write(body, to: temporary, permissions: .bundle).sha256
        }
        try BundleFiles.publish(temporary, to: cached, ifItHashes: actual, to: version.bundleSHA256, source: version.storageURL)
        return cached
    }

    private func fail(_ message: String, report: Bool) async -> Int32 {
        FileHandle.standardError.write(Data("fathom execute: \(message)\n".utf8))
        if report {
            _ = try? await client.setState(runID, SetStateRequest(state: .crashed, message: message))  // best effort: the agent crashes the run with these stderr lines when this does not land
        }
        return 70
    }
}
