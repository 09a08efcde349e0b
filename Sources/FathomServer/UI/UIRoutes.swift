import FathomAPI
import FathomCore
import FathomWebUI
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The web UI's pages and form actions, at `/`. Pages read through the same ``Coordinator`` as the API.
struct UIRoutes {
    let coordinator: Coordinator
    let ui: WebUI
    let session: UISession

    func add(to router: Router<BasicRequestContext>) {
        router.get("/") { request, _ in try await flowsPage(request) }
        router.get("flows") { request, _ in try await flowsPage(request) }
        router.get("flows/:name") { request, context in
            let name = try context.parameters.require("name")
            return page(try await flowPage(try await coordinator.flow(named: name)), request)
        }
        router.post("flows/:name/run") { request, context in
            try await startRun(request, flowName: try context.parameters.require("name"))
        }
        router.post("flows/:name/schedules") { request, context in
            try await addSchedule(request, flowName: try context.parameters.require("name"))
        }
        for action in ["pause", "resume", "delete"] {
            router.post("schedules/:name/\(action)") { request, context in
                let name = try context.parameters.require("name")
                let schedule = try await coordinator.schedule(name)
                switch action {
                case "delete": _ = try await coordinator.deleteSchedule(name)
                default: _ = try await coordinator.setSchedulePaused(name, paused: action == "pause")
                }
                return HTMLResponse.redirect(Links.flow(schedule.flowName))
            }
        }
        router.get("runs") { request, _ in try await runsPage(request) }
        router.get("runs/:id") { request, context in
            let id = try context.parameters.require("id")
            let run = try await coordinator.run(id)
            // Every line of a long run does not fit a page: they stream as text instead.
            if request.uri.queryParameters.get("lines") == "all" { return HTMLResponse.redirect(Links.run(id) + "/log.txt") }
            return page(try await runPage(run), request)
        }
        router.get("runs/:id/log.txt") { request, context in
            let id = try context.parameters.require("id")
            _ = try await coordinator.run(id)
            return logText(id)
        }
        router.get("runs/:id/events") { request, context in
            try await RunEventStream(coordinator: coordinator).response(
                runID: try context.parameters.require("id"), after: Int64(try request.query("after", default: 0, in: 0...Int.max)),
                lastEventID: request.headers[HTTPField.Name("Last-Event-ID")!])
        }
        router.post("runs/:id/cancel") { request, context in
            try await act(request, runID: try context.parameters.require("id")) { try await coordinator.cancel($0).id }
        }
        router.post("runs/:id/retry") { request, context in
            try await act(request, runID: try context.parameters.require("id")) { try await coordinator.retryRun($0).id }
        }
        router.post("runs") { request, _ in try await retrySelected(request) }
        router.post("runs/:id/resume") { request, context in
            try await act(request, runID: try context.parameters.require("id")) { try await coordinator.retryRun($0, resume: true).id }
        }
        addAlertRoutes(to: router)
        router.get("agents") { request, _ in
            page(AgentsPage(agents: try await coordinator.agents(), now: coordinator.now), request)
        }
        router.get("login") { request, _ in
            page(LoginPage(next: request.uri.queryParameters.get("next") ?? "/"), request)
        }
        router.post("login") { request, _ in
            let form = try await FormBody.fields(of: request)
            let next = form["next"] ?? "/"
            guard session.accepts(token: form["token"] ?? "") else {
                return HTMLResponse.page(ui, LoginPage(next: next, error: "that is not this coordinator's token"), status: .unauthorized)
            }
            return HTMLResponse.redirect(Links.isLocalPath(next) ? next : "/", headers: [.setCookie: session.signIn()])
        }
        router.post("logout") { request, _ in
            HTMLResponse.redirect("/login", headers: [.setCookie: session.signOut(request)])
        }
        router.get("ui/style.css") { _, _ in asset(WebUI.stylesheet, type: "text/css; charset=utf-8") }
        router.get("ui/run.js") { _, _ in asset(WebUI.runScript, type: "text/javascript; charset=utf-8") }
    }

