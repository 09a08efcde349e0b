import FathomAPI
import FathomClient
import FathomCore
import Foundation
import Testing

/// The Alerts page's form and buttons, in a real Chromium: add a rule, send a test, see the delivery, remove it.
@Suite(.serialized, .enabled(if: HeadlessChromium.executable != nil, "needs Debian's chromium (scripts/test installs it)"))
struct WebUIAlertFormTests {
    @Test func aRuleIsAddedTestedAndRemovedFromTheAlertsPage() async throws {
        let receiver = try await WebhookReceiver()
        try await withCleanup({ await receiver.stop() }) {
            try await withCoordinator(configure: { $0.reaperInterval = .milliseconds(100) }) { coordinator, client in
                let browser = try HeadlessChromium()
                try await browser.openPage()
                try await browser.navigate(coordinator.url + "/alerts")
                // A refusal keeps what was typed and says why.
                _ = try await browser.evaluate("""
                    document.querySelector('input[name=name]').value = 'ops-failures';
                    document.querySelector('input[name="on-Failed"]').checked = true;
                    document.querySelector('input[name=tags]').value = 'critical, team:data';
                    document.querySelector('input[name=target]').value = 'not a url';
                    document.getElementById('add-rule').click(); true
                    """)
                try await browser.waitFor("document.getElementById('flash') !== null")
                let refusal = try await browser.string("document.getElementById('flash').textContent") ?? ""
                #expect(refusal.contains("not an http(s) URL"), "\(refusal)")
                #expect(try await browser.string("document.querySelector('input[name=tags]').value") == "critical, team:data")
                #expect(try await browser.evaluate("document.querySelector('input[name=\"on-Failed\"]').checked") as? Bool == true)
                #expect(try await client.listAlertRules().isEmpty, "nothing written")

                _ = try await browser.evaluate("""
                    document.querySelector('input[name=target]').value = \(HeadlessChromium.literal(receiver.url));
                    document.querySelector('input[name=runningLongerThan]').value = '2h';
                    document.getElementById('add-rule').click(); true
                    """)
                try await browser.waitFor("document.querySelector('tr.alert-rule') !== null")
                let added = try await browser.string("document.getElementById('flash').textContent") ?? ""
                #expect(added.contains("Added rule ops-failures") && added.contains("signing secret, shown this once"), "\(added)")
                let rule = try #require(try await client.listAlertRules().first)
                #expect(rule.name == "ops-failures" && rule.on == [.failed, .runningLong] && rule.runningLongerThanSeconds == 7_200)
                #expect(rule.tags == ["critical", "team:data"] && rule.targets.first?.signed == true)
                let row = try await browser.string("document.querySelector('tr.alert-rule').innerText") ?? ""
                #expect(row.contains("tagged critical, team:data"), "\(row)")

                // Send a test: the receiver gets the sample, the log shows it.
                _ = try await browser.evaluate("document.querySelector('button.test-rule').click(); true")
                #expect(await eventually(timeout: .seconds(20)) { receiver.requests.count == 1 })
                #expect(receiver.requests.first?.message?.event.hasPrefix("test:") == true)
                #expect(await eventually(timeout: .seconds(20)) {
                    (try? await client.alertDeliveries(rule: "ops-failures").first?.status) == .delivered
                })
                try await browser.navigate(coordinator.url + "/alerts")
                let log = try await browser.string("document.querySelector('tr.alert-delivery').innerText") ?? ""
                #expect(log.contains("delivered") && log.contains("ops-failures"), "\(log)")

                // Remove it.
                _ = try await browser.evaluate("document.querySelector('button.remove-rule').click(); true")
                try await browser.waitFor("document.getElementById('no-rules') !== null")
                #expect(try await client.listAlertRules().isEmpty)
            }
        }
    }
}
