import FathomAlerts
import FathomAPI
import FathomClient
import FathomCore
import FathomServer
import Foundation
import Testing

/// Email alerts through a real mail server (aiosmtpd) with STARTTLS and AUTH.
@Suite struct AlertEmailTests {
    func settings(_ sink: SMTPSink, password: String = SMTPSink.password) throws -> SMTPSettings {
        try SMTPSettings.parse(
            url: "smtp://alerts%40example.com@localhost:\(sink.port)", from: "fathom@example.com", password: password, caFile: sink.caFile)
    }

    /// A coordinator that sends email through `mail`.
    func withMailingCoordinator<T>(_ mail: SMTPSettings, _ body: (APIClient) async throws -> T) async throws -> T {
        try await withCoordinator(configure: {
            $0.coordinator.publicURL = "https://fathom.example.com"
            $0.coordinator.sendsEmail = true
            $0.alertSender = AlertSenders(email: SMTPAlertSender(settings: mail))
            $0.reaperInterval = .milliseconds(100)
        }) { _, client in try await body(client) }
    }

    func failedRun(_ client: APIClient, message: String, lines: [String] = []) async throws -> FlowRun {
        try await AlertTests().runEnding(client, in: .failed, message: message, lines: lines)
    }

    @Test func aFailedRunIsMailedOverStartTLSWithAuthAndEveryFact() async throws {
        let sink = try await SMTPSink()
        try await withCleanup({ await sink.stop() }) {
            try await withMailingCoordinator(try settings(sink)) { client in
                try await registerTestFlows(client)
                let created = try await client.createAlertRule(CreateAlertRuleRequest(
                    name: "mail-failures", on: [.failed], targets: [AlertTargetRequest(kind: .email, url: "ops@example.com")]))
                #expect(created.rule.targets.first?.url == "mailto:ops@example.com", "a bare address is stored as mailto:")
                #expect(created.madeSecrets.isEmpty, "an email target has no signing secret")
                // A reason that tries to add a header: it must stay inside the subject.
                let run = try await failedRun(
                    client, message: "exit status 3: no input\r\nBcc: thief@example.net", lines: (1...25).map { "line \($0)" })

                #expect(await eventually(timeout: .seconds(30)) { sink.received.count == 1 })
                let mail = try #require(sink.received.first)
                #expect(mail.tls, "the message was sent after STARTTLS")
                #expect(mail.login == SMTPSink.user, "the client authenticated")
                #expect(mail.from == "fathom@example.com" && mail.to == ["ops@example.com"])
                #expect(!mail.headerNames.contains { $0.lowercased() == "bcc" }, "a reason cannot add a header: \(mail.headerNames)")
                let headers = mail.headers
                #expect(headers["to"] == "ops@example.com")
                let delivery = try #require(try await client.alertDeliveries(rule: "mail-failures").first)
                #expect(headers["message-id"] == "<\(delivery.id)@fathom>", "the delivery id makes the Message-ID")
                #expect(headers["x-fathom-delivery"] == delivery.id)
                let body = mail.body
                #expect(body.contains("sleeper run \(run.id) failed."))
                #expect(body.contains("Reason: exit status 3: no input"))
                #expect(body.contains("Run page: https://fathom.example.com/runs/\(run.id)"))
                #expect(body.contains("Attempt: 1"))
                #expect(body.contains("[info] line 25") && body.contains("[info] line 6") && !body.contains("[info] line 5\n"),
                        "the last 20 lines: \(body)")
                #expect(await eventually(timeout: .seconds(20)) {
                    (try? await client.alertDeliveries(rule: "mail-failures").first?.status) == .delivered
                })
                let logged = try #require(try await client.alertDeliveries(rule: "mail-failures").first)
                #expect(logged.attempts == 1 && logged.lastStatus == 250 && logged.target.kind == .email)
                #expect(sink.output.contains("AUTH PLAIN ok"), "\(sink.output)")
            }
        }
    }

    @Test func aTemporaryRefusalIsRetriedAsTheSameMessage() async throws {
        let sink = try await SMTPSink(mode: .failFirst)
        try await withCleanup({ await sink.stop() }) {
            try await withMailingCoordinator(try settings(sink)) { client in
                try await registerTestFlows(client)
                _ = try await client.createAlertRule(CreateAlertRuleRequest(
                    name: "mail-retry", on: [.failed], targets: [AlertTargetRequest(kind: .email, url: "mailto:ops@example.com")]))
                _ = try await failedRun(client, message: "exit status 1")
                #expect(await eventually(timeout: .seconds(30)) {
                    (try? await client.alertDeliveries(rule: "mail-retry").first?.status) == .delivered
                })
                let delivery = try #require(try await client.alertDeliveries(rule: "mail-retry").first)
                #expect(delivery.attempts == 2, "451 is temporary: tried again")
                #expect(sink.output.contains("answered DATA with 451"))
                #expect(sink.received.count == 1)
                #expect(sink.received.first?.headers["message-id"] == "<\(delivery.id)@fathom>")
            }
        }
    }

    @Test func aServerWithoutStartTLSOrAWrongPasswordFailsWithTheReasonAndNoRetry() async throws {
        let plain = try await SMTPSink(mode: .plain)
        let secure = try await SMTPSink()
        try await withCleanup({ await plain.stop(); await secure.stop() }) {
            for (sink, password, expected) in [(plain, SMTPSink.password, "does not offer STARTTLS"), (secure, "wrong-password", "535")] {
                try await withMailingCoordinator(try settings(sink, password: password)) { client in
                    try await registerTestFlows(client)
                    _ = try await client.createAlertRule(CreateAlertRuleRequest(
                        name: "mail-refused", on: [.failed], targets: [AlertTargetRequest(kind: .email, url: "ops@example.com")]))
                    _ = try await failedRun(client, message: "exit status 1")
                    #expect(await eventually(timeout: .seconds(30)) {
                        (try? await client.alertDeliveries(rule: "mail-refused").first?.status) == .failed
                    })
                    let delivery = try #require(try await client.alertDeliveries(rule: "mail-refused").first)
                    #expect(delivery.attempts == 1, "a refusal that cannot pass is not retried")
                    #expect(delivery.lastError?.contains(expected) == true, "\(delivery.lastError ?? "")")
                    #expect(delivery.lastError?.contains(SMTPSink.password) != true && delivery.lastError?.contains("wrong-password") != true)
                    #expect(sink.received.isEmpty)
                }
            }
        }
    }

    @Test func emailRulesNeedAMailServerAndAnAddress() async throws {
        try await withCoordinator { _, client in
            try await registerTestFlows(client)
            await #expect { _ = try await client.createAlertRule(CreateAlertRuleRequest(
                on: [.failed], targets: [AlertTargetRequest(kind: .email, url: "ops@example.com")]))
            } throws: { AlertTests.field(of: $0 as! APIClientError) == "targets[0]" }
            #expect(try await client.listAlertRules().isEmpty, "nothing written")
        }
        for bad in ["ops", "ops@example", "a b@example.com", "ops@example.com\r\nBcc: x@example.net", "mailto:"] {
            #expect(throws: ValidationError.self, "\(bad)") {
                try CreateAlertRuleRequest(on: [.failed], targets: [AlertTargetRequest(kind: .email, url: bad)]).validate()
            }
        }
        #expect(throws: ValidationError.self) {
            try CreateAlertRuleRequest(on: [.failed], targets: [AlertTargetRequest(kind: .email, url: "ops@example.com", secret: String(repeating: "s", count: 20))]).validate()
        }
    }

    @Test func smtpSettingsAreReadAndCheckedWithoutShowingThePassword() throws {
        let secure = try SMTPSettings.parse(url: "smtp://me%40example.com:p%40ss@mail.example.com", from: "fathom@example.com")
        #expect(secure.security == .startTLS && secure.port == 587 && secure.username == "me@example.com" && secure.password == "p@ss")
        #expect(!secure.description.contains("p@ss") && !secure.description.contains("p%40ss"))
        let implicit = try SMTPSettings.parse(url: "smtps://me@mail.example.com", from: "fathom@example.com", password: "from-env")
        #expect(implicit.security == .implicitTLS && implicit.port == 465 && implicit.password == "from-env")
        for (url, from, field) in [
            ("http://mail.example.com", "fathom@example.com", "--smtp-url"), ("smtp://", "fathom@example.com", "--smtp-url"),
            ("smtp://:pw@mail.example.com", "fathom@example.com", "--smtp-url"), ("smtp://mail.example.com:0", "fathom@example.com", "--smtp-url"),
            ("smtp://mail.example.com", "fathom", "--smtp-from"),
        ] {
            #expect { try SMTPSettings.parse(url: url, from: from) } throws: { ($0 as? ValidationError)?.field == field }
        }
        #expect { try SMTPSettings.parse(url: "smtp://u:topsecret@h", from: "x") } throws: { !"\($0)".contains("topsecret") }
    }
}
