import FathomAPI
import FathomCore
import Foundation
import Testing

/// The whole path with real processes: `fathom dev`, `fathom register`, `fathom run --watch`.
@Suite(.serialized)
struct EndToEndTests {
    @Test func helloRunsEndToEndAndWritesToTheVolume() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        let registered = try await stack.fathom(["register", TestPaths.examples])
        #expect(registered.exit == 0, "\(registered.output)")
        #expect(registered.output.contains { $0.hasPrefix("registered hello v1") })

        let first = try await stack.fathom(["run", "hello", "--watch"])
        #expect(first.exit == 0, "\(first.output)")
        #expect(first.output.contains { $0.contains("(hello) Completed") })
        let folder = stack.scratch + "/hello"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(files.count == 1)
        let file = try #require(files.first)
        #expect(first.output.contains { $0.contains("\(file) 1024 bytes") }, "the logs list the new file with its size")

        let second = try await stack.fathom(["run", "hello", "--watch", "--param", "bytes=10"])
        #expect(second.exit == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).count == 2, "a second run adds a second file")
        #expect(second.output.contains { $0.contains("2 file(s) in") })
        await stack.process.stop()
    }

    @Test func aFlowKilledWithSIGKILLIsCrashedWithAReasonWithinFiveSeconds() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
        let runID = try await stack.startRun("sleeper", ["seconds=120"])
        #expect(await stack.waitFor(runID, .running))
        let logged = await eventually { (try? await stack.client.logs(runID).lines.contains { $0.message.hasPrefix("sleeping") }) == true }
        #expect(logged)
        let run = try await stack.client.run(runID)
        let pid = try #require(run.infrastructure["pid"].flatMap { Int32($0) })
        let killedAt = ContinuousClock.now
        kill(pid, SIGKILL)
        #expect(await stack.waitFor(runID, .crashed, timeout: .seconds(5)))
        #expect(ContinuousClock.now - killedAt < .seconds(5))
        let crashed = try await stack.client.run(runID)
        #expect(crashed.stateMessage.contains("killed by signal 9 (SIGKILL)"), "\(crashed.stateMessage)")
        #expect(crashed.stateMessage.contains("before the flow reported a final state"))
        await stack.process.stop()
    }

    @Test func aFlowThatThrowsEndsFailedWithTheErrorInItsLogs() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
        let result = try await stack.fathom(["run", "failer", "--watch"])
        #expect(result.exit == 1, "--watch exits non-zero unless the run Completed")
        #expect(result.output.contains { $0.contains("task 'explode' failed: the disk is full (test)") })
        #expect(result.output.contains { $0.contains("(failer) Failed") && $0.contains("the disk is full (test)") })
        await stack.process.stop()
    }

    @Test func cancelKillsTheShellTaskAndEndsTheRunCancelled() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
        let pidFile = stack.directory.file("sleep.pid")
        let runID = try await stack.startRun("shell-sleeper", ["pidFile=\(pidFile)"])
        #expect(await eventually { FileManager.default.fileExists(atPath: pidFile) })
        let sleepPID = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        let cancel = try await stack.fathom(["cancel", runID])
        #expect(cancel.exit == 0)
        #expect(cancel.output.contains { $0.contains("Cancelling") })
        #expect(await stack.waitFor(runID, .cancelled, timeout: .seconds(15)))
        #expect(await eventually(timeout: .seconds(60)) { kill(sleepPID, 0) != 0 }, "the shell command was killed")
        let history = try await stack.client.run(runID).history?.map(\.state) ?? []
        #expect(history.suffix(2) == [.cancelling, .cancelled])
        await stack.process.stop()
    }

    @Test func aRuntimeCrashIsCrashedWithTheRuntimesMessage() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
        let result = try await stack.fathom(["run", "crasher", "--watch"])
        #expect(result.exit == 1)
        let runID = try #require(result.output.first { $0.hasPrefix("flow run ") }.map { String($0.split(separator: " ")[2]) })
        let run = try await stack.client.run(runID)
        #expect(run.state == .crashed)
        #expect(run.stateMessage.contains("killed by signal"), "\(run.stateMessage)")
        #expect(run.stateMessage.contains("Index out of range"), "the last stderr lines carry the runtime's message")
        let lastOutput = run.stateMessage.components(separatedBy: "last output:").last ?? ""
        #expect(lastOutput.split(separator: "\n").first { !$0.trimmingCharacters(in: .whitespaces).isEmpty }?.contains("Fatal error: Index out of range") == true,
                "the runtime's message leads: \(lastOutput.prefix(300))")
        #expect(!run.stateMessage.contains("libc.so.6") && !run.stateMessage.contains("Backtrace took"), "no backtracer listing: \(run.stateMessage)")
        await stack.process.stop()
    }

    @Test func devKeepsItsBundleCacheUnderItsDataDirectory() async throws {
        let directory = TemporaryDirectory("fathom-dev-cache")
        let dev = BackgroundProcess(
            TestPaths.fathom, ["dev", "--port", "0", "--data-dir", directory.path + "/data"], environment: ["HOME": directory.path + "/home"])
        defer { Task { await dev.stop() } }
        let url = try #require(BackgroundProcess.url(in: try await dev.waitForLine { $0.contains("coordinator on http://") }))
        let environment = ["FATHOM_API_URL": url, "HOME": directory.path + "/home"]
        #expect(try await runCommand(TestPaths.fathom, ["register", TestPaths.testFlows], environment: environment).exit.exitCode == 0)
        let run = try await runCommand(TestPaths.fathom, ["run", "noop-tasks", "--watch"], environment: environment)
        #expect(run.exit.exitCode == 0, "\(run.output.suffix(5))")
        let cached = (try? FileManager.default.contentsOfDirectory(atPath: directory.path + "/data/cache/bundles")) ?? []
        #expect(cached.count == 1, "the verified bundle is cached under --data-dir: \(cached)")
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/home/.fathom/cache"), "nothing outside the data directory")
    }

    @Test func anUnmappedVolumeFailsWithTheFix() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
        let result = try await stack.fathom(["run", "volume-lister", "--watch"])
        #expect(result.exit == 1)
        #expect(result.output.contains { $0.contains("volume 'archive' is not mounted in this run (mounted: scratch)") })
        #expect(result.output.contains { $0.contains("fathom agent --volume archive=/path") })
        await stack.process.stop()
    }

    @Test func demoRunsHelloAndPrintsItsLogsAndFinalState() async throws {
        let directory = TemporaryDirectory("fathom-demo")
        let result = try await runCommand(
            TestPaths.fathom, ["demo", "--data-dir", directory.path + "/.fathom"], environment: ["FATHOM_BUNDLE_CACHE": directory.path + "/cache"])
        #expect(result.exit.exitCode == 0, "\(result.output)")
        #expect(result.output.contains { $0.contains("registered: hello v1") })
        #expect(result.output.contains { $0.contains("1 file(s) in") })
        #expect(result.output.last?.contains("(hello) Completed") == true)
    }

    @Test func aClientErrorIsOneClearLine() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        let unknown = try await stack.fathom(["run", "no-such-flow"])
        #expect(unknown.exit != 0)
        #expect(unknown.output.contains { $0.contains("flow 'no-such-flow' does not exist") })
        #expect(!unknown.output.contains { $0.contains("Stack") || $0.contains("Fatal") })
        let unreachable = try await runCommand(TestPaths.fathom, ["runs", "--api-url", "http://127.0.0.1:9"])
        #expect(unreachable.exit.exitCode != 0)
        #expect(unreachable.output.contains { $0.contains("cannot reach the Fathom coordinator at http://127.0.0.1:9") })
        await stack.process.stop()
    }
}
