import FathomProcess
import FathomToolkit
import Foundation
import Testing

/// The toolkit's checkpoints: a sort and a compression interrupted midway (cancelled as by SIGTERM, or killed with
/// SIGKILL) and started again do only the work that was left, and their results are byte-identical to GNU sort's
/// and to an uninterrupted compression's.
@Suite("Checkpoints: sort and bzip2 resume mid-step")
struct CheckpointTests {
    // MARK: Helpers

    /// The one checkpoint directory under `tmp`, and its manifest as JSON.
    static func sortManifest(in tmp: String) throws -> (directory: String, manifest: [String: Any])? {
        let names = try FileManager.default.contentsOfDirectory(atPath: tmp).filter { $0.hasPrefix(".fathom-sort-") }
        guard let name = names.first else { return nil }
        let directory = tmp + "/" + name
        guard let data = FileManager.default.contents(atPath: directory + "/manifest.json"),
              let manifest = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return (directory, manifest)
    }

    /// A checkpointed sort (memory 1: every chunk spills) that cancels itself once `cancelWhen` holds for its progress.
    static func sort(
        _ inputs: [String], _ output: String, tmp: String, cancelAfterRuns: Int? = nil,
        configure: @escaping @Sendable (inout SortConfiguration) -> Void = { _ in },
        cancelWhen: @escaping @Sendable (SortProgress) -> Bool = { _ in false }
    ) async throws -> Result<SortSummary, ToolkitError> {
        try await offThePool {
            var configuration = SortConfiguration(order: SortOptions(), memory: 1, parallelism: 2, temporaryDirectory: tmp)
            configuration.checkpoint = true
            configure(&configuration)
            let flag = CancellationFlag()
            do {
                return .success(try ExternalSort.sort(inputs: inputs, output: output, configuration: configuration, cancellation: flag) {
                    if let cancelAfterRuns, $0.runsWritten >= cancelAfterRuns { flag.cancel() }
                    if cancelWhen($0) { flag.cancel() }
                })
            } catch let error as ToolkitError {
                return .failure(error)
            }
        }
    }

    static func gnuSort(_ inputs: [String], into path: String) async throws -> Data {
        let sorted = try await runNiced("/usr/bin/sort", ["-o", path] + inputs, environment: ["LC_ALL": "C"])
        #expect(sorted.exit.succeeded)
        return try TestFiles.read(path)
    }

    /// A sort's two inputs (``sortInputs(in:megabytes:)``), its temporary directory and its output path.
    static func sortFixture(in directory: TemporaryDirectory, megabytes: Int) async throws -> (inputs: [String], tmp: String, output: String) {
        let tmp = directory.file("tmp")
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        return (try await sortInputs(in: directory, megabytes: megabytes), tmp, directory.file("sorted.txt"))
    }

    /// Two inputs, the second without its last newline (the sort supplies one, and a resume must count it).
    static func sortInputs(in directory: TemporaryDirectory, megabytes: Int) async throws -> [String] {
        let first = directory.file("a.txt")
        let second = directory.file("b.txt")
        try await offThePool {
            try TestFiles.write(TestFiles.wordLines(bytes: megabytes << 19, seed: 11), to: first)
            try TestFiles.write(Array(TestFiles.wordLines(bytes: megabytes << 19, seed: 12).dropLast()), to: second)
        }
        return [first, second]
    }

    @Test func xxHash64MatchesTheReferenceImplementationWholeAndInPieces() {
        // From the reference implementation (Python's xxhash 3.x): xxh64(bytes, seed).
        let vectors: [([UInt8], UInt64, UInt64)] = [
            ([], 0xEF46_DB37_51D8_E999, 0xD5AF_BA13_36A3_BE4B),
            (Array("a".utf8), 0xD24E_C4F1_A98C_6E5B, 0xDEC2_BC81_C3CD_46C6),
            (Array("abc".utf8), 0x44BC_2CF5_AD77_0999, 0xBEA9_CA81_9932_8908),
            (Array("Nobody inspects the spammish repetition".utf8), 0xFBCE_A83C_8A37_8BF1, 0x43F4_2544_8D95_4DB6),
            (Array(repeating: Array(0...255 as ClosedRange<UInt8>), count: 5).flatMap { $0 }, 0xAFC1_84AD_7938_A354, 0xF449_3E5E_4498_8D52),
        ]
        for (bytes, seed0, seed1) in vectors {
            #expect(XXHash64.hash(bytes, seed: 0) == seed0 && XXHash64.hash(bytes, seed: 1) == seed1, "\(bytes.count) bytes")
            var pieces = XXHash64()
            var offset = 0
            for size in [1, 7, 31, 33, 64, 200] where offset < bytes.count {
                let end = min(bytes.count, offset + size)
                bytes[offset..<end].withUnsafeBytes { pieces.update($0) }
                offset = end
            }
            bytes[offset...].withUnsafeBytes { pieces.update($0) }
            #expect(pieces.finalize() == seed0, "in pieces: \(bytes.count) bytes")
        }
    }

