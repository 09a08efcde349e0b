import AsyncHTTPClient
import FathomAPI
import FathomClient
import FathomCore
import FathomServer
import FathomStorage
import Foundation
import Testing

/// Requests that acted for a user or told less than the truth: cross-site API calls, unplain paths,
/// sessions that never ended, reused idempotency keys, bundle URLs an agent would execute, oversized
/// uploads, and failures answered with an empty 500.
@Suite(.serialized)
struct HardeningRequestTests {
    typealias Server = HardeningTests.Server

    @Test func aPageOnAnotherSiteCannotStartARun() async throws {
        // `fathom dev`'s default: no token. A cross-site page can send a "simple" request (text/plain, no preflight).
        try await withCoordinator { coordinator, client in
            _ = try await client.registerFlows(RegisterFlowsRequest(
                bundleSHA256: String(repeating: "ab", count: 32), storageURL: "file:///nowhere", flows: [FlowDescription(name: "hello", parameters: [])]))
            let url = coordinator.url + "/api/v1/flow-runs"
            let body = #"{"flow":"hello"}"#
            let crossSite = try await RawHTTP.send(.POST, url, body: body, headers: ["Origin": "http://evil.example", "Content-Type": "text/plain"])
            #expect(crossSite.status == 403 && crossSite.error?.error.code == "cross_site_request", "\(crossSite.status) \(crossSite.body)")
            let fetchMetadata = try await RawHTTP.send(.POST, url, body: body, headers: ["Sec-Fetch-Site": "cross-site"])
            #expect(fetchMetadata.status == 403)
            let textPlain = try await RawHTTP.send(.POST, url, body: body, headers: ["Content-Type": "text/plain"])
            #expect(textPlain.status == 415 && textPlain.error?.error.field == "Content-Type", "\(textPlain.body)")
            let form = try await RawHTTP.send(.POST, url, body: "flow=hello", headers: ["Content-Type": "application/x-www-form-urlencoded"])
            #expect(form.status == 415)
            #expect(try await client.listRuns().runs.isEmpty, "no run was made")
            // A program (no Origin) and Fathom's own pages (same origin) still may.
            #expect(try await RawHTTP.send(.POST, url, body: body).status == 201)
            let origin = coordinator.url
            #expect(try await RawHTTP.send(.POST, url, body: body, headers: ["Origin": origin, "Sec-Fetch-Site": "same-origin"]).status == 201)
        }
    }

    @Test func unplainPathsAreRefusedBeforeAuthorization() async throws {
        let data = TemporaryDirectory("fathom-hardening")
        let server = try await Server(dataDirectory: data.path)
        defer { Task { await server.process.stop() } }
        let cookie = try await server.signIn()
        for path in ["//api/v1/flows", "/api/v1//flows", "/api/v1/%2e%2e/v1/flows", "/./api/v1/flows"] {
            let answer = try await RawHTTP.send(.GET, server.url + path, headers: cookie)
            #expect(answer.status == 400 || answer.status == 401, "\(path) with only a UI cookie: \(answer.status) \(answer.body.prefix(200))")
            #expect(!answer.body.contains("\"flows\""), "\(path) must not list flows without the bearer token")
        }
        #expect(try await RawHTTP.send(.GET, server.url + "/api/v1/flows", headers: cookie).status == 401, "the API wants its token, not a cookie")
        #expect(try await RawHTTP.send(.GET, server.url + "/api/v1/flows", headers: server.authorization).status == 200)
    }

