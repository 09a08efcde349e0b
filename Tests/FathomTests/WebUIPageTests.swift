import FathomAPI
import FathomClient
import FathomCore
import Foundation
import Testing

/// Web UI pages over plain HTTP: long logs, paging, missing things, and the form guards.
@Suite struct WebUIPageTests {
    func registerFlow(_ client: APIClient) async throws {
        _ = try await client.registerFlows(RegisterFlowsRequest(
            bundleSHA256: String(repeating: "ef", count: 32), storageURL: "file:///nowhere",
            flows: [FlowDescription(name: "pages", parameters: [ParameterSpec(name: "n", type: .int, defaultValue: .int(1))])]))
    }

    @Test func aLongLogShowsItsNewestLinesAndLinksToAll() async throws {
        try await withCoordinator { coordinator, client in
            try await registerFlow(client)
            let run = try await client.createRun(CreateFlowRunRequest(flow: "pages"))
            for batch in 0..<3 {
                _ = try await client.sendLogs(run.id, (0..<500).map { LogEntry(timestamp: Date(), level: "info", message: "line \(batch * 500 + $0)") })
            }
            let page = try await RawHTTP.send(.GET, coordinator.url + "/runs/\(run.id)")
            #expect(page.body.components(separatedBy: "<span class=\"info\">").count - 1 == 1000)
            #expect(page.body.contains("500 earlier lines are not shown") && page.body.contains("line 1499") && !page.body.contains("line 499<"))
            #expect(page.body.contains(#"data-after="1500""#), "live lines follow the last one shown")
            #expect(page.body.contains(#"href="/runs/\#(run.id)/log.txt""#), "all lines are a link away")
            let redirect = try await RawHTTP.send(.GET, coordinator.url + "/runs/\(run.id)?lines=all")
            #expect(redirect.status == 303 && redirect.headers["location"] == "/runs/\(run.id)/log.txt")
            let all = try await RawHTTP.send(.GET, coordinator.url + "/runs/\(run.id)/log.txt")
            let lines = all.body.split(separator: "\n")
            #expect(all.status == 200 && all.headers["content-type"]?.hasPrefix("text/plain") == true)
            #expect(lines.count == 1500 && lines.first?.hasSuffix("line 0") == true && lines.last?.hasSuffix("line 1499") == true)
        }
    }

    @Test func finishedRunsCanBeSelectedAndRetriedTogether() async throws {
        try await withCoordinator { coordinator, client in
            try await registerFlow(client)
            var ids: [FlowRunID] = []
            for _ in 0..<3 { ids.append(try await client.createRun(CreateFlowRunRequest(flow: "pages")).id) }
            for id in ids.prefix(2) { _ = try await client.cancel(id) }
            let page = try await RawHTTP.send(.GET, coordinator.url + "/runs")
            #expect(page.body.contains("name=\"run-\(ids[0])\"") && page.body.contains("name=\"run-\(ids[1])\""), "finished runs have a checkbox")
            #expect(!page.body.contains("name=\"run-\(ids[2])\""), "a Scheduled run has none")
            let form = "action=resume&run-\(ids[0])=on&run-\(ids[1])=on&run-\(ids[2])=on"
            let answer = try await RawHTTP.send(
                .POST, coordinator.url + "/runs", body: form,
                headers: ["Origin": coordinator.url, "Content-Type": "application/x-www-form-urlencoded"])
            #expect(answer.status == 200)
            #expect(answer.body.contains("Resumed 2 runs as new attempts"), "\(answer.body.prefix(2000))")
            #expect(answer.body.contains("Not retried: \(ids[2].prefix(8))"), "the Scheduled one is refused with the reason")
            for id in ids.prefix(2) {
                let attempts = try await client.listRuns(flow: "pages").runs.filter { $0.retryOf == id }
                #expect(attempts.count == 1 && attempts.first?.resumeOf == id, "one resumed attempt of \(id)")
            }
            let none = try await RawHTTP.send(
                .POST, coordinator.url + "/runs", body: "action=retry",
                headers: ["Origin": coordinator.url, "Content-Type": "application/x-www-form-urlencoded"])
            #expect(none.body.contains("No run was selected"))
            let crossSite = try await RawHTTP.send(
                .POST, coordinator.url + "/runs", body: form,
                headers: ["Origin": "https://elsewhere.example", "Content-Type": "application/x-www-form-urlencoded"])
            #expect(crossSite.status == 403, "a page elsewhere cannot retry runs for the user")
        }
    }

