import FathomAPI
import FathomCore
import Foundation
import Testing

/// The web UI in a real headless Chromium against a real `fathom dev` holding real runs.
@Suite(.serialized, .enabled(if: HeadlessChromium.executable != nil, "needs Debian's chromium (scripts/test installs it)"))
struct WebUITests {
    /// Where screenshots go: `FATHOM_SCREENSHOTS` (scripts/screenshots sets docs/screenshots), else a temporary directory.
    static let screenshots = ProcessInfo.processInfo.environment["FATHOM_SCREENSHOTS"]

    func save(_ png: Data, _ name: String, in directory: TemporaryDirectory) throws {
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a screenshot is a PNG")
        #expect(png.count > 10_000, "a screenshot of a rendered page has some size; got \(png.count) bytes")
        let folder = Self.screenshots ?? directory.path
        try png.write(to: URL(fileURLWithPath: folder).appendingPathComponent(name))
    }

    @Test func everyPageLoadsAndTheRunFormStartsARunWithFieldErrors() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.examples]).exit == 0)
        #expect(try await stack.fathom(["schedule", "add", "volume-janitor", "--cron", "0 3 * * *", "--timezone", "Europe/Berlin"]).exit == 0)
        let first = try await stack.startRun("hello", ["folder=seed"])
        #expect(await stack.waitFor(first, .completed))

        let browser = try HeadlessChromium()
        try await browser.openPage()

        // Flows: each flow, its version, run config, last run and schedule.
        try await browser.navigate(stack.url + "/flows")
        let flows = try await browser.evaluate("[...document.querySelectorAll('tr.flow')].map(r => r.dataset.flow)") as? [String]
        #expect(flows == ["hello", "sort-compress", "volume-janitor"])
        let helloRow = try await browser.string("document.querySelector('tr[data-flow=hello]').innerText") ?? ""
        #expect(helloRow.contains("v1") && helloRow.contains("local") && helloRow.contains("Completed"), "\(helloRow)")
        let janitorRow = try await browser.string("document.querySelector('tr[data-flow=volume-janitor]').innerText") ?? ""
        #expect(janitorRow.contains("cron 0 3 * * * (Europe/Berlin)"), "\(janitorRow)")
        try save(try await browser.screenshot(), "flows.png", in: stack.directory)

        // Flow: typed inputs with defaults; a bad value comes back next to its field, nothing starts.
        try await browser.navigate(stack.url + "/flows/hello")
        #expect(try await browser.string("document.getElementById('param-bytes').type") == "number")
        #expect(try await browser.string("document.getElementById('param-bytes').value") == "1024")
        #expect(try await browser.string("document.getElementById('param-folder').value") == "hello")
        let before = try await stack.client.listRuns(flow: "hello").total
        _ = try await browser.evaluate("""
            (() => { const f = document.getElementById('run-form'); f.noValidate = true;
              document.getElementById('param-bytes').value = '1.5'; document.getElementById('run-button').click(); return true; })()
            """)
        try await browser.waitFor("document.getElementById('error-bytes') !== null")
        let fieldError = try await browser.string("document.getElementById('error-bytes').textContent") ?? ""
        #expect(fieldError.contains("expected an integer"), "\(fieldError)")
        #expect(try await browser.string("document.getElementById('param-bytes').value") == "1.5", "what was typed is kept")
        #expect(try await stack.client.listRuns(flow: "hello").total == before, "a rejected form starts nothing")

        // A good form starts a run and opens its page, where the logs arrive live.
        _ = try await browser.evaluate("""
            (() => { document.getElementById('param-bytes').value = '4096';
              document.getElementById('param-folder').value = 'from-browser'; document.getElementById('run-button').click(); return true; })()
            """)
        try await browser.waitFor("location.pathname.startsWith('/runs/')")
        let runID = try #require(try await browser.string("location.pathname.split('/')[2]"))
        try await browser.waitFor("document.getElementById('logs').textContent.includes('flow run completed')")
        try await browser.waitFor("document.getElementById('run-state').textContent === 'Completed'")
        // Once final, the page reloads itself to show the whole timeline, task runs and infrastructure.
        try await browser.waitFor("[...document.querySelectorAll('#timeline .state')].some(s => s.textContent === 'Completed')")
        let run = try await stack.client.run(runID)
        #expect(run.state == .completed)
        #expect(run.parameters["folder"] == .string("from-browser") && run.parameters["bytes"] == .int(4096))
        #expect(FileManager.default.fileExists(atPath: stack.scratch + "/from-browser"))
        let timeline = try await browser.evaluate("[...document.querySelectorAll('#timeline .state')].map(s => s.textContent)") as? [String]
        #expect(timeline == ["Scheduled", "Pending", "Running", "Completed"])
        let tasks = try await browser.evaluate("[...document.querySelectorAll('#task-runs tbody tr')].map(r => r.cells[0].textContent)") as? [String]
        #expect(tasks == ["write-random-file", "list-folder"])
        let infrastructure = try await browser.string("document.getElementById('infrastructure').innerText") ?? ""
        #expect(infrastructure.contains("launcher") && infrastructure.contains("local") && infrastructure.contains("pid"))
        try save(try await browser.screenshot(), "run.png", in: stack.directory)

        // Runs: filter by flow and state, paged.
        try await browser.navigate(stack.url + "/runs?flow=hello&state=Completed")
        let rows = try await browser.evaluate("[...document.querySelectorAll('tr.run')].map(r => r.dataset.state)") as? [String]
        #expect(rows == ["Completed", "Completed"])
        try await browser.navigate(stack.url + "/runs?state=Failed")
        #expect(try await browser.evaluate("document.getElementById('no-runs') !== null") as? Bool == true)

        // Agents: the dev stack's local agent.
        try await browser.navigate(stack.url + "/agents")
        let agent = try await browser.string("document.querySelector('tr.agent').innerText") ?? ""
        #expect(agent.contains("local") && agent.contains("default"), "\(agent)")
    }

    @Test func liveLogsAppearWithoutAReloadAndCancelStopsTheRun() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
        let runID = try await stack.startRun("ticker", ["count=600", "interval=0.2"])
        #expect(await stack.waitFor(runID, .running))

        let browser = try HeadlessChromium()
        try await browser.openPage()
        try await browser.navigate(stack.url + "/runs/" + runID)
        _ = try await browser.evaluate("window.__sameDocument = true")
        let initial = try await browser.evaluate("document.querySelectorAll('#logs span').length") as? Int ?? 0
        // New ticks arrive over Server-Sent Events into the same document (the marker survives: no reload).
        try await browser.waitFor("document.querySelectorAll('#logs span').length >= \(initial + 5) && window.__sameDocument === true")
        let last = try await browser.string("[...document.querySelectorAll('#logs span')].pop().textContent") ?? ""
        #expect(last.contains("tick "), "\(last)")

        _ = try await browser.evaluate("document.getElementById('cancel-button').click()")
        // The page follows the run to its end, then shows the final timeline (and the retry button).
        try await browser.waitFor("document.getElementById('run-state').textContent === 'Cancelled' && document.getElementById('retry-button') !== null", timeout: .seconds(30))
        #expect(try await stack.client.run(runID).state == .cancelled)
        let history = try await browser.evaluate("[...document.querySelectorAll('#timeline .state')].map(s => s.textContent)") as? [String] ?? []
        #expect(history.suffix(2) == ["Cancelling", "Cancelled"], "\(history)")
        #expect(try await browser.evaluate("document.getElementById('cancel-button') === null") as? Bool == true, "a final run has no cancel button")

        // Retry makes a new attempt linked to the first.
        _ = try await browser.evaluate("document.getElementById('retry-button').click()")
        try await browser.waitFor("location.pathname !== '/runs/\(runID)'")
        let retryID = try #require(try await browser.string("location.pathname.split('/')[2]"))
        let retry = try await stack.client.run(retryID)
        #expect(retry.retryOf == runID && retry.attempt == 2)
        _ = try await stack.client.cancel(retryID)
    }

    @Test func aTokenProtectedCoordinatorAsksForTheTokenOnce() async throws {
        try await withCoordinator(token: "ui-secret-token") { coordinator, _ in
            let browser = try HeadlessChromium()
            try await browser.openPage()
            _ = try await browser.send("Page.navigate", ["url": coordinator.url + "/runs?state=Completed"])
            // The page asked for answers with the sign-in form in place (401), which comes back to it.
            try await browser.waitFor("location.pathname === '/runs' && document.getElementById('token') !== null && document.readyState === 'complete'")
            _ = try await browser.evaluate("document.getElementById('token').value = 'wrong'; document.querySelector('#login-form button').click()")
            try await browser.waitFor("document.querySelector('.field-error') !== null")
            _ = try await browser.evaluate("document.getElementById('token').value = 'ui-secret-token'; document.querySelector('#login-form button').click()")
            try await browser.waitFor("location.pathname === '/runs' && location.search === '?state=Completed'")
            let cookies = try await browser.send("Network.getAllCookies")
            let values = (cookies["cookies"] as? [[String: Any]] ?? []).compactMap { $0["value"] as? String }
            #expect(!values.isEmpty && !values.contains { $0.contains("ui-secret-token") }, "the cookie holds a proof, not the token")
            try await browser.navigate(coordinator.url + "/agents")
            #expect(try await browser.string("document.querySelector('h1').textContent") == "Agents")
        }
    }
}
