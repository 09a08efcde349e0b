import FathomAPI
import FathomCore
import FathomToolkit
import Foundation
import Testing

/// The toolkit inside flows and against a real coordinator: sort-compress, `fathom volume gc`, the volume janitor.
@Suite(.serialized)
struct ToolkitFlowTests {

    /// Makes `<volume>/fathom/runs/<id>/` with a file in it, dated `daysAgo` days back.
    /// With `linkTo`, the workspace also holds a symbolic link `escape` to that path.
    static func makeWorkspace(_ volume: String, _ id: String = Identifier.make(), daysAgo: Double, linkTo: String? = nil) throws -> String {
        let path = volume + "/fathom/runs/\(id)"
        try FileManager.default.createDirectory(atPath: path + "/nested", withIntermediateDirectories: true)
        try Data(repeating: 7, count: 10_000).write(to: URL(fileURLWithPath: path + "/nested/part.dat"))
        var items = [path + "/nested/part.dat", path + "/nested", path]
        if let linkTo {
            try FileManager.default.createSymbolicLink(atPath: path + "/escape", withDestinationPath: linkTo)
            items.insert(path + "/escape", at: 0)
        }
        let seconds = time(nil) - Int(daysAgo * 86400)
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        for item in items {
            #expect(utimensat(AT_FDCWD, item, &times, AT_SYMLINK_NOFOLLOW) == 0, "date \(item)")
        }
        return path
    }

    static func exists(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
    }