    @Test func runsArePagedAndFiltered() async throws {
        try await withCoordinator { coordinator, client in
            try await registerFlow(client)
            var ids: [FlowRunID] = []
            for index in 0..<30 { ids.append(try await client.createRun(CreateFlowRunRequest(flow: "pages", parameters: ["n": .int(Int64(index))])).id) }
            _ = try await client.cancel(ids[0])
            let first = try await RawHTTP.send(.GET, coordinator.url + "/runs")
            #expect(first.body.contains("1–25 of 30") && first.body.contains(#"href="/runs?offset=25""#) && !first.body.contains(#"id="newer""#))
            let second = try await RawHTTP.send(.GET, coordinator.url + "/runs?offset=25")
            #expect(second.body.contains("26–30 of 30") && second.body.contains(#"id="newer""#) && !second.body.contains(#"id="older""#))
            #expect(second.body.contains("data-run=\"\(ids[0])\""), "the oldest run is on the last page")
            let cancelled = try await RawHTTP.send(.GET, coordinator.url + "/runs?state=Cancelled&flow=pages&since=1h")
            #expect(cancelled.body.contains("1–1 of 1") && cancelled.body.contains("data-run=\"\(ids[0])\""))
            let old = try await RawHTTP.send(.GET, coordinator.url + "/runs?flow=nothing-like-it")
            #expect(old.body.contains(#"id="no-runs""#))
        }
    }

    @Test func missingThingsAndRefusedFormsSaySo() async throws {
        try await withCoordinator { coordinator, client in
            try await registerFlow(client)
            #expect(try await RawHTTP.send(.GET, coordinator.url + "/runs/no-such-run").status == 404)
            #expect(try await RawHTTP.send(.GET, coordinator.url + "/flows/no-such-flow").status == 404)
            // A form posted from another site acts on nothing.
            let before = try await client.listRuns().total
            let foreign = try await RawHTTP.send(
                .POST, coordinator.url + "/flows/pages/run", body: "n=2",
                headers: ["Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"])
            #expect(foreign.status == 403 && foreign.body.contains("came from another site"))
            #expect(try await client.listRuns().total == before)
            // The same form from the UI's own page starts the run and sends the browser to it.
            let own = try await RawHTTP.send(
                .POST, coordinator.url + "/flows/pages/run", body: "_version=1&n=2",
                headers: ["Content-Type": "application/x-www-form-urlencoded", "Origin": coordinator.url, "Sec-Fetch-Site": "same-origin"])
            #expect(own.status == 303 && own.headers["location"]?.hasPrefix("/runs/") == true)
            // Cancelling a finished run is refused on the run's page, with the reason.
            let runID = String(try #require(own.headers["location"]).dropFirst("/runs/".count))
            _ = try await client.cancel(runID)
            let again = try await RawHTTP.send(
                .POST, coordinator.url + "/runs/\(runID)/cancel", headers: ["Sec-Fetch-Site": "same-origin"])
            #expect(again.status == 409 && again.body.contains("already Cancelled"))
        }
    }

    @Test func signInOnlyReturnsToPagesOfThisServer() async throws {
        try await withCoordinator(token: "page-token") { coordinator, _ in
            let signInForm = try await RawHTTP.send(.GET, coordinator.url + "/runs?state=Failed")
            #expect(signInForm.status == 401 && signInForm.headers["www-authenticate"] == #"Bearer realm="fathom""#)
            #expect(signInForm.body.contains(#"name="next" value="/runs?state=Failed""#), "signing in comes back to the page asked for")
            let scripted = try await RawHTTP.send(.GET, coordinator.url + "/runs", headers: ["Authorization": "Bearer page-token"])
            #expect(scripted.status == 200, "a script may send the token instead of a session")
            #expect(try await RawHTTP.send(.GET, coordinator.url + "/runs", headers: ["Authorization": "Bearer wrong"]).status == 401)
            for next in ["https://evil.example/", "//evil.example/", "/\\evil.example"] {
                let answer = try await RawHTTP.send(
                    .POST, coordinator.url + "/login",
                    body: "token=page-token&next=" + (next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""),
                    headers: ["Content-Type": "application/x-www-form-urlencoded"])
                #expect(answer.status == 303 && answer.headers["location"] == "/", "\(next) → \(answer.headers["location"] ?? "?")")
                #expect(answer.headers["set-cookie"]?.contains("HttpOnly; SameSite=Strict") == true)
            }
            let wrong = try await RawHTTP.send(
                .POST, coordinator.url + "/login", body: "token=nope&next=/", headers: ["Content-Type": "application/x-www-form-urlencoded"])
            #expect(wrong.status == 401 && wrong.headers["set-cookie"] == nil)
            #expect(try await RawHTTP.send(.POST, coordinator.url + "/flows/x/run", body: "").status == 401, "no session, no action")
        }
    }
}