    @Test func aSessionEndsAtSignOutAndAtItsExpiry() async throws {
        let clock = TestClock(Date())
        try await withCoordinator(token: "session-token", configure: { $0.sessionLifetime = .seconds(2); $0.clock = { clock.now } }) { coordinator, _ in
            let form = ["Content-Type": "application/x-www-form-urlencoded"]
            func signIn() async throws -> [String: String] {
                let answer = try await RawHTTP.send(.POST, coordinator.url + "/login", body: "token=session-token", headers: form)
                #expect(answer.headers["set-cookie"]?.contains("Max-Age=2") == true)
                return ["Cookie": String(try #require(answer.headers["set-cookie"]?.split(separator: ";").first))]
            }
            let first = try await signIn()
            #expect(try await RawHTTP.send(.GET, coordinator.url + "/runs", headers: first).status == 200)
            let second = try await signIn()
            #expect(first != second, "each sign-in is its own session")
            _ = try await RawHTTP.send(.POST, coordinator.url + "/logout", body: "", headers: first.merging(form) { a, _ in a })
            #expect(try await RawHTTP.send(.GET, coordinator.url + "/runs", headers: first).status == 401, "the signed-out cookie no longer works")
            #expect(try await RawHTTP.send(.GET, coordinator.url + "/runs", headers: second).status == 200, "the other session lives on")
            clock.advance(2.5)
            #expect(try await RawHTTP.send(.GET, coordinator.url + "/runs", headers: second).status == 401, "expired")
        }
    }

    @Test func anIdempotencyKeyMeansOneRequest() async throws {
        try await withCoordinator { _, client in
            _ = try await client.registerFlows(RegisterFlowsRequest(
                bundleSHA256: String(repeating: "ab", count: 32), storageURL: "file:///nowhere", flows: [
                    FlowDescription(name: "a", parameters: [ParameterSpec(name: "n", type: .int, defaultValue: .int(1))]),
                    FlowDescription(name: "b", parameters: []),
                ]))
            let first = try await client.createRun(CreateFlowRunRequest(flow: "a", parameters: ["n": 2], idempotencyKey: "nightly-2026-11-30"))
            let again = try await client.createRun(CreateFlowRunRequest(flow: "a", parameters: ["n": 2], idempotencyKey: "nightly-2026-11-30"))
            #expect(again.id == first.id, "the same request gets the same run")
            for other in [
                CreateFlowRunRequest(flow: "b", idempotencyKey: "nightly-2026-11-30"),
                CreateFlowRunRequest(flow: "a", parameters: ["n": 3], idempotencyKey: "nightly-2026-11-30"),
            ] {
                do {
                    _ = try await client.createRun(other)
                    Issue.record("a different request with the same key must be refused")
                } catch let error as APIClientError {
                    #expect(error.status == 409, "\(error)")
                    #expect("\(error)".contains("idempotency key 'nightly-2026-11-30' was used for run \(first.id)"), "\(error)")
                }
            }
            #expect(try await client.listRuns().runs.count == 1)
        }
    }

    @Test func onlyTheCoordinatorsOwnBundlesMayBeRegisteredAndUploadsAreBounded() async throws {
        let data = TemporaryDirectory("fathom-hardening")
        let server = try await Server(dataDirectory: data.path, arguments: ["--max-bundle-size", "1K"])
        defer { Task { await server.process.stop() } }
        for url in ["file:///bin/true", "s3://someone-elses-bucket/x/bundles/\(String(repeating: "ab", count: 32))", "http://evil.example/b"] {
            do {
                _ = try await server.client.registerFlows(RegisterFlowsRequest(
                    bundleSHA256: String(repeating: "ab", count: 32), storageURL: url, flows: [FlowDescription(name: "pwn", parameters: [])]))
                Issue.record("\(url) was accepted")
            } catch let error as APIClientError {
                #expect(error.status == 422 && "\(error)".contains("storageURL"), "\(url): \(error)")
            }
        }
        #expect(try await server.client.listFlows().isEmpty, "nothing was registered")
        let big = String(repeating: "x", count: 2048)
        let sha = FileHashing.sha256(of: Data(big.utf8))
        let upload = try await RawHTTP.send(
            .PUT, server.url + "/api/v1/bundles/\(sha)", body: big, headers: server.authorization.merging(["Content-Type": "application/octet-stream"]) { a, _ in a })
        #expect(upload.status == 413 && upload.error?.error.code == "bundle_too_large", "\(upload.status) \(upload.body)")
        #expect(try await RawHTTP.send(.GET, server.url + "/api/v1/bundles/\(sha)", headers: server.authorization).status == 404, "nothing stored")
        let small = "small bundle"
        let smallSHA = FileHashing.sha256(of: Data(small.utf8))
        let accepted = try await RawHTTP.send(
            .PUT, server.url + "/api/v1/bundles/\(smallSHA)", body: small, headers: server.authorization.merging(["Content-Type": "application/octet-stream"]) { a, _ in a })
        #expect(accepted.status == 201 || accepted.status == 200, "\(accepted.status) \(accepted.body)")
    }

    @Test func allTheLinesOfAHugeRunStreamInBoundedMemory() async throws {
        let data = TemporaryDirectory("fathom-hardening")
        let server = try await Server(dataDirectory: data.path)
        defer { Task { await server.process.stop() } }
        try await registerTestFlows(server.client)
        let run = try await server.client.createRun(CreateFlowRunRequest(flow: "noop-tasks"))
        // Cancelled at once, so no "Unclaimed" warning joins the lines while they are sent.
        _ = try await server.client.cancel(run.id)
        let ownLines = try await server.client.logs(run.id, limit: 1000).lines.count
        let lineCount = 400_000
        for batch in 0..<(lineCount / 10_000) {
            // Process output, as an agent copies it: kept although the run has ended.
            _ = try await server.client.sendLogs(run.id, (0..<10_000).map {
                LogEntry(timestamp: Date(), level: "info", message: "line \(batch * 10_000 + $0) " + String(repeating: "x", count: 60))
            }, processOutput: true)
        }
        func peakKiB() throws -> Int {
            let status = try String(contentsOfFile: "/proc/\(try #require(server.process.pid))/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
        }
        let before = try peakKiB()
        let cookie = try await server.signIn()
        var request = HTTPClientRequest(url: server.url + "/runs/\(run.id)/log.txt")
        for (name, value) in cookie { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        var bytes = 0
        var newlines = 0
        var tail = ""
        for try await buffer in response.body {
            bytes += buffer.readableBytes
            newlines += buffer.readableBytesView.lazy.filter { $0 == 0x0A }.count
            tail = String((tail + String(buffer: buffer)).suffix(200))
        }
        let after = try peakKiB()
        #expect(response.status == .ok)
        #expect(newlines == lineCount + ownLines, "every line came: \(newlines)")
        #expect(tail.hasSuffix("line \(lineCount - 1) " + String(repeating: "x", count: 60) + "\n"))
        #expect(after - before < 30 * 1024, "the server's peak memory grew \((after - before) / 1024) MiB for \(bytes / 1_048_576) MiB of lines")
    }

    @Test func aDataDirectoryThatRefusesWritesGetsTruthfulAnswers() async throws {
        let data = TemporaryDirectory("fathom-hardening")
        let server = try await Server(dataDirectory: data.path)
        defer { Task { await server.process.stop() } }
        try await registerTestFlows(server.client)
        #expect(try await RawHTTP.send(.GET, server.url + "/readyz").status == 200)
        // The data directory, the database, its WAL and the bundle directory refuse writes. (Not the -shm file:
        // SQLite maps it shared, and the kernel answers a write to a mapping of a file made immutable
        // meanwhile with SIGBUS, a signal no process survives.)
        let files = try FileManager.default.contentsOfDirectory(atPath: data.path).filter { !$0.hasSuffix("-shm") }.map { data.path + "/" + $0 } + [data.path]
        let frozen = try await runCommand("/usr/bin/chattr", ["+i"] + files)
        #expect(frozen.exit.exitCode == 0, "\(frozen.output)")
        defer { _ = try? Process.run(URL(fileURLWithPath: "/usr/bin/chattr"), arguments: ["-i"] + files).waitUntilExit() }
        let answer: RawHTTP.Answer
        do {
            answer = try await RawHTTP.send(
                .POST, server.url + "/api/v1/flow-runs", body: #"{"flow":"noop-tasks"}"#, headers: server.authorization.merging(["X-Request-Id": "probe-42"]) { a, _ in a })
        } catch {
            Issue.record("the server did not answer: \(error); its output: \(server.process.output.suffix(15))")
            return
        }
        #expect(answer.status == 500, "\(answer.status) \(answer.body)")
        #expect(answer.error?.error.code == "internal_error" && answer.error?.error.requestId == "probe-42", "\(answer.body)")
        #expect(answer.headers["x-request-id"] == "probe-42")
        let logged = await eventually(timeout: .seconds(60)) { server.process.output.contains { $0.contains("probe-42") && $0.contains("request failed") } }
        #expect(logged, "the 500 is in the server's log with its request id: \(server.process.output.suffix(5))")
        let ready = try await RawHTTP.send(.GET, server.url + "/readyz")
        #expect(ready.status == 503 && ready.body.contains("cannot write"), "\(ready.status) \(ready.body)")
        _ = try await runCommand("/usr/bin/chattr", ["-i"] + files)
        #expect(try await RawHTTP.send(.GET, server.url + "/readyz").status == 200, "ready again once writes work")
        let health = try await RawHTTP.send(.GET, server.url + "/healthz")
        #expect(health.status == 200 && health.headers["x-request-id"] != nil)
    }
}
