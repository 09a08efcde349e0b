import AWS
import Crypto
import FathomAPI
import FathomClient
import FathomCore
import FathomStorage
import Foundation
import Testing

/// Task results over the coordinator's 64 KiB: kept in the run's result store (the workspace on the volume, or
/// S3), referenced from the coordinator by url, size and sha256, and reused by a resumed attempt only while they
/// are intact.
@Suite struct TaskResultStoreTests {
    static let resultKiB = 200

    func counts(_ dir: String) -> [String: Int] { ResumeTests().counts(dir) }

    /// Fails the `resumable` flow once (a `fail` file), with a `catalog` task whose result is ~200 KiB.
    func failedRunWithLargeResult(_ stack: DevStack, dir: String) async throws -> (FlowRunID, TaskRunUpdate) {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: dir + "/fail", contents: Data()))
        let first = try await stack.startRun("resumable", ["dir=\(dir)", "resultKiB=\(Self.resultKiB)"])
        #expect(await stack.waitFor(first, .failed, timeout: .seconds(30)))
        let catalog = try #require(try await stack.client.taskRuns(first).first { $0.name == "catalog" })
        return (first, catalog)
    }

    func resume(_ stack: DevStack, _ run: FlowRunID) async throws -> FlowRunID {
        let resumed = try await stack.fathom(["retry", run, "--resume", "--watch"])
        #expect(resumed.exit == 0, "\(resumed.output.suffix(8))")
        return try #require(resumed.output.first { $0.hasPrefix("flow run ") }.map { String($0.split(separator: " ")[2]) })
    }

    func finishLine(_ stack: DevStack, _ run: FlowRunID) async throws -> String? {
        try await stack.client.logs(run, limit: 1000).lines.map(\.message).first { $0.hasPrefix("finished: ") }
    }

    @Test func aLargeResultIsKeptInTheWorkspaceAndReusedOnlyWhileIntact() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
        let dir = stack.directory.path + "/large"
        let (first, catalog) = try await failedRunWithLargeResult(stack, dir: dir)

        // The coordinator holds a reference, not the 200 KiB; the file it names is the result, byte for byte.
        #expect(catalog.state == .completed && catalog.result == nil)
        let reference = try #require(catalog.resultRef, "\(catalog)")
        let path = stack.scratch + "/fathom/runs/\(first)/.fathom-results/\(catalog.id).json"
        #expect(reference.url == URL(fileURLWithPath: path).absoluteString)
        let stored = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(Int64(stored.count) == reference.size && stored.count > Self.resultKiB * 1000)
        #expect(reference.sha256 == Hex.lowercase(SHA256.hash(data: stored)))
        let entries = try JSONDecoder().decode([String].self, from: stored)
        #expect(entries.count == Self.resultKiB && entries.last?.hasPrefix("entry-199-") == true)

        // The run page says where it is.
        let page = try await RawHTTP.send(.GET, stack.url + "/runs/\(first)")
        #expect(page.body.contains("stored at \(reference.url) (\(reference.size) bytes"), "the result cell names the store")

        // A resumed attempt reads it back instead of running catalog again, and finish sees the whole value.
        try FileManager.default.removeItem(atPath: dir + "/fail")
        let second = try await resume(stack, first)
        #expect(counts(dir)["catalog"] == 1, "\(counts(dir))")
        let cached = try #require(try await stack.client.taskRuns(second).first { $0.name == "catalog" })
        #expect(cached.state == .cached && cached.resultRef == reference && cached.cachedFrom == first)
        #expect(try await finishLine(stack, second)?.contains("catalog 200 entries ending entry-199-xx") == true)

        // A result changed on the volume is not trusted: catalog runs again, and says why.
        var tampered = stored
        tampered[tampered.count - 3] = UInt8(ascii: "y")
        try tampered.write(to: URL(fileURLWithPath: path))
        let third = try await resume(stack, second)
        #expect(counts(dir)["catalog"] == 2, "\(counts(dir))")
        var logs = try await stack.client.logs(third, limit: 1000).lines.map(\.message)
        #expect(logs.contains { $0.contains("task 'catalog' runs again: the stored result at \(reference.url) changed since it was written") }, "\(logs)")
        let rewritten = try #require(try await stack.client.taskRuns(third).first { $0.name == "catalog" }?.resultRef)
        #expect(rewritten.url != reference.url, "the new result is the new task run's own file")

        // A result that is gone: the same.
        let rewrittenPath = try #require(URL(string: rewritten.url)?.path)
        try FileManager.default.removeItem(atPath: rewrittenPath)
        let fourth = try await resume(stack, third)
        #expect(counts(dir)["catalog"] == 3)
        logs = try await stack.client.logs(fourth, limit: 1000).lines.map(\.message)
        #expect(logs.contains { $0.contains("task 'catalog' runs again: the stored result \(rewrittenPath) is gone") }, "\(logs)")
        #expect(try await stack.client.taskRuns(fourth).first { $0.name == "catalog" }?.resultRef?.size == reference.size)
    }

    @Test func aLargeResultGoesToS3WhenTheRunSaysSo() async throws {
        let moto = try await MotoServer()
        defer { Task { await moto.stop() } }
        let s3 = S3Client(client: try moto.client())
        try await s3.createBucket("fathom-results")
        let directory = TemporaryDirectory("fathom-results-s3")
        let environment = [
            "AWS_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "test-secret",
            "AWS_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true", "FATHOM_BUNDLE_CACHE": directory.path + "/cache",
            "FATHOM_RESULT_STORE": "s3://fathom-results/flows",
        ]
        let stack = try await DevStack(directory: directory, environment: environment)
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
        let dir = directory.path + "/s3"
        try await moto.startRecording()
        let (first, catalog) = try await failedRunWithLargeResult(stack, dir: dir)
        let reference = try #require(catalog.resultRef, "\(catalog)")
        #expect(reference.url == "s3://fathom-results/flows/\(first)/\(catalog.id).json")
        let object = try await s3.getObjectData(bucket: "fathom-results", key: "flows/\(first)/\(catalog.id).json")
        #expect(Int64(object.count) == reference.size && Hex.lowercase(SHA256.hash(data: object)) == reference.sha256)
        #expect(!FileManager.default.fileExists(atPath: stack.scratch + "/fathom/runs/\(first)/.fathom-results"), "nothing on the volume")

        try FileManager.default.removeItem(atPath: dir + "/fail")
        let second = try await resume(stack, first)
        try await moto.stopRecording()
        #expect(counts(dir)["catalog"] == 1, "read back from S3, not run again")
        #expect(try await finishLine(stack, second)?.contains("catalog 200 entries ending entry-199-xx") == true)
        let check = try await moto.validateRecording()
        #expect(check.ok && check.checked >= 2, "PutObject and GetObject match botocore's S3 model: \(check.report)")

        // The object deleted: the task runs again, and the log names the object.
        try await s3.deleteObject(bucket: "fathom-results", key: "flows/\(first)/\(catalog.id).json")
        let third = try await resume(stack, second)
        #expect(counts(dir)["catalog"] == 2)
        let logs = try await stack.client.logs(third, limit: 1000).lines.map(\.message)
        #expect(logs.contains { $0.contains("task 'catalog' runs again: the stored result \(reference.url) is gone") }, "\(logs)")
    }

    @Test func aBadResultStoreSettingFailsTheRunNamingTheVariable() async throws {
        let directory = TemporaryDirectory("fathom-results-bad")
        let stack = try await DevStack(
            directory: directory,
            environment: ["FATHOM_BUNDLE_CACHE": directory.path + "/cache", "FATHOM_RESULT_STORE": "results-here"])
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
        let run = try await stack.startRun("resumable", ["dir=\(directory.path)/bad"])
        #expect(await stack.waitFor(run, .failed, timeout: .seconds(30)))
        let message = try await stack.client.run(run).stateMessage
        #expect(message.contains("FATHOM_RESULT_STORE='results-here' is not an s3://bucket/prefix URL, an absolute path or 'none'"), "\(message)")
        #expect(message.contains("s3://my-bucket/fathom-results"), "the fix shows a value: \(message)")
    }

    @Test func theDirectoryStoreWritesWholeFilesAndRefusesChangedOnes() async throws {
        let directory = TemporaryDirectory("fathom-result-dir")
        let store = DirectoryResultStore(directory: directory.path + "/results")
        let data = Data(repeating: UInt8(ascii: "a"), count: 100_000)
        let id = Identifier.make()
        let reference = try await store.put(data, taskRunID: id)
        #expect(try await store.get(reference) == data)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path + "/results") == ["\(id).json"], "no partial left")
        // Longer than recorded: refused, not truncated to fit.
        try (data + Data("b".utf8)).write(to: URL(fileURLWithPath: directory.path + "/results/\(id).json"))
        await #expect(throws: TaskResultStoreError.self) { try await store.get(reference) }
        await #expect(throws: TaskResultStoreError.self) { try await store.put(data, taskRunID: "../escape") }
    }
}
