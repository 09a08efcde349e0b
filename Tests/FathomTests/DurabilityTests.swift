import FathomAPI
import FathomClient
import FathomCore
import Foundation
import FathomProcess
import Testing

/// A coordinator killed with SIGKILL mid-way loses no state change or log line it had accepted.
@Suite(.serialized)
struct DurabilityTests {
    func startServer(dataDirectory: String) async throws -> (BackgroundProcess, APIClient) {
        let server = BackgroundProcess(TestPaths.fathom, ["server", "--port", "0", "--data-dir", dataDirectory])
        let line = try await server.waitForLine { $0.contains("listening on http://") }
        let url = try #require(BackgroundProcess.url(in: line))
        return (server, APIClient(baseURL: url))
    }

    @Test func aServerKilledMidStreamLosesNoAcceptedStateOrLogLine() async throws {
        let directory = TemporaryDirectory("fathom-durability")
        let (first, client) = try await startServer(dataDirectory: directory.path)
        try await registerTestFlows(client)
        let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
        let agent = try await client.registerAgent(AgentRegistration(name: "a"))
        _ = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
        try await client.setState(run.id, SetStateRequest(state: .running, message: "started before the crash"))

        // Stream batches of 20 lines; kill the server while they flow.
        let accepted = Locked<[Int]>([])
        let writer = Task {
            for batch in 0..<100_000 {
                let entries = (0..<20).map { LogEntry(timestamp: Date(), level: "info", message: "batch \(batch) line \($0)") }
                do {
                    try await client.sendLogs(run.id, entries)
                    accepted.withLock { $0.append(batch) }
                } catch {
                    return
                }
            }
        }
        // Under a loaded CI machine (other suites run alongside) batches may flow slowly; 50 must have arrived.
        #expect(await eventually(timeout: .seconds(90)) { accepted.value.count >= 50 })
        first.kill9()
        await writer.value
        await first.stop()
        let acceptedBatches = accepted.value
        #expect(acceptedBatches.count >= 50)

        let (second, restarted) = try await startServer(dataDirectory: directory.path)
        let survivor = try await restarted.run(run.id)
        #expect(survivor.state == .running)
        #expect(survivor.history?.map(\.state) == [.scheduled, .pending, .running])
        var lines: [LogLine] = []
        var after: Int64 = 0
        while true {
            let page = try await restarted.logs(run.id, after: after, limit: 5000)
            lines += page.lines
            if page.lines.isEmpty { break }
            after = page.next
        }
        let stored = Set(lines.map(\.message))
        for batch in acceptedBatches {
            for line in 0..<20 { #expect(stored.contains("batch \(batch) line \(line)"), "accepted line lost: batch \(batch) line \(line)") }
        }
        #expect(lines.map(\.seq) == Array(1...Int64(lines.count)), "sequence numbers have no gaps")
        await second.stop()
    }

    @Test(.timeLimit(.minutes(2)))
    func aFlowWhoseCoordinatorIsGoneEndsWithinTheGraceAndPrintsWhatItCouldNotDeliver() async throws {
        let directory = TemporaryDirectory("fathom-orphan")
        let (server, client) = try await startServer(dataDirectory: directory.path)
        try await registerTestFlows(client)
        let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper", parameters: ["seconds": 2]))
        let agent = try await client.registerAgent(AgentRegistration(name: "a"))
        _ = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
        let started = ContinuousClock.now
        // A volume, so that the flow has a workspace size to record at its end, also within the grace.
        let volume = TemporaryDirectory("fathom-orphan-volume")
        try FileManager.default.createDirectory(atPath: volume.path + "/fathom/runs/\(run.id)", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: volume.path + "/fathom/runs/\(run.id)/file"))
        let flow = Task {
            try await runCommand(
                TestPaths.testFlows, ["run", "--flow-run", run.id, "--api-url", client.baseURL],
                environment: ["FATHOM_COORDINATOR_GRACE": "3", "FATHOM_VOLUMES": #"{"scratch": "\#(volume.path)"}"#])
        }
        #expect(await eventually { (try? await client.run(run.id).state) == .running })
        server.kill9()
        await server.stop()
        let result = try await flow.value
        #expect(ContinuousClock.now - started < .seconds(30), "the flow process must not wait for the coordinator forever")
        #expect(result.exit.exitCode == 0, "\(result.exit)")
        let stderr = result.exit.stderrTail.joined(separator: "\n")
        #expect(stderr.contains("the coordinator did not take the last"), "\(stderr)")
        #expect(stderr.contains("woke up"), "undelivered records are printed: \(stderr)")
    }

    @Test func graceValuesOutOfRangeFallBackToTheDefault() async throws {
        try await withCoordinator { _, client in
            try await registerTestFlows(client)
            let agent = try await client.registerAgent(AgentRegistration(name: "a"))
            for grace in ["inf", "nan", "-1", "1e300", "soon"] {
                let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper", parameters: ["seconds": 0]))
                _ = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
                let result = try await runCommand(
                    TestPaths.testFlows, ["run", "--flow-run", run.id, "--api-url", client.baseURL],
                    environment: ["FATHOM_COORDINATOR_GRACE": grace])
                #expect(result.exit.exitCode == 0, "FATHOM_COORDINATOR_GRACE=\(grace): \(result.exit) \(result.output.suffix(5))")
                #expect(try await client.run(run.id).state == .completed)
            }
        }
    }
}