    // MARK: Sort

    @Test func aSortCancelledAfterSomeChunksSortsOnlyTheRestWhenStartedAgain() async throws {
        let directory = TemporaryDirectory("checkpoint-sort")
        let (inputs, tmp, output) = try await Self.sortFixture(in: directory, megabytes: 4)

        let first = try await Self.sort(inputs, output, tmp: tmp, cancelAfterRuns: 10)
        #expect(first.failureValue == .cancelled)
        #expect(!FileManager.default.fileExists(atPath: output), "no output from an interrupted sort")
        let (checkpoint, manifest) = try #require(try Self.sortManifest(in: tmp))
        let consumed = try #require(manifest["consumed"] as? Int)
        let runs = try #require(manifest["runs"] as? [[String: Any]])
        #expect(runs.count >= 10 && consumed > 0, "the manifest names the finished runs: \(runs.count), \(consumed) bytes")

        // Both files, and the newline the sort supplies after the second.
        let total = try inputs.reduce(1) { $0 + (try FileManager.default.attributesOfItem(atPath: $1)[.size] as! Int) }
        let second = try await Self.sort(inputs, output, tmp: tmp)
        let summary = try #require(second.successValue)
        #expect(summary.reusedRuns == runs.count)
        #expect(summary.reusedBytes == consumed)
        #expect(summary.bytesRead == total - consumed, "only the rest is read: \(summary.bytesRead) of \(total), \(consumed) reused")
        #expect(summary.checkpointNote?.contains("resumed from the checkpoint") == true, "\(summary.checkpointNote ?? "")")
        #expect(try TestFiles.read(output) == (try await Self.gnuSort(inputs, into: directory.file("expected"))))
        #expect(!FileManager.default.fileExists(atPath: checkpoint), "the checkpoint goes when the sort succeeds")
    }

    @Test func aSortCancelledInItsFinalMergeMergesOnlyTheRangesLeft() async throws {
        let directory = TemporaryDirectory("checkpoint-merge")
        let (inputs, tmp, output) = try await Self.sortFixture(in: directory, megabytes: 6)
        func sort(cancelAtMerged share: Double?) async throws -> Result<SortSummary, ToolkitError> {
            try await Self.sort(inputs, output, tmp: tmp, configure: { configuration in
                configuration.memory = 2 << 20
                configuration.mergeRangeBytes = 256 << 10
                configuration.parallelMergeMinimum = 1 << 20
            }, cancelWhen: { state in
                guard let share, case .merging = state.phase else { return false }
                return Double(state.bytesMerged) >= share * Double(6 << 20)
            })
        }
        #expect(try await sort(cancelAtMerged: 0.5).failureValue == .cancelled)
        let (_, manifest) = try #require(try Self.sortManifest(in: tmp))
        let merge = try #require(manifest["merge"] as? [String: Any])
        let done = try #require(merge["done"] as? [Int])
        let parts = try #require(merge["parts"] as? Int)
        #expect(parts > 8 && !done.isEmpty && done.count < parts, "ranges recorded: \(done.count) of \(parts)")
        #expect(!FileManager.default.fileExists(atPath: output))

        let summary = try #require(try await sort(cancelAtMerged: nil).successValue)
        #expect(summary.reusedMergeBytes > 0 && summary.bytesRead == 0, "only ranges were merged again: \(summary)")
        #expect(try TestFiles.read(output) == (try await Self.gnuSort(inputs, into: directory.file("expected"))))
        #expect(!FileManager.default.fileExists(atPath: directory.file(".sorted.txt.fathom-sort-partial")), "the partial output was renamed")
    }

