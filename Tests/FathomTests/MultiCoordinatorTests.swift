import FathomAPI
import FathomClient
import FathomCore
import Foundation
import Testing

/// Several `fathom server` processes on one PostgreSQL database: what one is told, the others' long-polls hear at once.
@Suite(.serialized, .enabled(if: PostgresServer.unavailableReason == nil, "\(PostgresServer.unavailableReason ?? "")"))
struct MultiCoordinatorTests {
    /// `fathom server --database URL` on a free port, with bundles in a directory the coordinators share.
    struct Coordinator {
        let process: BackgroundProcess
        let client: APIClient
        let url: String

        init(database: String, bundles: String, directory: TemporaryDirectory, name: String) async throws {
            process = BackgroundProcess(
                TestPaths.fathom,
                ["server", "--port", "0", "--data-dir", directory.path + "/" + name, "--storage", bundles, "--allow-bundle-prefix", "file:///nowhere/"],
                environment: ["FATHOM_DATABASE_URL": database])
            let line = try await process.waitForLine { $0.contains("coordinator listening on http://") }
            url = try #require(BackgroundProcess.url(in: line))
            #expect(line.contains("database: postgres://fathom@127.0.0.1:") && !line.contains("password"), "\(line)")
            client = APIClient(baseURL: url)
        }
    }

    /// Two coordinators on a new database, sharing a bundle directory, in a new temporary directory.
    func twoCoordinators(_ label: String) async throws -> (Coordinator, Coordinator, TemporaryDirectory) {
        let database = try await PostgresServer.shared().createDatabase()
        let directory = TemporaryDirectory(label)
        let bundles = directory.path + "/bundles"
        try FileManager.default.createDirectory(atPath: bundles, withIntermediateDirectories: true)
        let a = try await Coordinator(database: database, bundles: bundles, directory: directory, name: "a")
        let b = try await Coordinator(database: database, bundles: bundles, directory: directory, name: "b")
        return (a, b, directory)
    }

    @Test func aLongPollOnOneCoordinatorWakesForAChangeMadeThroughAnother() async throws {
        let (a, b, directory) = try await twoCoordinators("multi-coordinator")
        defer { Task { await a.process.stop(); await b.process.stop() } }
        _ = try await a.client.registerFlows(RegisterFlowsRequest(
            bundleSHA256: String(repeating: "ab", count: 32), storageURL: "file:///nowhere/bundle",
            flows: [FlowDescription(name: "short", summary: "", parameters: [])]))

        // An agent waits on A for work; the run is made on B.
        let agent = try await a.client.registerAgent(AgentRegistration(name: "agent-1"))
        let waiting = Task { () -> (ClaimResponse, Duration) in
            let started = ContinuousClock.now
            let answer = try await a.client.claim(agent: agent.id, ClaimRequest(waitSeconds: 60))
            return (answer, ContinuousClock.now - started)
        }
        try await Task.sleep(for: .milliseconds(500))  // the claim is parked on A
        let made = ContinuousClock.now
        let run = try await b.client.createRun(CreateFlowRunRequest(flow: "short"))
        let (claim, waited) = try await waiting.value
        let woke = ContinuousClock.now - made
        #expect(claim.runs.map(\.run.id) == [run.id], "A handed out the run B made")
        // Far below the 60 s wait, with room for a loaded machine.
        #expect(woke < .seconds(20) && waited < .seconds(25), "woken by B's change, not by the 60 s timeout: \(woke)")

        // A browser follows the run's lines on B while they are posted to A.
        let following = Task { try await b.client.logs(run.id, after: 0, waitSeconds: 60) }
        try await Task.sleep(for: .milliseconds(500))
        let posted = ContinuousClock.now
        _ = try await a.client.sendLogs(run.id, [LogEntry(timestamp: Date(), level: .info, message: "hello from A")])
        let page = try await following.value
        #expect(page.lines.map(\.message).contains("hello from A"), "\(page.lines.map(\.message))")
        #expect(ContinuousClock.now - posted < .seconds(20), "the line reached B's 60 s long-poll at once")
        await a.process.stop()
        await b.process.stop()
        withExtendedLifetime(directory) {}  // the servers' data and bundles stay until they stopped
    }

    @Test func clientsAgentsAndFlowsMoveToTheNextCoordinatorWhenOneDies() async throws {
        let (a, b, directory) = try await twoCoordinators("multi-failover")
        defer { Task { await a.process.stop(); await b.process.stop() } }

        // A client whose first URL has nobody listening moves on, and stays on the one that answered.
        let dead = "http://127.0.0.1:\(try LoopbackPort.unused())"
        let client = APIClient(baseURL: "\(dead),\(a.url),\(b.url)")
        #expect(try await client.listFlows().isEmpty)
        #expect(client.baseURL == a.url && client.urlList == "\(dead),\(a.url),\(b.url)")

        let urls = "\(a.url),\(b.url)"
        let registered = try await runCommand(TestPaths.fathom, ["register", TestPaths.testFlows], environment: ["FATHOM_API_URL": urls])
        #expect(registered.exit.succeeded, "\(registered.output)")
        let agent = BackgroundProcess(
            TestPaths.fathom, ["agent", "--cache-dir", directory.path + "/cache"],
            environment: ["FATHOM_API_URL": urls, "FATHOM_HEARTBEAT_SECONDS": "0.5"])
        defer { Task { await agent.stop() } }
        let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper", parameters: ["seconds": 6]))
        let running = await eventually(timeout: .seconds(30)) { (try? await client.run(run.id).state) == .running }
        #expect(running)

        // A dies mid-run: the agent, the flow's heartbeats and its final state go to B.
        kill(a.process.pid ?? 0, SIGKILL)
        let onB = APIClient(baseURL: b.url)
        let completed = await eventually(timeout: .seconds(60)) { (try? await onB.run(run.id).state) == .completed }
        let finished = try await onB.run(run.id)
        #expect(completed, "\(finished.state): \(finished.stateMessage)")
        let lines = try await onB.logs(run.id, limit: 100).lines.map(\.message)
        #expect(lines.contains("woke up"), "the flow's last line arrived through B: \(lines)")
        await agent.stop()
        await b.process.stop()
    }
}
