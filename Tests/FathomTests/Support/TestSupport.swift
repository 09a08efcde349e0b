import FathomAPI
import FathomClient
import FathomCLI
import FathomCore
import FathomProcess
import FathomServer
import Foundation
import Logging
import Testing

/// Paths of the executables built beside the test runner.
enum TestPaths {
    static var buildDirectory: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // swift test runs `<build>/FathomPackageTests.xctest`; on some layouts the runner sits one level deeper.
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("fathom").path), directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.path
    }

    static var fathom: String { buildDirectory + "/fathom" }
    static var examples: String { buildDirectory + "/fathom-examples" }
    static var testFlows: String { buildDirectory + "/fathom-test-flows" }
    /// The package's own directory (docs, examples).
    static var repository: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }
}

/// A fresh directory under /tmp, removed when the value is released.
final class TemporaryDirectory: Sendable {
    let path: String

    init(_ label: String = "fathom-test") {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
}

/// Runs `body` against a real coordinator on a free loopback port with a real SQLite file.
func withCoordinator<T>(
    dataDirectory: String? = nil, token: String? = nil, configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (EmbeddedCoordinator, APIClient) async throws -> T
) async throws -> T {
    let temporary = TemporaryDirectory("fathom-server")
    var configuration = ServerConfiguration(dataDirectory: dataDirectory ?? temporary.path)
    configuration.port = 0
    configuration.token = token
    // Tests register flows with no bundle behind them under this URL; nothing ever executes it.
    configuration.coordinator.bundleURLPrefixes = ["file:///nowhere"]
    configure(&configuration)
    var logger = Logger(label: "test.server")
    logger.logLevel = .error
    let coordinator = try await EmbeddedCoordinator.start(configuration: configuration, logger: logger)
    do {
        let result = try await body(coordinator, APIClient(baseURL: coordinator.url, token: token))
        await coordinator.stop()
        return result
    } catch {
        await coordinator.stop()
        throw error
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

/// Registers the test-flows bundle with the coordinator (real upload, real describe).
@discardableResult
func registerTestFlows(_ client: APIClient, bundle: String = TestPaths.testFlows) async throws -> [FlowVersion] {
    try await BundleRegistrar(client: client).register(bundleAt: bundle, runConfig: nil)
}

import FathomStorage

/// The sha256 and size of a file.
enum FathomStorageHash {
    static func of(_ path: String) throws -> (String, Int64) {
        let (sha, size) = try FileHashing.sha256(ofFileAt: path)
        return (sha, size)
    }
}

extension APIClient {
    /// Uploads the bundle file at `path`, streamed as `fathom register` does.
    func uploadBundle(at path: String, sha256: String, size: Int64) async throws -> StoredBundleInfo {
        try await BundleFiles.withChunks(of: path) { chunks, actualSize in
            precondition(actualSize == size, "the test's size is the file's")
            return try await uploadBundle(chunks, size: actualSize, sha256: sha256)
        }
    }
}

/// Runs blocking, CPU-heavy work (the toolkit's synchronous calls, test data) on a thread of its own, so that it
/// does not hold one of the few threads of Swift's cooperative pool that every other test (and every in-process
/// coordinator) shares. By default at the lowest priority too, so that long work does not slow the tests that
/// measure time (threads it starts inherit the priority); `lowestPriority: false` for a few seconds of work under a
/// time limit, which the lowest priority could starve past on a loaded machine (a 1 s cron fuzzer once took 292 s).
func offThePool<T: Sendable>(lowestPriority: Bool = true, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            // On Linux this sets the calling thread's nice value only.
            if lowestPriority { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19) }
            continuation.resume(with: Result { try work() })
        }
    }
}

/// `runCommand` at the lowest priority, for CPU-heavy commands (sorts, compressors).
func runNiced(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> (exit: ChildExit, output: [String]) {
    try await runCommand("/usr/bin/nice", ["-n", "19", executable] + arguments, environment: environment)
}

/// Tests write levels and sources as the wire does; the sources use the named constants.
extension LogLevel: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
}

extension LogSource: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
}
