import FathomAPI
import FathomCore
import FathomWebUI
import Foundation
import Hummingbird

/// The Alerts page's form and buttons: add a rule, send a test, remove one. Refusals come back on the page with the
/// coordinator's own message and what was typed.
extension UIRoutes {
    func addAlertRoutes(to router: Router<BasicRequestContext>) {
        router.get("alerts") { request, _ in try await alertsPage(request) }
        router.post("alerts") { request, _ in try await addAlertRule(request) }
        router.post("alerts/:name/test") { request, context in
            let name = try context.parameters.require("name")
            do {
                let sent = try await coordinator.testAlertRule(name)
                return try await alertsPage(request, flash: "Test of \(name): \(sent.count) sample\(sent.count == 1 ? "" : "s") queued; the deliveries below show how each went.")
            } catch let error as any ErrorAnswer {
                return try await alertsPage(request, flash: error.body.error.message, status: error.status)
            }
        }
        router.post("alerts/:name/delete") { request, context in
            let name = try context.parameters.require("name")
            do {
                _ = try await coordinator.deleteAlertRule(name)
                return HTMLResponse.redirect("/alerts")
            } catch let error as any ErrorAnswer {
                return try await alertsPage(request, flash: error.body.error.message, status: error.status)
            }
        }
    }

    func alertsPage(
        _ request: Request, entered: [String: String] = [:], flash: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let page = AlertsPage(
            rules: try await coordinator.alertRules(), deliveries: try await coordinator.alertDeliveries(rule: nil, limit: 100),
            entered: entered, flash: flash)
        return self.page(page, request, status: status)
    }

    /// The form as a ``CreateAlertRuleRequest``: checked triggers, durations as `2h`, lists comma-separated.
    func addAlertRule(_ request: Request) async throws -> Response {
        let form = try await FormBody.fields(of: request)
        func given(_ key: String) -> String? { form[key].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0.trimmingCharacters(in: .whitespaces) } }
        func list(_ key: String) -> [String]? {
            let items = (given(key) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return items.isEmpty ? nil : items
        }
        func refuse(_ message: String) async throws -> Response {
            try await alertsPage(request, entered: form, flash: message, status: .unprocessableContent)
        }
        var triggers = AlertsPage.formTriggers.filter { form["on-\($0.rawValue)"] == "on" }
        var seconds: [String: Double] = [:]
        for (key, label, trigger) in [("runningLongerThan", "Running longer than", AlertTrigger.runningLong), ("late", "Not started within", .notStarted)] {
            guard let text = given(key) else { continue }
            guard let value = DurationText.seconds(text) else { return try await refuse("\(label): '\(text.prefix(40))' is not a duration; write e.g. 90m or 2h") }
            seconds[key] = value
            triggers.append(trigger)
        }
        guard !triggers.isEmpty else { return try await refuse("Say what fires the rule: tick a state, or give a deadline.") }
        guard let target = given("target"), let kind = form["kind"].flatMap(AlertTargetKind.init(rawValue:)) else {
            return try await refuse("Give a target: a webhook URL, a Slack incoming-webhook URL or an email address.")
        }
        do {
            let created = try await coordinator.createAlertRule(CreateAlertRuleRequest(
                name: given("name"), on: triggers, flows: list("flows"), targets: [AlertTargetRequest(kind: kind, url: target)],
                runningLongerThanSeconds: seconds["runningLongerThan"], notStartedWithinSeconds: seconds["late"], tags: list("tags")))
            let secret = created.madeSecrets["0"].map { " Its signing secret, shown this once (keep it where the receiver can read it): \($0)" } ?? ""
            return try await alertsPage(request, flash: "Added rule \(created.rule.name).\(secret)")
        } catch let error as any ErrorAnswer {
            return try await refuse(error.body.error.message)
        }
    }
}
