import FathomAPI
import FathomClient
import FathomCore
import FathomServer
import Foundation
import Testing

/// A run's log closes when the run ends: later lines are refused, except the process's own output
/// that its agent copies (CloudWatch lags, a process prints while it stops), which is kept and marked late.
@Suite struct LateLogTests {
    @Test func linesSentToAnEndedRunAreRefusedUnlessTheyAreProcessOutput() async throws {
        try await withCoordinator { _, client in
            _ = try await client.registerFlows(RegisterFlowsRequest(
                bundleSHA256: String(repeating: "a", count: 64), storageURL: "file:///nowhere/bundle",
                flows: [FlowDescription(name: "job", parameters: [])]))
            let run = try await client.createRun(CreateFlowRunRequest(flow: "job"))
            let line = LogEntry(timestamp: Date(), level: "info", message: "while running", source: "flow")
            _ = try await client.sendLogs(run.id, [line])
            _ = try await client.sendLogs(run.id, [LogEntry(timestamp: Date(), level: "info", message: "stdout while running", source: "stdout")], processOutput: true)
            _ = try await client.cancel(run.id)  // Scheduled: cancelled at once
            #expect(try await client.run(run.id).state == .cancelled)
            let before = try await client.logs(run.id, limit: 100).lines

            do {
                _ = try await client.sendLogs(run.id, [LogEntry(timestamp: Date(), level: "info", message: "too late", source: "flow")])
                Issue.record("a flow's line reached an ended run")
            } catch let error as APIClientError {
                #expect(error.status == 409 && error.code == "run_final", "\(error)")
                #expect("\(error)".contains("Cancelled") && "\(error)".contains("processOutput"), "\(error)")
            }
            #expect(try await client.logs(run.id, limit: 100).lines == before, "nothing of the refused batch was stored")

            _ = try await client.sendLogs(
                run.id, [LogEntry(timestamp: Date(), level: "warning", message: "stopping", source: "stderr")], processOutput: true)
            let lines = try await client.logs(run.id, limit: 100).lines
            #expect(lines.first { $0.message == "while running" }?.late == nil)
            #expect(lines.first { $0.message == "stdout while running" }?.late == nil, "process output before the end is not late")
            let late = try #require(lines.first { $0.message == "stopping" })
            #expect(late.late == true && late.seq == before.last.map { $0.seq + 1 }, "kept after the others, marked late")
        }
    }

    /// The flow's own sink turns a refusal into standard error, which the agent copies into the log as late
    /// output: no line is lost, and the flow does not retry a batch that can never be taken.
    @Test func aFlowStillLoggingAfterItsRunEndedHasItsLinesKeptAsLateOutput() async throws {
        let data = TemporaryDirectory("late-lines")
        let server = BackgroundProcess(TestPaths.fathom, ["server", "--port", "0", "--data-dir", data.path + "/data"])
        defer { Task { await server.stop() } }
        let url = try #require(BackgroundProcess.url(in: try await server.waitForLine { $0.contains("listening on http://") }))
        let client = APIClient(baseURL: url)
        try await registerTestFlows(client)
        let agent = BackgroundProcess(
            TestPaths.fathom, ["agent", "--cache-dir", data.path + "/cache"], environment: ["FATHOM_API_URL": url, "FATHOM_HEARTBEAT_SECONDS": "1"])
        defer { Task { await agent.stop() } }
        let run = try await client.createRun(CreateFlowRunRequest(flow: "ticker", parameters: ["count": .int(200), "interval": .double(0.05)]))
        #expect(await eventually(timeout: .seconds(30)) { ((try? await client.logs(run.id, limit: 1000).lines) ?? []).contains { $0.message == "tick 3" } })

        // Someone else ends the run while the flow is still ticking (as the reaper or an operator would).
        _ = try await client.setState(run.id, SetStateRequest(state: .crashed, message: "ended from outside"))
        // The flow notices at its next heartbeat and stops; what it logged in between goes to standard error.
        #expect(await eventually(timeout: .seconds(30)) {
            ((try? await client.logs(run.id, limit: 10_000).lines) ?? []).contains { $0.late == true && $0.message.contains("flow run cancelled") }
        })
        let lines = try await client.logs(run.id, limit: 10_000).lines
        let ended = try #require(try await client.run(run.id).endedAt)
        // A line taken after the end is marked late exactly when it is stamped after the end.
        let firstLate = try #require(lines.firstIndex { $0.late == true })
        let afterTheEnd = lines[firstLate...].filter { $0.timestamp > ended }
        #expect(afterTheEnd.allSatisfy { $0.late == true }, "unmarked after the end: \(afterTheEnd.filter { $0.late != true }.map(\.message))")
        #expect(lines.filter { $0.late == true }.allSatisfy { $0.timestamp > ended }, "a line stamped before the end is not late")
        #expect(lines[..<firstLate].contains { $0.message == "tick 3" && $0.late == nil })
        #expect(try await client.run(run.id).state == .crashed, "the first end stands")
    }
}
