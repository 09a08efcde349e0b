import FathomAPI
import FathomClient
import FathomCore
import FathomServer
import Foundation
import Testing

/// Requests that used to kill the coordinator. Each is sent to a real `fathom server` process
/// (with a token, as when it listens beyond loopback); afterwards the server must still answer
/// `/healthz` and hold its data.
@Suite(.serialized)
struct HardeningTests {
    final class Server: Sendable {
        let process: BackgroundProcess
        let url: String
        let client: APIClient
        static let token = "hardening-secret"

        init(dataDirectory: String, arguments: [String] = []) async throws {
            process = BackgroundProcess(
                TestPaths.fathom, ["server", "--port", "0", "--data-dir", dataDirectory, "--token", Self.token] + arguments)
            let line = try await process.waitForLine { $0.contains("listening on http://") }
            url = try #require(BackgroundProcess.url(in: line))
            client = APIClient(baseURL: url, token: Self.token)
        }

        var authorization: [String: String] { ["Authorization": "Bearer \(Self.token)"] }

        /// A signed-in browser's cookie, for the web UI's pages.
        func signIn() async throws -> [String: String] {
            let answer = try await RawHTTP.send(
                .POST, url + "/login", body: "token=\(Self.token)", headers: ["Content-Type": "application/x-www-form-urlencoded"])
            let cookie = try #require(answer.headers["set-cookie"]?.split(separator: ";").first)
            return ["Cookie": String(cookie)]
        }

        /// The server still answers, and the run made before the probes is still there.
        func expectAlive(_ runID: FlowRunID, after probe: String) async {
            let health = try? await RawHTTP.send(.GET, url + "/healthz")
            #expect(health?.status == 200, "the server died after \(probe): \(process.output.suffix(8))")
            let run = try? await client.run(runID)
            #expect(run?.id == runID, "the run made before \(probe) is still there")
        }
    }

    @Test func malformedFormBodiesAnswer400AndNeverKillTheServer() async throws {
        let data = TemporaryDirectory("fathom-hardening")
        let server = try await Server(dataDirectory: data.path)
        defer { Task { await server.process.stop() } }
        try await registerTestFlows(server.client)
        let run = try await server.client.createRun(CreateFlowRunRequest(flow: "noop-tasks"))
        let form = ["Content-Type": "application/x-www-form-urlencoded"]
        for body in ["token=%zz", "token=%", "token=%4", "next=%ff%fe&token=x", "token=%C3%28"] {
            let answer = try await RawHTTP.send(.POST, server.url + "/login", body: body, headers: form)
            #expect(answer.status == 400, "\(body): \(answer.status) \(answer.body)")
            #expect(answer.body.contains("malformed form body") && answer.headers["content-type"]?.hasPrefix("text/html") == true, "\(body): \(answer.body)")
            await server.expectAlive(run.id, after: "POST /login \(body)")
        }
        // Bodies a careless client sends (a raw space, raw UTF-8, a quote) are read as they are.
        for body in ["token=a b", "token=é", "next=/\"x\"&token=wrong"] {
            let answer = try await RawHTTP.send(.POST, server.url + "/login", body: body, headers: form)
            #expect(answer.status == 401, "\(body): \(answer.status)")
            await server.expectAlive(run.id, after: "POST /login \(body)")
        }
        // The real token still signs in, and `next` may only be a plain local path.
        let signIn = try await RawHTTP.send(.POST, server.url + "/login", body: "token=\(Server.token)&next=%2Fruns", headers: form)
        #expect(signIn.status == 303 && signIn.headers["location"] == "/runs")
        for next in ["/%09/evil.example", "/%0A/evil.example", "//evil.example", "/%5Cevil.example", "https://evil.example"] {
            let answer = try await RawHTTP.send(.POST, server.url + "/login", body: "token=\(Server.token)&next=\(next)", headers: form)
            #expect(answer.headers["location"] == "/", "next=\(next) must not leave the site: \(answer.headers["location"] ?? "")")
        }
    }

