import FathomAlerts
import FathomAPI
import FathomClient
import FathomCore
import FathomServer
import Foundation
import Testing

/// The alert outbox and delivery log, the same in every store; and at-least-once delivery across a SIGKILL.
@Suite struct AlertStoreTests {
    @Test(arguments: StoreKind.allCases)
    func aFinalStateWritesItsEventInItsOwnTransactionAndDeliveriesAreWrittenOnce(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let store = fixture.store
        let version = try await fixture.version("etl")
        let run = try await fixture.run(version)
        try await fixture.move(run, through: [.pending, .running])
        #expect(try await store.alertEvents(limit: 10).isEmpty, "no event before a final state")
        try await fixture.move(try #require(try await store.run(id: run.id, includeHistory: false)), through: [.failed], at: 5)
        let events = try await store.alertEvents(limit: 10)
        #expect(events == [AlertEvent(key: "run:\(run.id):Failed", runID: run.id, trigger: .failed, at: fixture.at(5))])

        let target = StoredAlertTarget(kind: .webhook, url: "https://a.example/hook", secret: "s3cr3t-s3cr3t-s3cr3t")
        let delivery = NewAlertDelivery(
            id: "dlv-1", ruleID: "rule-1", ruleName: "r", event: events[0].key, runID: run.id, target: target, payload: "{}",
            createdAt: fixture.at(6))
        // Two coordinators settling the same event write one delivery.
        try await store.settleAlertEvent(key: events[0].key, deliveries: [delivery])
        try await store.settleAlertEvent(key: events[0].key, deliveries: [delivery])
        #expect(try await store.alertEvents(limit: 10).isEmpty)
        #expect(try await store.alertDeliveries(ruleID: nil, limit: 10).map(\.id) == ["dlv-1"])

        // Leased: not handed out twice before the lease ends.
        let due = try await store.claimDueAlertDeliveries(now: fixture.at(7), leaseUntil: fixture.at(22), limit: 10)
        #expect(due.map(\.id) == ["dlv-1"] && due.first?.target == target && due.first?.attempts == 0)
        #expect(try await store.claimDueAlertDeliveries(now: fixture.at(8), leaseUntil: fixture.at(23), limit: 10).isEmpty)
        try await store.recordAlertAttempt(AlertAttempt(deliveryID: "dlv-1", at: fixture.at(9), status: 500, error: "answered HTTP 500", retryAt: fixture.at(14)))
        var shown = try #require(try await store.alertDeliveries(ruleID: "rule-1", limit: 10).first)
        #expect(shown.status == .pending && shown.attempts == 1 && shown.lastStatus == 500 && shown.nextAttemptAt == fixture.at(14))
        #expect(shown.target.url == "https://a.example/hook" && shown.target.signed)
        #expect(try await store.claimDueAlertDeliveries(now: fixture.at(13), leaseUntil: fixture.at(28), limit: 10).isEmpty)
        #expect(try await store.claimDueAlertDeliveries(now: fixture.at(14), leaseUntil: fixture.at(29), limit: 10).map(\.attempts) == [1])
        try await store.recordAlertAttempt(AlertAttempt(deliveryID: "dlv-1", at: fixture.at(15), status: 204, error: nil, retryAt: nil))
        shown = try #require(try await store.alertDeliveries(ruleID: nil, limit: 10).first)
        #expect(shown.status == .delivered && shown.attempts == 2 && shown.deliveredAt == fixture.at(15) && shown.nextAttemptAt == nil)
        // A late attempt record (a lease that ran out while sending) changes nothing once delivered.
        try await store.recordAlertAttempt(AlertAttempt(deliveryID: "dlv-1", at: fixture.at(16), status: nil, error: "late", retryAt: nil))
        #expect(try await store.alertDeliveries(ruleID: nil, limit: 10).first?.status == .delivered)
    }

    @Test(arguments: StoreKind.allCases)
    func deadlineSweepsFindRunsByStartOrDueTimeAndTheirEventsNameTheRule(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let store = fixture.store
        let version = try await fixture.version("etl")
        let running = try await fixture.run(version)
        try await fixture.move(running, through: [.pending, .running], at: 10)
        let waiting = try await fixture.run(version, createdAfter: 20)
        #expect(try await store.runs(in: [.running], .started, after: fixture.at(9), through: fixture.at(10), limit: 10).map(\.id) == [running.id])
        #expect(try await store.runs(in: [.running], .started, after: fixture.at(10), through: fixture.at(99), limit: 10).isEmpty)
        #expect(try await store.runs(in: [.scheduled, .pending], .due, after: fixture.at(19), through: fixture.at(20), limit: 10).map(\.id) == [waiting.id])
        let event = AlertEvent(key: "running-long:rule-1:\(running.id)", runID: running.id, trigger: .runningLong, at: fixture.at(70), ruleID: "rule-1")
        try await store.insertAlertEvents([event, event])
        #expect(try await store.alertEvents(limit: 10) == [event])
    }

    @Test(arguments: StoreKind.allCases)
    func rulesAreFoundByIDOrNameAndNamesAreUnique(kind: StoreKind) async throws {
        let fixture = try await StoreFixture(kind)
        let store = fixture.store
        let rule = StoredAlertRule(
            id: "rule-1", name: "failures", triggers: [.failed, .late, .runningLong], flows: ["etl"],
            targets: [StoredAlertTarget(kind: .slack, url: "https://hooks.slack.com/services/T/B/X", secret: nil)], createdAt: Date(timeIntervalSince1970: 1_800_000_000),
            runningLongerThan: 7200)
        try await store.insertAlertRule(rule)
        #expect(try await store.alertRule("rule-1") == rule)
        #expect(try await store.alertRule("failures") == rule)
        await #expect(throws: StoreError.self) {
            try await store.insertAlertRule(StoredAlertRule(id: "rule-2", name: "failures", triggers: [.failed], flows: [], targets: [], createdAt: Date()))
        }
        #expect(try await store.alertRules() == [rule])
        // AgentOffline's state moves by compare-and-set, with its event: two coordinators alert once between them.
        let since = Date(timeIntervalSince1970: 1_800_000_100)
        let gone = AlertEvent(key: "agent-offline:rule-1:1", runID: nil, trigger: .agentOffline, at: since, ruleID: "rule-1")
        #expect(try await store.setAlertRuleOffline(id: "rule-1", from: nil, to: since, event: gone))
        #expect(try await store.setAlertRuleOffline(id: "rule-1", from: nil, to: since, event: gone) == false)
        #expect(try await store.alertRule("rule-1")?.offlineSince == since)
        #expect(try await store.alertEvents(limit: 10) == [gone])
        let back = AlertEvent(key: "agent-back:rule-1:1", runID: nil, trigger: .agentOffline, at: since.addingTimeInterval(5), ruleID: "rule-1")
        #expect(try await store.setAlertRuleOffline(id: "rule-1", from: since, to: nil, event: back))
        #expect(try await store.alertRule("rule-1")?.offlineSince == nil)
        #expect(try await store.alertEvents(limit: 10).map(\.key) == [gone.key, back.key])
        #expect(try await store.deleteAlertRule(id: "rule-1"))
        #expect(try await store.deleteAlertRule(id: "rule-1") == false)
        #expect(try await store.alertRules().isEmpty)
    }

