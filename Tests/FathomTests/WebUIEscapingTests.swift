import FathomAPI
import FathomClient
import FathomCore
import FathomWebUI
import Foundation
import Testing

/// Whatever users put in flows, parameters, logs and facts reaches the page as text, never as markup.
@Suite struct WebUIEscapingTests {
    static let payloads = [
        #"<script>window.__xss = 1</script>"#,
        #""><img src=x onerror="window.__xss = 2">"#,
        #"' onmouseover='window.__xss = 3"#,
        #"</pre><svg onload="window.__xss = 4">"#,
    ]

    @Test func templatesNeverRenderUnescaped() {
        for (name, text) in WebUI.templates {
            #expect(!text.contains("{{{") && !text.contains("{{&"), "template \(name) renders a value without escaping")
        }
    }

    /// A coordinator holding a flow, a run, logs, facts and an agent made of payloads.
    func seed(_ client: APIClient) async throws -> FlowRunID {
        let joined = Self.payloads.joined(separator: " ")
        _ = try await client.registerFlows(RegisterFlowsRequest(
            bundleSHA256: String(repeating: "cd", count: 32), storageURL: "file:///nowhere", flows: [
                FlowDescription(name: "inject", summary: joined, parameters: [
                    ParameterSpec(name: "note", type: .string, defaultValue: .string(Self.payloads[1])),
                    ParameterSpec(name: "blob", type: .json, defaultValue: .object(["k": .string(Self.payloads[0])])),
                ]),
            ], labels: ["team": Self.payloads[2]]))
        let run = try await client.createRun(CreateFlowRunRequest(flow: "inject", parameters: ["note": .string(Self.payloads[3])]))
        _ = try await client.sendLogs(run.id, Self.payloads.map { LogEntry(timestamp: Date(), level: "info", message: $0) })
        _ = try await client.setInfrastructure(run.id, [
            "console": "javascript:window.__xss=5", "note": Self.payloads[0],
            // Cost and size facts anyone with the API can write: read without trapping, shown as text.
            "costUSD": "NaN", "costBasis": Self.payloads[3], "workspaceBytes": "scratch=-5,\(Self.payloads[1])=9,big=99999999999999999999",
        ])
        _ = try await client.sendTaskRuns(run.id, [TaskRunUpdate(
            id: Identifier.make(), name: Self.payloads[1], state: .failed, attempt: 1, startedAt: Date(), endedAt: Date(),
            message: Self.payloads[0])])
        _ = try await client.registerAgent(AgentRegistration(name: "agent-1", labels: ["team": Self.payloads[2]]))
        _ = try await client.setState(run.id, SetStateRequest(state: .pending))
        _ = try await client.setState(run.id, SetStateRequest(state: .running))
        _ = try await client.setState(run.id, SetStateRequest(state: .failed, message: Self.payloads[3]))
        return run.id
    }

    @Test func payloadsInEveryPageComeOutEscaped() async throws {
        try await withCoordinator { coordinator, client in
            let runID = try await seed(client)
            let pages = [
                "/", "/flows", "/flows/inject", "/runs", "/runs?flow=inject", "/runs/\(runID)", "/agents",
                "/flows/%3Cscript%3Ex", "/runs/%22%3E%3Cimg%20src%3Dx%3E", "/login?next=%22%3E%3Cscript%3Ex%3C/script%3E",
            ]
            for page in pages {
                let answer = try await RawHTTP.send(.GET, coordinator.url + page)
                #expect([200, 404].contains(answer.status), "\(page): \(answer.status)")
                #expect(answer.headers["content-type"] == "text/html; charset=utf-8")
                #expect(answer.headers["content-security-policy"]?.contains("script-src 'self'") == true)
                for payload in Self.payloads + ["<script>x", "\"><img src=x>", "\"><script>x</script>"] {
                    #expect(!answer.body.contains(payload), "\(page) carries a raw payload: \(payload)")
                }
                #expect(!answer.body.contains("href=\"javascript:"), "\(page) links to javascript:")
                #expect(answer.body.components(separatedBy: "<script").count - 1 == (page.hasPrefix("/runs/\(runID)") ? 1 : 0),
                        "\(page): only the page's own script tag")
            }
            let run = try await RawHTTP.send(.GET, coordinator.url + "/runs/\(runID)")
            #expect(run.body.contains("&lt;script&gt;window.__xss = 1&lt;/script&gt;"), "log lines shown as text")
            #expect(run.body.contains("&quot;&gt;&lt;img src=x onerror=&quot;window.__xss = 2&quot;&gt;"))
            let flow = try await RawHTTP.send(.GET, coordinator.url + "/flows/inject")
            #expect(flow.body.contains(#"value="&quot;&gt;&lt;img src=x onerror=&quot;window.__xss = 2&quot;&gt;""#), "defaults in value attributes")
        }
    }

    @Test(.enabled(if: HeadlessChromium.executable != nil, "needs Debian's chromium"))
    func aBrowserShowsPayloadsAsTextAndRunsNoneOfThem() async throws {
        try await withCoordinator { coordinator, client in
            let runID = try await seed(client)
            let live = try await client.createRun(CreateFlowRunRequest(flow: "inject"))
            let browser = try HeadlessChromium()
            try await browser.openPage()
            for page in ["/flows", "/flows/inject", "/runs", "/runs/\(runID)", "/agents"] {
                try await browser.navigate(coordinator.url + page)
                #expect(try await browser.evaluate("typeof window.__xss") as? String == "undefined", "\(page) ran a payload")
                #expect(try await browser.evaluate("document.querySelectorAll('img, iframe, svg:not(.chart)').length") as? Int == 0, "\(page)")
                // The charts hold only the shapes Fathom draws: no element a value could have smuggled in.
                let foreign = "svg.chart *:not(line):not(rect):not(circle):not(text):not(title):not(a)"
                #expect(try await browser.evaluate("document.querySelectorAll('\(foreign)').length") as? Int == 0, "\(page)")
            }
            try await browser.navigate(coordinator.url + "/runs/\(runID)")
            // The hostile task name is the timeline's label and tooltip, as text.
            let titles = try await browser.string("[...document.querySelectorAll('#gantt title, #gantt text')].map(t => t.textContent).join('\\n')") ?? ""
            #expect(titles.contains(Self.payloads[1].prefix(26)), "\(titles)")
            #expect(try await browser.string("document.getElementById('run-cost').textContent")?.contains(Self.payloads[3]) == true)
            try await browser.navigate(coordinator.url + "/runs/\(runID)")
            let logs = try await browser.string("document.getElementById('logs').textContent") ?? ""
            #expect(Self.payloads.allSatisfy { logs.contains($0) }, "the payloads are shown, as text")
            // Lines arriving live go in as text too.
            try await browser.navigate(coordinator.url + "/runs/\(live.id)")
            _ = try await client.sendLogs(live.id, [LogEntry(timestamp: Date(), level: "info", message: Self.payloads[1] + " live")])
            try await browser.waitFor("document.getElementById('logs').textContent.includes(' live')")
            #expect(try await browser.evaluate("typeof window.__xss") as? String == "undefined")
            #expect(try await browser.evaluate("document.querySelectorAll('#logs img').length") as? Int == 0)
        }
    }
}