    @Test func numbersOutOfRangeAnswer400NamingTheFieldAndTheRange() async throws {
        let data = TemporaryDirectory("fathom-hardening")
        let server = try await Server(dataDirectory: data.path)
        defer { Task { await server.process.stop() } }
        try await registerTestFlows(server.client)
        let run = try await server.client.createRun(CreateFlowRunRequest(flow: "noop-tasks"))
        for (query, field) in [
            ("wait=1e16", "wait"), ("wait=inf", "wait"), ("wait=1e308", "wait"), ("wait=-1", "wait"), ("wait=nan", "wait"),
            ("limit=-1", "limit"), ("limit=0", "limit"), ("limit=99999999999", "limit"),
        ] {
            let answer = try await RawHTTP.send(.GET, server.url + "/api/v1/flow-runs/\(run.id)/logs?\(query)", headers: server.authorization)
            #expect(answer.status == 400, "\(query): \(answer.status) \(answer.body)")
            #expect(answer.error?.error.field == field, "\(query): \(answer.body)")
            await server.expectAlive(run.id, after: "GET logs?\(query)")
        }
        let list = try await RawHTTP.send(.GET, server.url + "/api/v1/flow-runs?limit=-1", headers: server.authorization)
        #expect(list.status == 400 && list.body.contains("from 1 to 1000"), "\(list.body)")

        let agent = try await server.client.registerAgent(AgentRegistration(name: "prober"))
        for (body, field) in [
            (#"{"waitSeconds": 1e300, "capacity": 1}"#, "waitSeconds"), (#"{"waitSeconds": -1e300, "capacity": 1}"#, "waitSeconds"),
            (#"{"waitSeconds": 0, "capacity": 1, "leaseSeconds": 1e300}"#, "leaseSeconds"),
            (#"{"waitSeconds": 0, "capacity": 1, "leaseSeconds": -1e300}"#, "leaseSeconds"),
            (#"{"waitSeconds": 0, "capacity": 9223372036854775807}"#, "capacity"),
            (#"{"waitSeconds": 0, "capacity": -5}"#, "capacity"),
        ] {
            let answer = try await RawHTTP.send(
                .POST, server.url + "/api/v1/agents/\(agent.id)/claim", body: body, headers: server.authorization)
            #expect(answer.status == 400, "\(body): \(answer.status) \(answer.body)")
            #expect(answer.error?.error.field == field, "\(body): \(answer.body)")
            #expect(answer.body.contains("from "), "the message states the allowed range: \(answer.body)")
            await server.expectAlive(run.id, after: "claim \(body)")
        }
        #expect(try await server.client.run(run.id).state == .scheduled, "no refused claim took the run")
    }

    @Test func anIntervalPastTheLimitIsRefusedAndAStoredOneCannotKillTheServer() async throws {
        let data = TemporaryDirectory("fathom-hardening")
        let first = try await Server(dataDirectory: data.path)
        var server = first
        try await registerTestFlows(server.client)
        let run = try await server.client.createRun(CreateFlowRunRequest(flow: "noop-tasks"))
        for interval in ["1e308", "1e20", "0.5", "-3"] {
            let answer = try await RawHTTP.send(
                .POST, server.url + "/api/v1/schedules", body: #"{"flow": "noop-tasks", "name": "poison", "intervalSeconds": \#(interval)}"#,
                headers: server.authorization)
            #expect(answer.status == 422, "\(interval): \(answer.status) \(answer.body)")
            #expect(answer.error?.error.field == "interval", "\(interval): \(answer.body)")
        }
        #expect(try await server.client.listSchedules().isEmpty, "nothing half-written")
        let page = try await RawHTTP.send(.GET, server.url + "/", headers: try await server.signIn())
        #expect(page.status == 200)

        // A value that an earlier version stored (written here straight into the database) is read without trapping.
        _ = try await server.client.createSchedule(CreateScheduleRequest(flow: "noop-tasks", name: "stored", intervalSeconds: 3600))
        await server.process.stop()
        let edit = try await runCommand("/usr/bin/env", [
            "python3", "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('UPDATE schedules SET interval_seconds=1e308, anchor=1e300'); c.commit()",
            data.path + "/fathom.sqlite",
        ])
        #expect(edit.exit.exitCode == 0, "\(edit.output)")
        let restarted = try await Server(dataDirectory: data.path)
        server = restarted
        defer { Task { await restarted.process.stop() } }
        for path in ["/", "/flows/noop-tasks", "/runs"] {
            let answer = try await RawHTTP.send(.GET, server.url + path, headers: try await server.signIn())
            #expect(answer.status == 200, "\(path): \(answer.status)")
        }
        let listed = try await runCommand(TestPaths.fathom, ["schedule", "list", "--api-url", server.url, "--token", Server.token])
        #expect(listed.exit.exitCode == 0, "\(listed.output)")
        try await Task.sleep(for: .seconds(1.5))  // a housekeeper round reads the schedule too
        await server.expectAlive(run.id, after: "a stored interval of 1e308 s")
    }

    @Test func formParsingNeverTrapsOnRandomBytes() async throws {
        try await offThePool(lowestPriority: false) {
            var generator = SystemRandomNumberGenerator()
            let alphabet = Array("%+=&aZ09 é\"\\\u{0}\u{FF}".utf8) + [0xC3, 0x28, 0xFF, 0xFE]
            var parsed = 0
            for _ in 0..<20_000 {
                let length = Int.random(in: 0...24, using: &generator)
                let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
                if (try? FormFields.parse(bytes)) != nil { parsed += 1 }
            }
            #expect(parsed > 0, "some random forms are valid")
        }
        #expect(try FormFields.parse("a=1&b=x+y%21&a=2&c") == ["a": "2", "b": "x y!", "c": ""])
    }
}
