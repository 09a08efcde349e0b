import FathomAPI
import FathomClient
import FathomCore
import Foundation
import Testing

/// The seed's production flow (`sort-compress`) killed during bzip2 and resumed with `fathom retry --resume`: the
/// input and the sort are Cached (not spent again), bzip2 continues from its last whole stream, and the archive is
/// byte-identical to an uninterrupted run's.
@Suite struct SortCompressResumeTests {
    @Test func aRunKilledDuringBZip2IsResumedToTheSameArchive() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.examples]).exit == 0)
        let data = stack.scratch + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try await offThePool { try TestFiles.write(TestFiles.wordLines(bytes: 24 << 20, seed: 21), to: data + "/lines.txt") }
        let parameters = ["input=data/lines.txt", "memory=4M", "threads=2", "level=1"]

        // Killed with SIGKILL once bzip2 has checkpointed some streams.
        let killed = try await stack.startRun("sort-compress", parameters)
        let partial = stack.scratch + "/fathom/runs/\(killed)/.sorted.txt.bz2.fathom-partial.checkpoint"
        // ... and once the coordinator has the sort's completion: a kill before that reaches it is a kill during the
        // sort as far as a resume can know (the sort's own checkpoint then saves the work, not the task cache).
        let checkpointed = await eventually(timeout: .seconds(300), every: .milliseconds(20)) {
            let streams = ((try? Data(contentsOf: URL(fileURLWithPath: partial))).flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any])?["streams"] as? Int ?? 0  // not there yet, or mid-rename
            guard streams >= 32 else { return false }
            return ((try? await stack.client.taskRuns(killed)) ?? []).contains { $0.name == "sort" && $0.state == .completed }
        }
        let killedLogs = try await stack.client.logs(killed, limit: 50).lines.map(\.message)
        #expect(checkpointed, "bzip2 checkpointed: \(killedLogs.suffix(5))")
        let pid = try #require(try await stack.client.run(killed).infrastructure[.pid].flatMap { Int32($0) })
        kill(pid, SIGKILL)
        #expect(await stack.waitFor(killed, .crashed, timeout: .seconds(30)))
        #expect(try await stack.client.run(killed).stateMessage.contains("SIGKILL"))

        let resumed = try await stack.fathom(["retry", killed, "--resume", "--watch"])
        #expect(resumed.exit == 0, "\(resumed.output.suffix(10))")
        let second = try #require(resumed.output.first { $0.hasPrefix("flow run ") }.map { String($0.split(separator: " ")[2]) })
        let tasks = Dictionary(try await stack.client.taskRuns(second).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(tasks["sort"]?.state == .cached && tasks["sort"]?.cachedFrom == killed, "the sort is not done again: \(String(describing: tasks["sort"]))")
        #expect(tasks["bzip2"]?.state == .completed)
        let logs = try await stack.client.logs(second, limit: 2000).lines.map(\.message)
        #expect(logs.contains { $0.contains("resumed from the checkpoint") && $0.contains("streams") }, "\(logs.suffix(15))")
        let bzip2 = try #require(tasks["bzip2"]?.result.flatMap { result -> Int64? in
            if case .object(let fields) = result, case .int(let reused)? = fields["reusedStreams"] { return reused }
            return nil
        })
        #expect(bzip2 >= 32, "bzip2 continued after the streams it had: \(bzip2) reused")

        // The same flow, uninterrupted, makes the same archive.
        let whole = try await stack.startRun("sort-compress", parameters)
        #expect(await stack.waitFor(whole, .completed, timeout: .seconds(300)))
        let archive = { (run: FlowRunID) in stack.scratch + "/fathom/runs/\(run)/sorted.txt.bz2" }
        #expect(try TestFiles.read(archive(killed)) == (try TestFiles.read(archive(whole))), "byte-identical to an uninterrupted run's archive")
        let decoded = try await runNiced("/bin/bash", ["-c", "cmp <(LC_ALL=C sort \(data)/lines.txt) <(bzip2 -dc \(archive(killed)))"])
        #expect(decoded.exit.succeeded, "the archive holds the sorted input: \(decoded.output)")
    }
}
