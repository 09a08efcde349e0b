import FathomAlerts
import FathomAPI
import FathomCLI
import FathomClient
import FathomCore
import FathomServer
import Foundation
import Testing

/// Alerts the coordinator sends itself: rules, signed webhooks, Slack, the delivery log, at-least-once delivery.
@Suite struct AlertTests {
    static let secret = "a-test-signing-secret-0123456789"

    static func field(of error: APIClientError) -> String? {
        if case .server(_, let body, _) = error { return body?.error.field }
        return nil
    }

    /// A coordinator whose housekeeping and alert rounds are quick, with a public URL for links.
    func withAlertingCoordinator<T>(_ body: (EmbeddedCoordinator, APIClient) async throws -> T) async throws -> T {
        try await withCoordinator(configure: {
            $0.coordinator.publicURL = "https://fathom.example.com/"
            $0.reaperInterval = .milliseconds(100)
        }) { coordinator, client in try await body(coordinator, client) }
    }

    /// A run of `sleeper` driven through the API to `state`, with `lines` logged first.
    func runEnding(
        _ client: APIClient, flow: String = "sleeper", in state: FlowRunState, message: String, lines: [String], tags: [String]? = nil
    ) async throws -> FlowRun {
        let run = try await client.createRun(CreateFlowRunRequest(flow: flow, tags: tags))
        let agent = try await client.registerAgent(AgentRegistration(name: "alert-test-\(flow)"))
        _ = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
        _ = try await client.setState(run.id, SetStateRequest(state: .running))
        try await client.sendLogs(run.id, lines.map { LogEntry(timestamp: Date(), level: .info, message: $0) })
        return try await client.setState(run.id, SetStateRequest(state: state, message: message))
    }