    // MARK: Pages

    func page<Page: WebPage>(_ page: Page, _ request: Request, status: HTTPResponse.Status = .ok) -> Response {
        HTMLResponse.page(ui, page, status: status, signedIn: session.isRequired)
    }

    func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=300"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func flowsPage(_ request: Request) async throws -> Response {
        page(FlowsPage(flows: try await coordinator.flows()), request)
    }

    func flowPage(
        _ flow: FlowSummary, entered: [String: String] = [:], errors: [String: String] = [:], formError: String? = nil,
        version: Int? = nil
    ) async throws -> FlowPage {
        let recent = try await coordinator.runs(RunFilter(flowName: flow.name, dueBy: coordinator.now, limit: 10)).runs
        let usage = try await coordinator.flowUsage(flow.name, days: 30)
        return FlowPage(
            flow: flow, runs: recent, entered: entered, errors: errors, formError: formError, selectedVersion: version,
            usage: usage, now: coordinator.now)
    }

    func runsPage(_ request: Request, flash: String? = nil) async throws -> Response {
        let query = request.uri.queryParameters
        let now = coordinator.now
        let filter = RunsPage.Filter(
            flow: query.get("flow").flatMap { $0.isEmpty ? nil : $0 }, state: query.get("state").flatMap(FlowRunState.init(name:)),
            since: query.get("since").flatMap { DurationText.seconds($0) == nil ? nil : $0 }, upcoming: query.get("upcoming") == "1",
            offset: max(0, Int(query.get("offset") ?? "") ?? 0))
        let list = try await coordinator.runs(RunFilter(
            flowName: filter.flow, state: filter.state, agentID: query.get("agent"), activeOnly: query.get("agent") != nil,
            createdAfter: filter.createdAfter(now: now), dueBy: filter.upcoming ? nil : now, limit: RunsPage.Filter.pageSize,
            offset: filter.offset))
        let flows = try await coordinator.flows().map(\.name)
        let lastDay = try await coordinator.recentRunPoints(flow: filter.flow, hours: 24)
        var runs = RunsPage(list: list, flows: flows, filter: filter, now: now, lastDay: lastDay)
        runs.flash = flash
        return page(runs, request)
    }

    /// The run page shows the last ``RunPage/shownLines`` log lines; all of them are at `log.txt`.
    func runPage(_ run: FlowRun) async throws -> RunPage {
        let attempts = try await coordinator.runs(RunFilter(attemptsOf: run.retryOf ?? run.id, limit: 100)).runs
        let logs = try await coordinator.logTail(ofRun: run.id, limit: RunPage.shownLines)
        return RunPage(
            run: run, tasks: try await coordinator.taskRuns(ofRun: run.id), logs: logs, attempts: attempts, now: coordinator.now)
    }

    /// Every log line of a run as plain text, read and sent 5,000 lines at a time: memory stays bounded
    /// whatever the run's length.
    func logText(_ id: FlowRunID) -> Response {
        let coordinator = coordinator
        let body = ResponseBody { writer in
            var after: Int64 = 0
            while true {
                let lines = try await coordinator.logLines(ofRun: id, after: after, limit: 5000)
                guard let last = lines.last else { break }
                var buffer = ByteBuffer()
                for line in lines { buffer.writeString(RunPage.LogRow(line).line + "\n") }
                try await writer.write(buffer)
                after = last.seq
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("X-Content-Type-Options")!: "nosniff"],
            body: body)
    }

    // MARK: Actions

    /// The Run form: typed values, errors shown by their fields; on success, the new run's page.
    func startRun(_ request: Request, flowName: String) async throws -> Response {
        let flow = try await coordinator.flow(named: flowName)
        let form = try await FormBody.fields(of: request)
        let version = form["_version"].flatMap(Int.init)
        let specs = version == nil ? flow.latest.parameters : try await coordinator.version(flowName: flowName, number: version).parameters
        let (values, errors) = RunForm.parameters(from: form, specs: specs)
        guard errors.isEmpty else {
            return page(try await flowPage(flow, entered: form, errors: errors, version: version), request, status: .unprocessableContent)
        }
        do {
            let tags = (form["_tags"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let run = try await coordinator.createRun(CreateFlowRunRequest(
                flow: flowName, version: version, parameters: values, tags: tags.isEmpty ? nil : tags))
            return HTMLResponse.redirect(Links.run(run.id))
        } catch let error as any ErrorAnswer {
            var byField: [String: String] = [:]
            for problem in error.body.error.problems ?? [] where problem.field.hasPrefix("parameters.") {
                byField[String(problem.field.dropFirst("parameters.".count))] = "\(problem.problem). \(problem.fix)"
            }
            let page = try await flowPage(
                flow, entered: form, errors: byField, formError: byField.isEmpty ? error.body.error.message : nil, version: version)
            return self.page(page, request, status: error.status)
        }
    }

    /// The runs page's multi-select: one new attempt of each selected finished run (from failure with
    /// `action=resume`); the page comes back saying what was made and what was not, and why.
    func retrySelected(_ request: Request) async throws -> Response {
        let form = try await FormBody.fields(of: request)
        let ids = form.filter { $0.key.hasPrefix("run-") && $0.value == "on" }.map { String($0.key.dropFirst(4)) }.sorted()
        guard !ids.isEmpty, ids.count <= 100 else {
            let problem = ids.isEmpty ? "No run was selected: tick the finished runs to retry." : "\(ids.count) runs were selected; retry at most 100 at once."
            return try await runsPage(request, flash: problem)
        }
        let resume = form["action"] == "resume"
        var made: [String] = []
        var refused: [String] = []
        for id in ids {
            do {
                made.append(String(try await coordinator.retryRun(id, resume: resume).id.prefix(8)))
            } catch let error as any ErrorAnswer {
                refused.append("\(id.prefix(8)): \(error.body.error.message)")
            }
        }
        var text = made.isEmpty ? "" : "\(resume ? "Resumed" : "Retried") \(made.count) run\(made.count == 1 ? "" : "s") as new attempts: \(made.joined(separator: ", "))."
        if !refused.isEmpty { text += (text.isEmpty ? "" : " ") + "Not retried: " + refused.joined(separator: "; ") }
        return try await runsPage(request, flash: text)
    }

    func addSchedule(_ request: Request, flowName: String) async throws -> Response {
        let flow = try await coordinator.flow(named: flowName)
        let form = try await FormBody.fields(of: request)
        func given(_ key: String) -> String? { form[key].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 } }
        var interval: Double?
        if let text = given("interval") {
            guard let seconds = DurationText.seconds(text) else {
                return page(try await flowPage(flow, formError: "interval: '\(text)' is not a duration; write e.g. 90s, 15m, 1h or 1d"), request, status: .unprocessableContent)
            }
            interval = seconds
        }
        do {
            _ = try await coordinator.createSchedule(CreateScheduleRequest(
                flow: flowName, name: given("name"), cron: given("cron"), timezone: given("cron") == nil ? nil : given("timezone"),
                intervalSeconds: interval))
            return HTMLResponse.redirect(Links.flow(flowName))
        } catch let error as any ErrorAnswer {
            return page(try await flowPage(flow, formError: error.body.error.message), request, status: error.status)
        }
    }

    /// Cancel or retry, then the (new) run's page; a refusal shows on the run's page.
    func act(_ request: Request, runID: String, _ action: (String) async throws -> String) async throws -> Response {
        do {
            return HTMLResponse.redirect(Links.run(try await action(runID)))
        } catch let error as any ErrorAnswer {
            let run = try await coordinator.run(runID)
            var refused = try await runPage(run)
            refused.flash = error.body.error.message
            return page(refused, request, status: error.status)
        }
    }
}
