import FathomAPI
import FathomCore
import Foundation

/// The alert rules, their targets (URLs masked) and the delivery log.
public struct AlertsPage: WebPage {
    public static let template = "alerts"
    public var title = "Alerts"
    public var navAlerts = true
    /// What the last action did (a rule added, with a secret made; a test sent; a refusal).
    public var flash: String?
    /// What the form held when it was refused, to show again.
    let entered: [String: String]
    let triggerChoices: [Choice]
    let kindChoices: [Choice]
    let rules: [RuleRow]
    let hasRules: Bool
    let deliveries: [DeliveryRow]
    let hasDeliveries: Bool

    struct RuleRow {
        let name, triggers, testAction, deleteAction, flows, created: String
        let targets: [TargetRow]
    }

    struct Choice {
        let value: String
        let checked: Bool
    }

    /// The triggers the form offers as boxes (deadlines, streaks and agents have fields of their own).
    public static let formTriggers: [AlertTrigger] = [.failed, .crashed, .cancelled, .completed, .late]

    struct TargetRow {
        let kind, url: String
        let signed: Bool
    }

    struct DeliveryRow {
        let created, status, rule, event, target, attempts, lastStatus, error, next: String
        let runLink: String?
        let failed, pending: Bool
    }

    public init(rules: [AlertRule], deliveries: [AlertDelivery], entered: [String: String] = [:], flash: String? = nil) {
        self.flash = flash
        self.entered = entered
        triggerChoices = Self.formTriggers.map { Choice(value: $0.rawValue, checked: entered["on-\($0.rawValue)"] == "on") }
        kindChoices = AlertTargetKind.allCases.map { Choice(value: $0.rawValue, checked: entered["kind"] == $0.rawValue) }
        self.rules = rules.map { rule in
            RuleRow(
                name: rule.name, triggers: rule.triggerText, testAction: Links.alertRule(rule.name) + "/test",
                deleteAction: Links.alertRule(rule.name) + "/delete",
                flows: (rule.flows.isEmpty ? "every flow" : rule.flows.joined(separator: ", "))
                    + (rule.tags.isEmpty ? "" : ", tagged \(rule.tags.joined(separator: ", "))"), created: Formatting.time(rule.createdAt),
                targets: rule.targets.map { TargetRow(kind: $0.kind.rawValue, url: $0.url, signed: $0.signed) })
        }
        hasRules = !rules.isEmpty
        self.deliveries = deliveries.map { delivery in
            DeliveryRow(
                created: Formatting.time(delivery.createdAt), status: delivery.status.rawValue, rule: delivery.ruleName, event: delivery.event,
                target: "\(delivery.target.kind.rawValue) \(delivery.target.url)", attempts: String(delivery.attempts),
                lastStatus: delivery.lastStatus.map(String.init) ?? "", error: delivery.status == .delivered ? "" : delivery.lastError ?? "",
                next: delivery.status == .pending && delivery.attempts > 0 ? delivery.nextAttemptAt.map(Formatting.time) ?? "" : "",
                runLink: delivery.runID.map { "/runs/" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") },
                failed: delivery.status == .failed, pending: delivery.status == .pending)
        }
        hasDeliveries = !deliveries.isEmpty
    }
}