    @Test func aCoordinatorKilledWhileSendingSendsAgainAfterItsRestartUnderTheSameID() async throws {
        // The receiver holds the first request open: the coordinator is killed with its delivery in flight.
        let receiver = try await WebhookReceiver(answers: [.hold])
        defer { Task { await receiver.stop() } }
        let directory = TemporaryDirectory("fathom-alert-kill")
        let port = try LoopbackPort.unused()
        let url = "http://127.0.0.1:\(port)"
        func start() async throws -> BackgroundProcess {
            let server = BackgroundProcess(TestPaths.fathom, ["server", "--port", String(port), "--data-dir", directory.path])
            _ = try await server.waitForLine { $0.contains("listening on") }
            return server
        }
        var server = try await start()
        let client = APIClient(baseURL: url)
        try await withCleanup({ await server.stop() }) {
            try await registerTestFlows(client)
            _ = try await client.createAlertRule(CreateAlertRuleRequest(
                name: "kill-test", on: [.failed], targets: [AlertTargetRequest(kind: .webhook, url: receiver.url, secret: AlertTests.secret)]))
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            let agent = try await client.registerAgent(AgentRegistration(name: "kill-test"))
            _ = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
            _ = try await client.setState(run.id, SetStateRequest(state: .running))
            _ = try await client.setState(run.id, SetStateRequest(state: .failed, message: "exit status 1"))
            #expect(await eventually(timeout: .seconds(30)) { receiver.requests.count == 1 })
            server.kill9()
            await server.stop()
            server = try await start()
            // The lease of the attempt in flight (15 s) runs out, then the restarted coordinator sends again.
            #expect(await eventually(timeout: .seconds(60)) { receiver.requests.count == 2 })
            let first = try #require(receiver.requests.first), second = try #require(receiver.requests.last)
            #expect(first.header("Fathom-Delivery") == second.header("Fathom-Delivery"), "the same id: the receiver deduplicates on it")
            #expect(first.body == second.body)
            #expect(second.message?.runID == run.id)
            #expect(AlertSignature.verify(header: second.header("Fathom-Signature") ?? "", body: second.body, secret: AlertTests.secret, now: Date()))
            #expect(await eventually(timeout: .seconds(30)) { (try? await client.alertDeliveries().first?.status) == .delivered })
            try await Task.sleep(for: .seconds(2))
            #expect(receiver.requests.count == 2, "delivered once after the restart")
        }
    }
}
