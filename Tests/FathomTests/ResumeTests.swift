import FathomAPI
import FathomClient
import FathomCore
import Foundation
import Testing

/// `fathom retry RUN --resume`: a new attempt reuses the results of the tasks the run finished and runs only the rest.
@Suite struct ResumeTests {
    /// How many times each task of the `resumable` test flow really ran.
    func counts(_ dir: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasSuffix(".count") {
            let text = (try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)) ?? ""
            counts[String(name.dropLast(".count".count))] = text.split(separator: "\n").count
        }
        return counts
    }

    @Test func aResumedAttemptReusesFinishedTasksAndRunsOnlyTheRest() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
        let dir = stack.directory.path + "/resume"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/fail", contents: Data())

        let first = try await stack.startRun("resumable", ["dir=\(dir)"])
        #expect(await stack.waitFor(first, .failed, timeout: .seconds(30)))
        #expect(counts(dir) == ["prepare": 1, "item-0": 1, "item-1": 1, "item-2": 1, "finish": 1])
        let firstTasks = try await stack.client.taskRuns(first)
        #expect(firstTasks.allSatisfy { $0.cacheKey?.count == 64 }, "every task run has its key: \(firstTasks)")

        // The cause is fixed; the resumed attempt runs only `finish`.
        try FileManager.default.removeItem(atPath: dir + "/fail")
        let resumed = try await stack.fathom(["retry", first, "--resume", "--watch"])
        #expect(resumed.exit == 0, "\(resumed.output)")
        let second = try #require(resumed.output.first { $0.hasPrefix("flow run ") }.map { String($0.split(separator: " ")[2]) })
        #expect(counts(dir) == ["prepare": 1, "item-0": 1, "item-1": 1, "item-2": 1, "finish": 2], "only finish ran again")
        let run = try await stack.client.run(second)
        #expect(run.resumeOf == first && run.retryOf == first && run.attempt == 2 && run.state == .completed)
        let tasks = try await stack.client.taskRuns(second)
        let byName = Dictionary(tasks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for name in ["prepare", "item-0", "item-1", "item-2"] {
            #expect(byName[name]?.state == .cached && byName[name]?.cachedFrom == first, "\(name): \(String(describing: byName[name]))")
        }
        #expect(byName["prepare"]?.result == firstTasks.first { $0.name == "prepare" }?.result)
        #expect(byName["prepare"]?.result == .object(["lines": .int(30), "note": .string("prepared")]))
        #expect(byName["finish"]?.state == .completed)
        #expect(byName["prepare"]?.cacheKey == firstTasks.first { $0.name == "prepare" }?.cacheKey)
        let logs = try await stack.client.logs(second, limit: 1000).lines.map(\.message)
        #expect(logs.contains { $0.contains("resuming run \(first)") }, "\(logs)")

        // Resuming the completed attempt reuses everything, through the chain back to the first run.
        let again = try await stack.fathom(["retry", second, "--resume", "--watch"])
        #expect(again.exit == 0, "\(again.output)")
        #expect(counts(dir) == ["prepare": 1, "item-0": 1, "item-1": 1, "item-2": 1, "finish": 2])
        let third = try #require(again.output.first { $0.hasPrefix("flow run ") }.map { String($0.split(separator: " ")[2]) })
        let thirdTasks = try await stack.client.taskRuns(third)
        #expect(thirdTasks.allSatisfy { $0.state == .cached }, "\(thirdTasks.map { "\($0.name) \($0.state)" })")
        #expect(thirdTasks.first { $0.name == "prepare" }?.cachedFrom == first)
        #expect(thirdTasks.first { $0.name == "finish" }?.cachedFrom == second)

        // The run page's "Retry from failure" button does the same as --resume.
        let page = try await RawHTTP.send(.GET, stack.url + "/runs/\(first)")
        #expect(page.body.contains("id=\"resume-button\""), "a Failed run offers the resume button")
        let resumedPage = try await RawHTTP.send(.GET, stack.url + "/runs/\(second)")
        #expect(resumedPage.body.contains("Cached") && resumedPage.body.contains("href=\"/runs/\(first)\" class=\"muted\">from run"), "cached tasks link their source")
        let resultCell = resumedPage.body.range(of: "note").map { String(resumedPage.body[$0.lowerBound...].prefix(60)) } ?? ""
        #expect(resultCell.contains("prepared"), "prepare's result shows in its row: \(resultCell)")
        let button = try await RawHTTP.send(.POST, stack.url + "/runs/\(first)/resume", body: "", headers: ["Origin": stack.url])
        #expect(button.status == 303, "\(button.status) \(button.body.prefix(300))")
        let fromPage = try #require(button.headers["location"].map { String($0.split(separator: "/").last ?? "") })
        #expect(try await stack.client.run(fromPage).resumeOf == first)
        #expect(await stack.waitFor(fromPage, .completed, timeout: .seconds(30)))
        #expect(counts(dir)["prepare"] == 1, "the button's attempt reused prepare too")

        // A plain retry runs every task again.
        let plain = try await stack.fathom(["retry", second, "--watch"])
        #expect(plain.exit == 0, "\(plain.output)")
        #expect(counts(dir) == ["prepare": 2, "item-0": 2, "item-1": 2, "item-2": 2, "finish": 4])
    }

    @Test func aTaskWhoseOutputChangedRunsAgainWithTheReason() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
        let dir = stack.directory.path + "/stale"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/fail", contents: Data())
        let first = try await stack.startRun("resumable", ["dir=\(dir)"])
        #expect(await stack.waitFor(first, .failed, timeout: .seconds(30)))
        let output = stack.scratch + "/fathom/runs/\(first)/prepared.txt"
        let recorded = try await stack.client.taskRuns(first).first { $0.name == "prepare" }?.outputs
        #expect(recorded?.map(\.path) == [output] && recorded?.first?.size == 9, "\(String(describing: recorded))")

        // Someone rewrote the file prepare made: its result cannot be trusted, so prepare runs again.
        try "changed by hand\n".write(toFile: output, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: dir + "/fail")
        let resumed = try await stack.fathom(["retry", first, "--resume", "--watch"])
        #expect(resumed.exit == 0, "\(resumed.output)")
        #expect(counts(dir) == ["prepare": 2, "item-0": 1, "item-1": 1, "item-2": 1, "finish": 2], "prepare ran again, the items did not")
        let second = try #require(resumed.output.first { $0.hasPrefix("flow run ") }.map { String($0.split(separator: " ")[2]) })
        let logs = try await stack.client.logs(second, limit: 1000).lines.map(\.message)
        #expect(logs.contains { $0.contains("task 'prepare' runs again: its output \(output) changed size (9 → 16 bytes)") }, "\(logs)")
        #expect(try await stack.client.taskRuns(second).first { $0.name == "prepare" }?.state == .completed)
    }

    @Test func everyFailedRunOfAFlowIsResumedOnceInBulk() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
        var failed: [FlowRunID] = []
        var dirs: [String] = []
        for name in ["a", "b"] {
            let dir = stack.directory.path + "/bulk-" + name
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: dir + "/fail", contents: Data())
            let run = try await stack.startRun("resumable", ["dir=\(dir)"])
            #expect(await stack.waitFor(run, .failed, timeout: .seconds(30)))
            failed.append(run)
            dirs.append(dir)
        }
        let fine = stack.directory.path + "/bulk-fine"
        try FileManager.default.createDirectory(atPath: fine, withIntermediateDirectories: true)
        let completed = try await stack.startRun("resumable", ["dir=\(fine)"])
        #expect(await stack.waitFor(completed, .completed, timeout: .seconds(30)))

        let dryRun = try await stack.fathom(["retry", "--flow", "resumable", "--state", "failed,crashed", "--since", "1h", "--dry-run"])
        #expect(dryRun.output.filter { $0.hasPrefix("would retry") }.count == 2, "\(dryRun.output)")
        for dir in dirs { try FileManager.default.removeItem(atPath: dir + "/fail") }
        let bulk = try await stack.fathom(["retry", "--flow", "resumable", "--since", "1h", "--resume"])
        #expect(bulk.exit == 0, "\(bulk.output)")
        let made = bulk.output.filter { $0.hasPrefix("flow run ") }.map { String($0.split(separator: " ")[2]) }
        #expect(made.count == 2, "one new attempt per failed run, none for the completed one: \(bulk.output)")
        for id in made { #expect(await stack.waitFor(id, .completed, timeout: .seconds(30))) }
        var resumed: Set<FlowRunID> = []
        for id in made { if let earlier = try await stack.client.run(id).resumeOf { resumed.insert(earlier) } }
        #expect(resumed == Set(failed))
        for dir in dirs { #expect(counts(dir)["prepare"] == 1 && counts(dir)["finish"] == 2, "\(counts(dir))") }

        let again = try await stack.fathom(["retry", "--flow", "resumable", "--since", "1h", "--resume"])
        #expect(again.output.contains { $0.hasPrefix("no run of resumable") }, "every chain's latest attempt Completed: \(again.output)")
        let refused = try await stack.fathom(["retry", "--flow", "resumable", "--state", "Running"])
        #expect(refused.exit != 0 && refused.output.contains { $0.contains("--state 'Running' is not a final state") }, "\(refused.output)")
    }

    @Test func aRetryPolicyWithResumeResumesEachAttempt() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        let registered = try await stack.fathom(["register", TestPaths.testFlows, "--retries", "1", "--retry-resume"])
        #expect(registered.exit == 0, "\(registered.output)")
        #expect(registered.output.contains { $0.hasPrefix("registered resumable v1") && $0.contains("resuming") }, "\(registered.output)")
        let dir = stack.directory.path + "/policy"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/fail", contents: Data())
        let first = try await stack.startRun("resumable", ["dir=\(dir)"])
        #expect(await stack.waitFor(first, .failed, timeout: .seconds(30)))
        var retry: FlowRun?
        #expect(await eventually(timeout: .seconds(30)) {
            retry = (try? await stack.client.listRuns(flow: "resumable", limit: 10))?.runs.first { $0.retryOf == first }
            return retry?.state == .failed
        }, "the automatic retry ran and failed (the fail file is still there)")
        #expect(retry?.resumeOf == first)
        #expect(counts(dir) == ["prepare": 1, "item-0": 1, "item-1": 1, "item-2": 1, "finish": 2], "the retry ran only finish")
    }
}