    @Test func aFailedRunSendsASignedWebhookWithItsReasonLinkAndLastLines() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { await receiver.stop() } }
        try await withAlertingCoordinator { _, client in
            try await registerTestFlows(client)
            let created = try await client.createAlertRule(CreateAlertRuleRequest(
                name: "sleeper-failures", on: [.failed, .crashed], flows: ["sleeper"],
                targets: [AlertTargetRequest(kind: .webhook, url: receiver.url, secret: Self.secret)]))
            #expect(created.madeSecrets.isEmpty, "a given secret is not made again")
            let lines = (1...25).map { "line \($0)" }
            let run = try await runEnding(client, in: .failed, message: "exit status 3: no such input", lines: lines)

            #expect(await eventually(timeout: .seconds(20)) { receiver.requests.count == 1 })
            let request = try #require(receiver.requests.first)
            let signature = try #require(request.header("Fathom-Signature"))
            #expect(AlertSignature.verify(header: signature, body: request.body, secret: Self.secret, now: Date()))
            #expect(!AlertSignature.verify(header: signature, body: request.body, secret: "another-secret-0123456789", now: Date()))
            #expect(!AlertSignature.verify(header: signature, body: request.body + " ", secret: Self.secret, now: Date()))
            #expect(!AlertSignature.verify(header: signature, body: request.body, secret: Self.secret, now: Date().addingTimeInterval(600)),
                    "an old timestamp is a replay")
            let message = try #require(request.message)
            #expect(request.header("Fathom-Delivery") == message.id)
            #expect(message.event == "run:\(run.id):Failed")
            #expect(message.flow == "sleeper" && message.runID == run.id && message.state == "Failed" && message.attempt == 1)
            #expect(message.reason == "exit status 3: no such input")
            #expect(message.link == "https://fathom.example.com/runs/\(run.id)")
            #expect(message.lastLines == (6...25).map { "[info] line \($0)" }, "the last 20 lines, oldest first")
            #expect(message.durationSeconds.map { $0 >= 0 } == true)

            // The receiver has the alert a moment before the coordinator records the answer.
            #expect(await eventually(timeout: .seconds(20)) {
                (try? await client.alertDeliveries(rule: "sleeper-failures").first?.status) == .delivered
            })
            let log = try await client.alertDeliveries(rule: "sleeper-failures")
            #expect(log.map(\.id) == [message.id])
            #expect(log.first?.status == .delivered && log.first?.attempts == 1 && log.first?.lastStatus == 200)
        }
    }

    @Test func rulesFireOnlyForTheirTriggersAndFlows() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { await receiver.stop() } }
        try await withAlertingCoordinator { _, client in
            try await registerTestFlows(client)
            _ = try await client.createAlertRule(CreateAlertRuleRequest(
                on: [.failed], flows: ["sleeper"], targets: [AlertTargetRequest(kind: .webhook, url: receiver.url)]))
            _ = try await runEnding(client, in: .completed, message: "done", lines: [])
            _ = try await runEnding(client, flow: "ticker", in: .failed, message: "another flow", lines: [])
            let failed = try await runEnding(client, in: .failed, message: "this one", lines: [])
            #expect(await eventually(timeout: .seconds(20)) { !receiver.requests.isEmpty })
            try await Task.sleep(for: .seconds(1))  // anything else would have been sent by now
            #expect(receiver.requests.compactMap(\.message).map(\.runID) == [failed.id])
            #expect(try await client.listAlertRules().first?.name == "failed-sleeper", "a name made from the rule")
        }
    }

    @Test func rulesWithTagsFireOnlyForRunsWithEveryTagAndRetriesKeepThem() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { await receiver.stop() } }
        try await withAlertingCoordinator { _, client in
            try await registerTestFlows(client)
            let created = try await client.createAlertRule(CreateAlertRuleRequest(
                on: [.failed], targets: [AlertTargetRequest(kind: .webhook, url: receiver.url)], tags: ["team:data", "critical", "critical"]))
            #expect(created.rule.tags == ["critical", "team:data"], "sorted, each once")
            _ = try await runEnding(client, in: .failed, message: "one tag only", lines: [], tags: ["critical"])
            _ = try await runEnding(client, in: .failed, message: "no tags", lines: [])
            let tagged = try await runEnding(client, in: .failed, message: "both", lines: [], tags: ["team:data", "critical", "nightly"])
            #expect(tagged.tags == ["critical", "nightly", "team:data"])
            #expect(await eventually(timeout: .seconds(20)) { !receiver.requests.isEmpty })
            try await Task.sleep(for: .seconds(1))  // anything else would have been sent by now
            #expect(receiver.requests.compactMap(\.message).map(\.runID) == [tagged.id])
            // A retry keeps the tags, so it alerts the same way.
            let retried = try await client.retryRun(tagged.id)
            #expect(retried.tags == tagged.tags)
            // A bad tag is refused naming the field, and nothing is written.
            let before = try await client.listRuns(limit: 100).total
            await #expect { _ = try await client.createRun(CreateFlowRunRequest(flow: "sleeper", tags: ["no spaces"])) } throws: {
                Self.field(of: $0 as! APIClientError) == "tags"
            }
            await #expect { _ = try await client.createAlertRule(CreateAlertRuleRequest(
                on: [.failed], targets: [AlertTargetRequest(kind: .webhook, url: receiver.url)], tags: ["<b>"]))
            } throws: { Self.field(of: $0 as! APIClientError) == "tags" }
            #expect(try await client.listRuns(limit: 100).total == before)
            #expect(try await client.listAlertRules().count == 1)
        }
    }

    @Test func aRunCrashedBeforeItsCodeStartedAlertsLikeAnyOther() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { await receiver.stop() } }
        try await withAlertingCoordinator { _, client in
            try await registerTestFlows(client)
            _ = try await client.createAlertRule(CreateAlertRuleRequest(
                on: [.crashed], targets: [AlertTargetRequest(kind: .webhook, url: receiver.url)]))
            // An agent claims the run and dies before it starts any process: no flow code ever runs.
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            let agent = try await client.registerAgent(AgentRegistration(name: "dies-at-once"))
            _ = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1, leaseSeconds: 0.5))
            #expect(await eventually(timeout: .seconds(20)) { !receiver.requests.isEmpty })
            let message = try #require(receiver.requests.first?.message)
            #expect(message.runID == run.id && message.state == "Crashed")
            #expect(message.reason.contains("did not start it before its lease ran out"), "\(message.reason)")
        }
    }

    @Test func aRunNoAgentTakesAlertsAsLateWithWhy() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { await receiver.stop() } }
        try await withCoordinator(configure: {
            $0.coordinator.lateAfter = .seconds(1)
            $0.reaperInterval = .milliseconds(100)
        }) { _, client in
            try await registerTestFlows(client)
            _ = try await client.createAlertRule(CreateAlertRuleRequest(
                on: [.late], flows: ["sleeper"], targets: [AlertTargetRequest(kind: .webhook, url: receiver.url)]))
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            #expect(await eventually(timeout: .seconds(20)) { !receiver.requests.isEmpty })
            let message = try #require(receiver.requests.first?.message)
            #expect(message.event == "late:\(run.id)" && message.state == "Late" && message.runID == run.id)
            #expect(message.reason.contains("no live agent serves the 'local' launcher on queue 'default'"), "\(message.reason)")
            try await Task.sleep(for: .seconds(1))
            #expect(receiver.requests.count == 1, "flagged late once, alerted once")
        }
    }

    @Test func aRunPastItsDeadlineAlertsWithinSecondsOfItOnce() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { await receiver.stop() } }
        try await withAlertingCoordinator { _, client in
            try await registerTestFlows(client)
            let created = try await client.createAlertRule(CreateAlertRuleRequest(
                name: "two-seconds", on: [.runningLong], flows: ["sleeper"], targets: [AlertTargetRequest(kind: .webhook, url: receiver.url)],
                runningLongerThanSeconds: 2))
            #expect(created.rule.triggerText == "running longer than 2s")
            // A run that ends before the deadline says nothing.
            _ = try await runEnding(client, in: .completed, message: "quick", lines: [])
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            let agent = try await client.registerAgent(AgentRegistration(name: "deadline"))
            _ = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
            let started = try await client.setState(run.id, SetStateRequest(state: .running))
            #expect(await eventually(timeout: .seconds(20)) { !receiver.requests.isEmpty })
            let request = try #require(receiver.requests.first)
            let message = try #require(request.message)
            let startedAt = try #require(started.startedAt)
            let after = request.at.timeIntervalSince(startedAt)
            #expect(after >= 2 && after < 7, "fired \(after) s after the start: within 5 s of the 2 s deadline")
            #expect(message.runID == run.id && message.state == "RunningLong" && message.event == "running-long:\(created.rule.id):\(run.id)")
            // The reason says how long the run had been running when the deadline check saw it: at least the 2 s,
            // and no more than when the webhook arrived (a loaded machine runs the check late, not early).
            let said = message.reason.split(separator: " ").dropFirst(3).first.flatMap { Int($0.prefix(while: \.isNumber)) }
            #expect(message.reason.hasPrefix("still Running after ") && said.map { $0 >= 2 && Double($0) <= after + 1 } == true, "\(message.reason)")
            #expect(message.reason.contains("longer than the rule's 2s"))
            try await Task.sleep(for: .seconds(3))
            #expect(receiver.requests.count == 1, "once per run and rule")
        }
    }

    @Test func aRunNotStartedWithinItsWindowAlerts() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { await receiver.stop() } }
        try await withAlertingCoordinator { _, client in
            try await registerTestFlows(client)
            _ = try await client.createAlertRule(CreateAlertRuleRequest(
                on: [.notStarted], targets: [AlertTargetRequest(kind: .webhook, url: receiver.url)], notStartedWithinSeconds: 1))
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            #expect(await eventually(timeout: .seconds(20)) { !receiver.requests.isEmpty })
            let message = try #require(receiver.requests.first?.message)
            #expect(message.runID == run.id && message.state == "NotStarted")
            #expect(message.reason.contains("after it fell due (the rule allows 1s); it is Scheduled"), "\(message.reason)")
        }
    }

    @Test func aStreakOfFailuresAlertsOnceAtItsNthFailure() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { await receiver.stop() } }
        try await withAlertingCoordinator { _, client in
            try await registerTestFlows(client)
            let created = try await client.createAlertRule(CreateAlertRuleRequest(
                on: [.failed, .crashed], flows: ["sleeper"], targets: [AlertTargetRequest(kind: .webhook, url: receiver.url)],
                consecutiveFailures: 3))
            #expect(created.rule.triggerText == "Failed, Crashed, 3 in a row")
            // fail, fail, ok, fail, fail, fail (alert), fail (quiet), ok, fail: one alert, for the third failure in a row.
            var third: FlowRunID?
            for (index, state) in [FlowRunState.failed, .failed, .completed, .failed, .failed, .failed, .failed, .completed, .failed].enumerated() {
                let run = try await runEnding(client, in: state, message: "run \(index)", lines: [])
                if index == 5 { third = run.id }
                // Each end is turned into its alert before the next run ends, as at a coordinator's own pace.
                try await Task.sleep(for: .milliseconds(300))
            }
            try await Task.sleep(for: .seconds(2))
            #expect(receiver.requests.compactMap(\.message).map(\.runID) == [third].compactMap { $0 })
        }
    }

    @Test func agentsGoneForTheRulesTimeAlertOnceAndAgainWhenOneIsBack() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { await receiver.stop() } }
        try await withAlertingCoordinator { _, client in
            let agent = try await client.registerAgent(AgentRegistration(name: "only-one", queue: "nightly"))
            let created = try await client.createAlertRule(CreateAlertRuleRequest(
                name: "nightly-agents", on: [.agentOffline], targets: [AlertTargetRequest(kind: .webhook, url: receiver.url)],
                agentOfflineSeconds: 2, queue: "nightly"))
            #expect(created.rule.triggerText == "no local agent on queue nightly for 2s")
            // A loaded CI machine (every suite at once on two cores) was seen to take over 20 s here.
            #expect(await eventually(timeout: .seconds(60)) { !receiver.requests.isEmpty })
            let offline = try #require(receiver.requests.first?.message)
            #expect(offline.state == "AgentOffline" && offline.queue == "nightly" && offline.launcher == "local" && offline.runID == nil)
            #expect(offline.reason.contains("no local agent on queue 'nightly' was seen for 2s"), "\(offline.reason)")
            #expect(offline.hint?.contains("fathom agent --launcher local --queue nightly") == true)
            try await Task.sleep(for: .seconds(2))
            #expect(receiver.requests.count == 1, "once per outage")
            // The agent polls again: the rule says it is back, once.
            _ = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
            #expect(await eventually(timeout: .seconds(60)) { receiver.requests.count == 2 })
            let back = try #require(receiver.requests.last?.message)
            #expect(back.state == "AgentBack" && back.reason.contains("is polling again"))
            #expect(back.event.hasPrefix("agent-back:\(created.rule.id):") && offline.event.hasPrefix("agent-offline:\(created.rule.id):"))
        }
    }

    @Test func deadlinesComeWithTheirTriggersAndStayInRange() async throws {
        try await withAlertingCoordinator { _, client in
            let target = [AlertTargetRequest(kind: .webhook, url: "https://a.example")]
            let cases: [(CreateAlertRuleRequest, String)] = [
                (CreateAlertRuleRequest(on: [.runningLong], targets: target), "runningLongerThanSeconds"),
                (CreateAlertRuleRequest(on: [.failed], targets: target, runningLongerThanSeconds: 60), "on"),
                (CreateAlertRuleRequest(on: [.notStarted], targets: target, notStartedWithinSeconds: 1e300), "notStartedWithinSeconds"),
                (CreateAlertRuleRequest(on: [.notStarted], targets: target, notStartedWithinSeconds: 0), "notStartedWithinSeconds"),
                (CreateAlertRuleRequest(on: [.failed], targets: target, consecutiveFailures: 1), "consecutiveFailures"),
                (CreateAlertRuleRequest(on: [.failed, .completed], targets: target, consecutiveFailures: 3), "on"),
                (CreateAlertRuleRequest(on: [.agentOffline], targets: target), "agentOfflineSeconds"),
                (CreateAlertRuleRequest(on: [.failed], targets: target, queue: "nightly"), "on"),
                (CreateAlertRuleRequest(on: [.agentOffline], targets: target, agentOfflineSeconds: 60, queue: "no such queue"), "queue"),
            ]
            for (request, field) in cases {
                do {
                    _ = try await client.createAlertRule(request)
                    Issue.record("accepted a rule with a bad \(field)")
                } catch let error as APIClientError {
                    #expect(Self.field(of: error) == field, "\(error)")
                }
            }
        }
    }

    @Test func aTargetThatFailsIsTriedAgainWithTheSameIDAndTheLogSaysWhy() async throws {
        let receiver = try await WebhookReceiver(answers: [.status(503)])
        defer { Task { await receiver.stop() } }
        try await withAlertingCoordinator { _, client in
            try await registerTestFlows(client)
            _ = try await client.createAlertRule(CreateAlertRuleRequest(
                name: "flaky-target", on: [.failed], targets: [AlertTargetRequest(kind: .webhook, url: receiver.url)]))
            _ = try await runEnding(client, in: .failed, message: "boom", lines: [])
            #expect(await eventually(timeout: .seconds(20)) { receiver.requests.count == 1 })
            #expect(await eventually(timeout: .seconds(30)) { (try? await client.alertDeliveries().first?.attempts) == 1 })
            let waiting = try #require(try await client.alertDeliveries().first)
            #expect(waiting.status == .pending && waiting.lastStatus == 503)
            #expect(waiting.lastError?.contains("answered HTTP 503") == true)
            #expect(waiting.nextAttemptAt != nil)
            // The first retry is due 5 s later.
            #expect(await eventually(timeout: .seconds(30)) { (try? await client.alertDeliveries().first?.status) == .delivered })
            let ids = receiver.requests.map { $0.header("Fathom-Delivery") }
            #expect(ids.count == 2 && ids[0] == ids[1] && ids[0] == waiting.id)
            #expect(try await client.alertDeliveries().first?.attempts == 2)
        }
    }

    @Test func secretsAreShownOnceAndNeverAgain() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { await receiver.stop() } }
        let slackToken = "XoXoSlackToken1234567890"
        let hookToken = "hook-token-in-the-query-42"
        try await withAlertingCoordinator { coordinator, client in
            let created = try await client.createAlertRule(CreateAlertRuleRequest(
                name: "with-secrets", on: [.failed],
                targets: [
                    AlertTargetRequest(kind: .webhook, url: receiver.url + "?token=\(hookToken)"),
                    AlertTargetRequest(kind: .slack, url: "https://hooks.slack.com/services/T000/B000/\(slackToken)"),
                ]))
            let made = try #require(created.madeSecrets["0"])
            #expect(made.count == 64 && created.madeSecrets["1"] == nil)
            #expect(created.rule.targets.map(\.url) == [receiver.url.replacingOccurrences(of: "/hook", with: "/hook/…"), "https://hooks.slack.com/services/…"])
            _ = try await client.testAlertRule("with-secrets")
            #expect(await eventually(timeout: .seconds(20)) { !receiver.requests.isEmpty })
            var shown = String(decoding: try APICoding.encode(try await client.listAlertRules()), as: UTF8.self)
            shown += String(decoding: try APICoding.encode(try await client.alertDeliveries()), as: UTF8.self)
            shown += try await runCommand("/usr/bin/curl", ["-s", coordinator.url + "/metrics"]).output.joined(separator: "\n")
            #expect(shown.contains("fathom_alert_attempts_total"), "the metrics were read")
            for secret in [made, slackToken, hookToken] { #expect(!shown.contains(secret), "\(secret) shown") }
        }
    }

    @Test func badRulesAreRefusedNamingTheField() async throws {
        try await withAlertingCoordinator { _, client in
            let cases: [(CreateAlertRuleRequest, String)] = [
                (CreateAlertRuleRequest(on: [], targets: [AlertTargetRequest(kind: .webhook, url: "https://a.example")]), "on"),
                (CreateAlertRuleRequest(on: [.failed], targets: []), "targets"),
                (CreateAlertRuleRequest(on: [.failed], targets: [AlertTargetRequest(kind: .webhook, url: "file:///etc/passwd")]), "targets[0].url"),
                (CreateAlertRuleRequest(on: [.failed], targets: [AlertTargetRequest(kind: .slack, url: "http://hooks.slack.com/x")]), "targets[0].url"),
                (CreateAlertRuleRequest(
                    on: [.failed], targets: [AlertTargetRequest(kind: .webhook, url: "http://169.254.169.254/latest/meta-data/")]), "targets[0].url"),
                (CreateAlertRuleRequest(on: [.failed], targets: [AlertTargetRequest(kind: .webhook, url: "https://a.example", secret: "short")]),
                 "targets[0].secret"),
                (CreateAlertRuleRequest(name: "has space", on: [.failed], targets: [AlertTargetRequest(kind: .webhook, url: "https://a.example")]), "name"),
                (CreateAlertRuleRequest(on: [.failed], flows: ["../x"], targets: [AlertTargetRequest(kind: .webhook, url: "https://a.example")]), "flows[0]"),
            ]
            for (request, field) in cases {
                do {
                    _ = try await client.createAlertRule(request)
                    Issue.record("accepted a rule with a bad \(field)")
                } catch let error as APIClientError {
                    #expect(Self.field(of: error) == field, "\(error)")
                    #expect(error.status.map { (400..<500).contains($0) } == true, "\(error)")
                }
            }
            #expect(try await client.listAlertRules().isEmpty, "nothing half-written")
            _ = try await client.createAlertRule(CreateAlertRuleRequest(name: "once", on: [.failed], targets: [AlertTargetRequest(kind: .webhook, url: "https://a.example")]))
            await #expect(throws: APIClientError.self) {
                _ = try await client.createAlertRule(CreateAlertRuleRequest(name: "once", on: [.failed], targets: [AlertTargetRequest(kind: .webhook, url: "https://a.example")]))
            }
        }
    }

    @Test func aHostListKeepsTargetsToIt() async throws {
        try await withCoordinator(configure: { $0.coordinator.alertHosts = ["hooks.slack.com", "*.example.com"] }) { _, client in
            _ = try await client.createAlertRule(CreateAlertRuleRequest(
                on: [.failed], targets: [AlertTargetRequest(kind: .webhook, url: "https://alerts.example.com/x")]))
            do {
                _ = try await client.createAlertRule(CreateAlertRuleRequest(
                    on: [.crashed], targets: [AlertTargetRequest(kind: .webhook, url: "https://example.org/x")]))
                Issue.record("a host off the list was accepted")
            } catch let error as APIClientError {
                #expect(Self.field(of: error) == "targets[0].url")
                #expect(error.description.contains("--alert-host"), "\(error)")
            }
        }
    }

    @Test func theAlertsPageShowsRulesAndDeliveriesEscapedWithoutSecrets() async throws {
        // The target answers with markup: the delivery log shows it as text.
        let receiver = try await WebhookReceiver(answers: [.status(400)])
        defer { Task { await receiver.stop() } }
        try await withAlertingCoordinator { coordinator, client in
            let empty = try await RawHTTP.send(.GET, coordinator.url + "/alerts")
            #expect(empty.status == 200 && empty.body.contains("id=\"no-rules\""))
            let created = try await client.createAlertRule(CreateAlertRuleRequest(
                name: "page-test", on: [.failed, .late], targets: [AlertTargetRequest(kind: .webhook, url: receiver.url + "/t0ken-in-path")]))
            _ = try await client.testAlertRule("page-test")
            #expect(await eventually(timeout: .seconds(20)) { (try? await client.alertDeliveries().first?.status) == .failed })
            let page = try await RawHTTP.send(.GET, coordinator.url + "/alerts")
            #expect(page.status == 200)
            #expect(page.body.contains("page-test") && page.body.contains("Failed, Late") && page.body.contains("every flow"))
            #expect(page.body.contains("answered HTTP 400: &lt;b&gt;refused&lt;/b&gt;"), "the delivery log says why, as text")
            #expect(!page.body.contains("<b>refused</b>"))
            #expect(!page.body.contains("t0ken-in-path") && !page.body.contains(created.madeSecrets["0"] ?? "?"))
            #expect(page.body.contains(#"href="/alerts" class="active""#))
        }
    }

    @Test func slackGetsBlocksWithEscapedText() async throws {
        let receiver = try await WebhookReceiver()
        defer { Task { await receiver.stop() } }
        let sender = HTTPAlertSender(timeout: .seconds(120))  // what is checked is the text; CI load once took over 10 s
        let message = AlertMessage(
            id: "dlv-1", event: "run:r1:Failed", rule: "r", flow: "sort-compress", runID: "r1", state: "Failed",
            reason: "<script> & <@channel>", hint: "raise the memory", attempt: 2, durationSeconds: 61, link: "https://f.example/runs/r1",
            taskARN: "arn:aws:ecs:eu-west-1:1:task/c/abc", taskConsoleLink: "https://eu-west-1.console.aws.amazon.com/ecs/x",
            lastLines: ["[error] <b>bad</b>"], at: Date())
        let result = await sender.send(
            id: "dlv-1", payload: "{}", message: message, to: StoredAlertTarget(kind: .slack, url: receiver.url, secret: nil))
        #expect(result.error == nil && result.status == 200, "\(result.error ?? "")")
        let body = try #require(receiver.requests.first?.body)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        let blocks = try #require(json["blocks"] as? [[String: Any]])
        #expect(blocks.count == 4)
        let text = blocks.compactMap { ($0["text"] as? [String: Any])?["text"] as? String }.joined(separator: "\n")
        #expect(text.contains("&lt;script&gt; &amp; &lt;@channel&gt;"))
        #expect(text.contains("&lt;b&gt;bad&lt;/b&gt;"))
        #expect(!text.contains("<script>") && !text.contains("<@channel>"))
        #expect(text.contains("<https://f.example/runs/r1|open the run>"))
        #expect(receiver.requests.first?.header("Fathom-Signature") == nil, "Slack is not signed")
    }
}
