import AWS
import FathomAPI
import FathomClient
import FathomCore
import FathomStorage
import Foundation
import Testing

/// Bundles stored in S3 (moto) and fetched, verified, by `fathom execute`.
@Suite(.serialized)
struct S3StorageTests {
    @Test func bundlesInS3AreUploadedOnceVerifiedOnEveryFetchAndFailuresCrashTheRun() async throws {
        let moto = try await MotoServer()
        defer { Task { await moto.stop() } }
        let aws = try moto.client()
        let s3 = S3Client(client: aws)
        try await s3.createBucket("fathom-bundles")
        let directory = TemporaryDirectory("fathom-s3")
        let cache = directory.path + "/cache"
        let environment = [
            "AWS_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true", "FATHOM_BUNDLE_CACHE": cache,
        ]
        let dev = BackgroundProcess(
            TestPaths.fathom, ["dev", "--port", "0", "--data-dir", directory.path + "/.fathom", "--allow-bundle-prefix", "s3://fathom-bundles/flows/"],
            environment: environment)
        defer { Task { await dev.stop() } }
        let url = try #require(BackgroundProcess.url(in: try await dev.waitForLine { $0.contains("coordinator on http://") }))
        let api = APIClient(baseURL: url)
        var cli = environment
        cli["FATHOM_API_URL"] = url

        // A prefix the server was not told to allow is refused, with the flag that allows it.
        let refused = try await runCommand(TestPaths.fathom, ["register", TestPaths.examples, "--storage", "s3://fathom-bundles/other"], environment: cli)
        #expect(refused.exit.exitCode == 1)
        #expect(refused.output.contains { $0.contains("--allow-bundle-prefix s3://fathom-bundles/other/") }, "\(refused.output)")

        let first = try await runCommand(TestPaths.fathom, ["register", TestPaths.examples, "--storage", "s3://fathom-bundles/flows"], environment: cli)
        #expect(first.exit.exitCode == 0, "\(first.output)")
        let (sha, _) = try FathomStorageHash.of(TestPaths.examples)
        let key = "flows/bundles/\(sha)"
        #expect(first.output.contains { $0.contains("stored at s3://fathom-bundles/\(key)") })
        let stored = try await s3.headObject(bucket: "fathom-bundles", key: key)
        #expect(stored?.metadata["sha256"] == sha)
        #expect(stored?.metadata["flows"] == "hello,sort-compress,volume-janitor")

        try await moto.startRecording()
        let second = try await runCommand(TestPaths.fathom, ["register", TestPaths.examples, "--storage", "s3://fathom-bundles/flows"], environment: cli)
        #expect(second.exit.exitCode == 0)
        try await moto.stopRecording()
        let recording = (try? String(contentsOfFile: moto.recordingPath, encoding: .utf8)) ?? ""
        #expect(!recording.contains("\"method\": \"PUT\""), "the second registration uploads nothing")

        let run = try await runCommand(TestPaths.fathom, ["run", "hello", "--watch"], environment: cli)
        #expect(run.exit.exitCode == 0, "the runner fetched the bundle from S3: \(run.output.suffix(5))")

        // Two runs at once, with an empty cache: both fetch, both complete, one intact copy remains.
        try? FileManager.default.removeItem(atPath: cache)
        let a = try await api.createRun(CreateFlowRunRequest(flow: "hello"))
        let b = try await api.createRun(CreateFlowRunRequest(flow: "hello"))
        for id in [a.id, b.id] {
            #expect(await eventually(timeout: .seconds(60)) { (try? await api.run(id).state) == .completed })
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache) == [sha])
        #expect(try FathomStorageHash.of(cache + "/" + sha).0 == sha)

        // A tampered object: the run crashes with both hashes named, and the tampered bytes never run.
        let marker = directory.path + "/tampered-ran"
        let tampered = directory.file("tampered.sh")
        try "#!/bin/sh\ntouch '\(marker)'\n".write(toFile: tampered, atomically: true, encoding: .utf8)
        try await s3.putObject(bucket: "fathom-bundles", key: key, fromFile: tampered, metadata: ["sha256": sha])
        try? FileManager.default.removeItem(atPath: cache)
        let bad = try await api.createRun(CreateFlowRunRequest(flow: "hello"))
        #expect(await eventually(timeout: .seconds(30)) { (try? await api.run(bad.id).state) == .crashed })
        let badRun = try await api.run(bad.id)
        #expect(badRun.stateMessage.contains("hash mismatch"), "\(badRun.stateMessage)")
        #expect(badRun.stateMessage.contains(sha))
        #expect(!FileManager.default.fileExists(atPath: marker), "the tampered binary never ran")

        // A missing object.
        try await s3.deleteObject(bucket: "fathom-bundles", key: key)
        let missing = try await api.createRun(CreateFlowRunRequest(flow: "hello"))
        #expect(await eventually(timeout: .seconds(30)) { (try? await api.run(missing.id).state) == .crashed })
        #expect(try await api.run(missing.id).stateMessage.contains("is not in storage"))

        // An unreachable endpoint: crashed within seconds, with the reason.
        await moto.stop()
        let started = ContinuousClock.now
        let unreachable = try await api.createRun(CreateFlowRunRequest(flow: "hello"))
        #expect(await eventually(timeout: .seconds(30)) { (try? await api.run(unreachable.id).state) == .crashed })
        #expect(ContinuousClock.now - started < .seconds(15))
        #expect(try await api.run(unreachable.id).stateMessage.contains("cannot reach"))
        await dev.stop()
    }
}