    @Test func aSortKilledWithSIGKILLResumesFromItsManifest() async throws {
        let directory = TemporaryDirectory("checkpoint-sort-kill")
        let input = directory.file("input.txt")
        try await offThePool { try TestFiles.write(TestFiles.wordLines(bytes: 12 << 20, seed: 5), to: input) }
        let tmp = directory.file("tmp")
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let output = directory.file("sorted.txt")
        let arguments = ["sort", "--checkpoint", "-S", "1M", "--parallel", "2", "-T", tmp, "-o", output, input]

        let killed = BackgroundProcess(TestPaths.fathom, arguments)
        let started = await eventually(timeout: .seconds(120)) {
            ((try? Self.sortManifest(in: tmp))?.manifest["runs"] as? [Any])?.count ?? 0 >= 6  // not written yet: keep waiting
        }
        #expect(started, "the sort wrote runs: \(killed.output.suffix(5))")
        killed.kill9()
        #expect(await eventually(timeout: .seconds(60)) { killed.isFinished })
        let before = try #require(try Self.sortManifest(in: tmp))
        let consumed = try #require(before.manifest["consumed"] as? Int)
        #expect(consumed > 0 && consumed < 12 << 20, "killed midway: \(consumed) bytes sorted")
        #expect(!FileManager.default.fileExists(atPath: output))

        let resumed = try await runCommand(TestPaths.fathom, arguments + ["--progress"])
        #expect(resumed.exit.succeeded, "\(resumed.output.suffix(5))")
        let text = resumed.output.joined(separator: "\n")
        #expect(text.contains("resumed from the checkpoint"), "\(text.suffix(600))")
        #expect(text.contains("from the checkpoint"), "the summary counts the reused runs: \(text.suffix(600))")
        #expect(try TestFiles.read(output) == (try await Self.gnuSort([input], into: directory.file("expected"))))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp).isEmpty, "nothing left in the temporary directory")
    }

    @Test func aChangedInputOrADamagedCheckpointIsNotUsedAndTheResultIsStillRight() async throws {
        let directory = TemporaryDirectory("checkpoint-sort-stale")
        let (inputs, tmp, output) = try await Self.sortFixture(in: directory, megabytes: 2)

        // A damaged run: the checkpoint says so and the sort starts again from the beginning.
        #expect(try await Self.sort(inputs, output, tmp: tmp, cancelAfterRuns: 4).failureValue == .cancelled)
        let (checkpoint, manifest) = try #require(try Self.sortManifest(in: tmp))
        let firstRun = try #require((manifest["runs"] as? [[String: Any]])?.first?["name"] as? String)
        try FileHandle(forWritingTo: URL(fileURLWithPath: checkpoint + "/" + firstRun)).truncate(atOffset: 10)
        let afterDamage = try #require(try await Self.sort(inputs, output, tmp: tmp).successValue)
        #expect(afterDamage.reusedRuns == 0)
        #expect(afterDamage.checkpointNote?.contains("was not used (run \(firstRun) is 10 bytes") == true, "\(afterDamage.checkpointNote ?? "")")
        let expected = try await Self.gnuSort(inputs, into: directory.file("expected"))
        #expect(try TestFiles.read(output) == expected)

        // An undecodable manifest.
        #expect(try await Self.sort(inputs, output, tmp: tmp, cancelAfterRuns: 4).failureValue == .cancelled)
        let damaged = try #require(try Self.sortManifest(in: tmp)).directory
        try Data("{\"format\": 1, \"key\": ".utf8).write(to: URL(fileURLWithPath: damaged + "/manifest.json"))
        let afterGarbage = try #require(try await Self.sort(inputs, output, tmp: tmp).successValue)
        #expect(afterGarbage.reusedRuns == 0 && afterGarbage.checkpointNote?.contains("does not decode") == true)
        #expect(try TestFiles.read(output) == expected)

        // A changed input is another sort: its checkpoint is not this one's.
        #expect(try await Self.sort(inputs, output, tmp: tmp, cancelAfterRuns: 4).failureValue == .cancelled)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: inputs[0]))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("appended line\n".utf8))
        try handle.close()
        let changed = try #require(try await Self.sort(inputs, output, tmp: tmp).successValue)
        #expect(changed.reusedRuns == 0)
        #expect(try TestFiles.read(output) == (try await Self.gnuSort(inputs, into: directory.file("expected-changed"))))
    }

    // MARK: bzip2

    /// Compresses `input` resumably at level 1 (100 kB blocks); cancels once `cancelAt` bytes of input are done.
    static func compress(_ input: String, _ output: String, cancelAt: Int? = nil) async throws -> Result<BZip2Summary, ToolkitError> {
        try await offThePool {
            let flag = CancellationFlag()
            do {
                return .success(try ResumableBZip2.compress(input: input, output: output, level: 1, parallelism: 2, cancellation: flag) {
                    if let cancelAt, $0 >= cancelAt { flag.cancel() }
                })
            } catch let error as ToolkitError {
                return .failure(error)
            }
        }
    }

