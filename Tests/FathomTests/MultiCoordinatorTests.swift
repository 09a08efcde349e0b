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

    @Test func aLongPollOnOneCoordinatorWakesForAChangeMadeThroughAnother() async throws {
        let database = try await PostgresServer.shared().createDatabase()
        let directory = TemporaryDirectory("multi-coordinator")
        let bundles = directory.path + "/bundles"
        try FileManager.default.createDirectory(atPath: bundles, withIntermediateDirectories: true)
        let a = try await Coordinator(database: database, bundles: bundles, directory: directory, name: "a")
        let b = try await Coordinator(database: database, bundles: bundles, directory: directory, name: "b")
        defer { Task { await a.process.stop(); await b.process.stop() } }
        _ = try await a.client.registerFlows(RegisterFlowsRequest(
            bundleSHA256: String(repeating: "ab", count: 32), storageURL: "file:///nowhere/bundle",
            flows: [FlowDescription(name: "short", summary: "", parameters: [])]))

        // An agent waits on A for work; the run is made on B.
        let agent = try await a.client.registerAgent(AgentRegistration(name: "agent-1"))
        let waiting = Task { () -> (ClaimResponse, Duration) in
            let started = ContinuousClock.now
            let answer = try await a.client.claim(agent: agent.id, ClaimRequest(waitSeconds: 20))
            return (answer, ContinuousClock.now - started)
        }
        try await Task.sleep(for: .milliseconds(500))  // the claim is parked on A
        let made = ContinuousClock.now
        let run = try await b.client.createRun(CreateFlowRunRequest(flow: "short"))
        let (claim, waited) = try await waiting.value
        let woke = ContinuousClock.now - made
        #expect(claim.runs.map(\.run.id) == [run.id], "A handed out the run B made")
        #expect(woke < .seconds(2) && waited < .seconds(5), "woken by B's change, not by the 20 s timeout: \(woke)")

        // A browser follows the run's lines on B while they are posted to A.
        let following = Task { try await b.client.logs(run.id, after: 0, waitSeconds: 20) }
        try await Task.sleep(for: .milliseconds(500))
        let posted = ContinuousClock.now
        _ = try await a.client.sendLogs(run.id, [LogEntry(timestamp: Date(), level: .info, message: "hello from A")])
        let page = try await following.value
        #expect(page.lines.map(\.message).contains("hello from A"), "\(page.lines.map(\.message))")
        #expect(ContinuousClock.now - posted < .seconds(2), "the line reached B's long-poll at once")
    }
}