    @Test func sortCompressSortsLargerThanMemoryCompressesAndTestsOnTheVolume() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.examples]).exit == 0)
        let result = try await stack.fathom([
            "run", "sort-compress", "--param", "gib=0.02", "--param", "memory=64M", "--param", "level=1", "--watch",
        ])
        #expect(result.exit == 0, "\(result.output.suffix(10))")
        let runID = try #require(result.output.first { $0.hasPrefix("flow run ") }.map { String($0.split(separator: " ")[2]) })
        let workspace = stack.scratch + "/fathom/runs/\(runID)"
        let archive = workspace + "/sorted.txt.bz2"
        let check = try await runCommand(
            "/bin/bash", ["-c", "cmp <(bunzip2 -c '\(archive)') <(LC_ALL=C sort '\(workspace)/input.txt') && echo same"])
        #expect(check.output == ["same"], "the archive holds the input sorted as GNU sort does: \(check.output)")
        let tasks = try await stack.client.taskRuns(runID).map(\.name)
        #expect(tasks == ["generate-input", "sort", "bzip2", "test-archive"])
        let logs = result.output.joined(separator: "\n")
        #expect(logs.contains("runs, 1 merge passes") && !logs.contains(" 0 runs, 0 merge passes"), "the sort spilled: \(logs)")
        #expect(logs.contains("result: \(archive)"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: workspace).sorted()
        #expect(leftovers == ["input.txt", "sorted.txt.bz2"], "temporary runs and the sorted text are gone")
    }

    @Test func volumeGCRemovesOnlyExpiredWorkspacesOfInactiveRunsAndNeverFollowsLinks() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
        let volume = stack.scratch
        let outside = stack.directory.path + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: outside + "/precious.txt"))
        try FileManager.default.createDirectory(atPath: volume + "/fathom/runs", withIntermediateDirectories: true)
        try Data("data".utf8).write(to: URL(fileURLWithPath: volume + "/important.txt"))

        let expired = try Self.makeWorkspace(volume, daysAgo: 10, linkTo: outside)
        let recent = try Self.makeWorkspace(volume, daysAgo: 1)
        let sleeper = try await stack.startRun("sleeper", ["seconds=60"])
        #expect(await stack.waitFor(sleeper, .running))
        let active = try Self.makeWorkspace(volume, sleeper, daysAgo: 30)
        let linkedRoot = volume + "/fathom/runs/\(Identifier.make())"
        try FileManager.default.createSymbolicLink(atPath: linkedRoot, withDestinationPath: outside)
        try FileManager.default.createDirectory(atPath: volume + "/fathom/runs/not-a-run", withIntermediateDirectories: true)

        let dry = try await stack.fathom(["volume", "gc", "--volume", "scratch=\(volume)", "--older-than", "7d", "--dry-run"])
        #expect(dry.exit == 0, "\(dry.output)")
        #expect(dry.output.contains { $0.hasPrefix("would remove \(expired) (") && $0.hasSuffix(" KiB)") }, "\(dry.output)")
        #expect(Self.exists(expired))

        let real = try await stack.fathom(["volume", "gc", "--volume", "scratch=\(volume)", "--older-than", "7d"])
        #expect(real.exit == 0, "\(real.output)")
        #expect(real.output.contains { $0.hasPrefix("removed \(expired) (") }, "\(real.output)")
        #expect(real.output.contains("kept \(active): run \(sleeper) is still active"))
        #expect(real.output.contains { $0.hasPrefix("freed ") && $0.hasSuffix(" KiB in 1 workspaces; kept 1 recent and 1 active") }, "\(real.output)")
        #expect(real.output.contains { $0.contains("not-a-run: not a run workspace") })
        #expect(!Self.exists(expired) && Self.exists(recent) && Self.exists(active))
        #expect(Self.exists(outside + "/precious.txt") && Self.exists(volume + "/important.txt") && Self.exists(linkedRoot))

        let another = try Self.makeWorkspace(volume, daysAgo: 10)
        let unreachable = try await runCommand(
            TestPaths.fathom, ["volume", "gc", "--volume", "scratch=\(volume)", "--older-than", "7d", "--api-url", "http://127.0.0.1:9"])
        #expect(unreachable.exit.exitCode != 0)
        #expect(unreachable.exit.stderrTail.joined().contains("nothing was removed"))
        #expect(Self.exists(another))

        let trap = stack.directory.path + "/trap"
        try FileManager.default.createDirectory(atPath: trap + "/fathom", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: trap + "/fathom/runs", withDestinationPath: volume + "/fathom/runs")
        let refused = try await stack.fathom(["volume", "gc", "--volume", "trap=\(trap)", "--older-than", "0s"])
        #expect(refused.exit != 0)
        #expect(Self.exists(another) && Self.exists(recent))
        _ = try await stack.client.cancel(sleeper)
    }

    @Test func theVolumeJanitorFlowExpiresWorkspacesAndKeepsItsOwn() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.examples]).exit == 0)
        let expired = try Self.makeWorkspace(stack.scratch, daysAgo: 3)
        let recent = try Self.makeWorkspace(stack.scratch, daysAgo: 0.5)
        let result = try await stack.fathom(["run", "volume-janitor", "--param", "olderThan=2d", "--watch"])
        #expect(result.exit == 0, "\(result.output)")
        #expect(result.output.contains { $0.contains("removed \(expired)") }, "\(result.output)")
        #expect(!Self.exists(expired) && Self.exists(recent))
    }

    @Test func theVolumeJanitorRunsOnASchedule() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.examples]).exit == 0)
        let expired = try Self.makeWorkspace(stack.scratch, daysAgo: 9)
        let recent = try Self.makeWorkspace(stack.scratch, daysAgo: 1)
        let added = try await stack.fathom([
            "schedule", "add", "volume-janitor", "--name", "janitor", "--interval", "2s", "--param", "olderThan=7d",
        ])
        #expect(added.exit == 0 && added.output.contains { $0.hasPrefix("schedule janitor: volume-janitor every 2s") }, "\(added.output)")
        #expect(await eventually(timeout: .seconds(30)) { !Self.exists(expired) }, "the scheduled janitor removed the expired workspace")
        #expect(Self.exists(recent))
        let schedule = try await stack.client.schedule("janitor")
        #expect(await eventually(timeout: .seconds(20)) {
            let runs = (try? await stack.client.send(.GET, "/api/v1/flow-runs?flow=volume-janitor&state=Completed") as FlowRunList)?.runs ?? []
            return runs.contains { $0.scheduleID == schedule.id && $0.parameters["olderThan"] == .string("7d") }
        }, "a run made by the schedule completed")
        let listed = try await stack.fathom(["schedule", "list"])
        #expect(listed.output.contains { $0.hasPrefix("janitor") && $0.contains("every 2s") && $0.contains("next ") }, "\(listed.output)")
        #expect(try await stack.fathom(["schedule", "pause", "janitor"]).exit == 0)
        #expect(try await stack.fathom(["schedule", "list"]).output.contains { $0.hasPrefix("janitor") && $0.hasSuffix("paused") })
        #expect(try await stack.fathom(["schedule", "resume", "janitor"]).exit == 0)
        #expect(try await stack.fathom(["schedule", "rm", "janitor"]).exit == 0)
        #expect(try await stack.client.listSchedules().isEmpty)
    }
}