    static func checkpoint(of output: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: ResumableBZip2.partialPath(for: output) + ".checkpoint") else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]  // not written yet, or mid-rename: nil
    }

    @Test func aCompressionCancelledMidwayContinuesFromItsLastStreamByteIdentical() async throws {
        let directory = TemporaryDirectory("checkpoint-bzip2")
        let input = directory.file("input.txt")
        try await offThePool { try TestFiles.write(TestFiles.compressibleText(bytes: 12 << 20, seed: 7), to: input) }
        let reference = directory.file("reference.bz2")
        _ = try await BZip2Tests.fathom(input, reference, level: 1)
        let output = directory.file("input.txt.bz2")
        let partial = ResumableBZip2.partialPath(for: output)

        #expect(try await Self.compress(input, output, cancelAt: 5 << 20).failureValue == .cancelled)
        #expect(!FileManager.default.fileExists(atPath: output))
        let recorded = try #require(Self.checkpoint(of: output))
        let streams = try #require(recorded["streams"] as? Int)
        let outputBytes = try #require(recorded["outputBytes"] as? Int)
        #expect(streams >= 40, "the cancel wrote a checkpoint of the streams done: \(streams)")
        // As a SIGKILL mid-write leaves it: half a stream after the last whole one.
        let referenceBytes = try TestFiles.read(reference)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: partial))
        try handle.truncate(atOffset: UInt64(outputBytes))
        try handle.seekToEnd()
        try handle.write(contentsOf: referenceBytes[outputBytes..<(outputBytes + 3000)])
        try handle.close()

        let summary = try #require(try await Self.compress(input, output).successValue)
        let blockSize = 100_000 - 19
        #expect(summary.reusedStreams == streams)
        #expect(summary.bytesIn == (12 << 20) - streams * blockSize, "only the rest is compressed: \(summary.bytesIn) bytes")
        #expect(try TestFiles.read(output) == referenceBytes, "byte-identical to an uninterrupted compression")
        #expect(!FileManager.default.fileExists(atPath: partial) && Self.checkpoint(of: output) == nil)
        let decoded = try await runNiced("/bin/sh", ["-c", "bzip2 -dc \(output) | cmp - \(input)"])
        #expect(decoded.exit.succeeded, "stock bzip2 decodes it to the input")
    }

    @Test func aCompressionKilledWithSIGKILLResumesByteIdentical() async throws {
        let directory = TemporaryDirectory("checkpoint-bzip2-kill")
        let input = directory.file("input.txt")
        // 32 MiB (336 streams at -1), killed once 32 are recorded: a loaded CI machine once let 16 MiB finish
        // between two looks at the checkpoint.
        try await offThePool { try TestFiles.write(TestFiles.compressibleText(bytes: 32 << 20, seed: 9), to: input) }
        let output = input + ".bz2"
        let arguments = ["bzip2", "--resume", "-k", "-1", "-p", "2", input]

        let killed = BackgroundProcess(TestPaths.fathom, arguments)
        let started = await eventually(timeout: .seconds(120)) { (Self.checkpoint(of: output)?["streams"] as? Int ?? 0) >= 32 }
        #expect(started, "\(killed.output.suffix(5))")
        killed.kill9()
        #expect(await eventually(timeout: .seconds(60)) { killed.isFinished })
        #expect(!FileManager.default.fileExists(atPath: output), "killed before the end: \(killed.output.suffix(3))")

        let resumed = try await runCommand(TestPaths.fathom, arguments + ["-v"])
        #expect(resumed.exit.succeeded, "\(resumed.output.suffix(5))")
        #expect(resumed.output.joined().contains("resumed from the checkpoint"), "\(resumed.output.suffix(5))")
        let whole = try await runNiced("/bin/sh", ["-c", "\(TestPaths.fathom) bzip2 -c -1 -p 2 \(input) > \(directory.file("reference.bz2"))"])
        #expect(whole.exit.succeeded)
        #expect(try TestFiles.read(output) == (try TestFiles.read(directory.file("reference.bz2"))), "byte-identical to an uninterrupted run")
        let decoded = try await runNiced("/bin/sh", ["-c", "bzip2 -dc \(output) | cmp - \(input)"])
        #expect(decoded.exit.succeeded)
    }

    @Test func aCompressionOfAChangedInputStartsAgain() async throws {
        let directory = TemporaryDirectory("checkpoint-bzip2-stale")
        let input = directory.file("input.txt")
        try await offThePool { try TestFiles.write(TestFiles.compressibleText(bytes: 6 << 20, seed: 3), to: input) }
        let output = input + ".bz2"
        #expect(try await Self.compress(input, output, cancelAt: 3 << 20).failureValue == .cancelled)
        try await offThePool { try TestFiles.write(TestFiles.compressibleText(bytes: 6 << 20, seed: 4), to: input) }
        let summary = try #require(try await Self.compress(input, output).successValue)
        #expect(summary.reusedStreams == 0)
        #expect(summary.checkpointNote?.contains("the input changed") == true, "\(summary.checkpointNote ?? "")")
        let decoded = try await runNiced("/bin/sh", ["-c", "bzip2 -dc \(output) | cmp - \(input)"])
        #expect(decoded.exit.succeeded)
    }
}

extension Result {
    var successValue: Success? { try? get() }  // the failure is looked at through failureValue
    var failureValue: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
