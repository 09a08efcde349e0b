import ArgumentParser
import FathomAPI
import FathomCore
import Foundation

/// `fathom alert add|list|rm|test|log`.
struct AlertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alert", abstract: "Tell people when runs end, fail or are late: webhooks, Slack and email, sent by the coordinator.",
        subcommands: [Add.self, List.self, Remove.self, Test.self, Log.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Add an alert rule.",
            discussion: """
                The coordinator sends the alert itself, so a run that crashes before its code starts alerts too.
                A webhook is signed (Fathom-Signature: t=…,v1=HMAC-SHA256); without --secret the coordinator makes
                a secret and prints it once. Examples:
                  fathom alert add --on Failed,Crashed --flow sort-compress --webhook https://alerts.example.com/fathom
                  fathom alert add --name nightly-late --on Late --slack https://hooks.slack.com/services/T000/B000/XXXX
                  fathom alert add --on Crashed --email ops@example.com   (the server needs --smtp-url and --smtp-from)
                  fathom alert add --flow sort-compress --running-longer-than 2h --late 10m --webhook https://alerts.example.com/fathom
                """)

        @OptionGroup var client: ClientOptions

        @Option(help: "The rule's name (default: made from --on and --flow).")
        var name: String?

        @Option(help: "What fires it, comma-separated: Completed, Failed, Crashed, Cancelled, Late.")
        var on: String = ""

        @Option(name: .customLong("running-longer-than"), help: "Also fire when a run is still running this long after its start: 90m, 2h.")
        var runningLongerThan: String?

        @Option(help: "Also fire when a run has not started this long after it fell due: 10m, 1h.")
        var late: String?

        @Option(name: .customLong("agent-offline"), help: "Also fire when no agent of --queue and --launcher was seen this long (and again when one is back): 5m.")
        var agentOffline: String?

        @Option(help: "With --agent-offline: the queue watched (default: default).")
        var queue: String?

        @Option(help: "With --agent-offline: the launcher watched, local or ecs (default: local).")
        var launcher: LauncherKind?

        @Option(name: .customLong("in-a-row"), help: "With --on Failed,Crashed: fire only when a flow's failures reach this many in a row (2-100).")
        var inARow: Int?

        @Option(name: .customLong("flow"), help: "Only runs of this flow; repeat for more (default: every flow).")
        var flows: [String] = []

        @Option(name: .customLong("tag"), help: "Only runs with this tag (fathom run --tag); repeat for more: a run needs every one.")
        var tags: [String] = []

        @Option(help: "POST the alert as signed JSON to this URL; repeat for more.")
        var webhook: [String] = []

        @Option(help: "The webhooks' signing secret (16+ characters; default: one made by the coordinator, printed once).")
        var secret: String?

        @Option(help: "A Slack incoming-webhook URL; repeat for more.")
        var slack: [String] = []

        @Option(help: "Email the alert to this address through the server's mail server (--smtp-url); repeat for more.")
        var email: [String] = []

        func run() async throws {
            var triggers: [AlertTrigger] = []
            for name in on.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
                guard let trigger = AlertTrigger(name: name) else {
                    throw ValidationError(
                        "--on: '\(name)' is not a trigger; use \(AlertTrigger.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
                triggers.append(trigger)
            }
            let runningSeconds = try runningLongerThan.map { try DurationArgument.seconds($0, option: "--running-longer-than") }
            let lateSeconds = try late.map { try DurationArgument.seconds($0, option: "--late") }
            if runningSeconds != nil, !triggers.contains(.runningLong) { triggers.append(.runningLong) }
            if lateSeconds != nil, !triggers.contains(.notStarted) { triggers.append(.notStarted) }
            let offlineSeconds = try agentOffline.map { try DurationArgument.seconds($0, option: "--agent-offline") }
            if offlineSeconds != nil, !triggers.contains(.agentOffline) { triggers.append(.agentOffline) }
            guard !triggers.isEmpty else {
                throw ValidationError("Say what fires the rule: --on Failed,Crashed, --running-longer-than 2h, --late 10m or --agent-offline 5m.")
            }
            let targets = webhook.map { AlertTargetRequest(kind: .webhook, url: $0, secret: secret) }
                + slack.map { AlertTargetRequest(kind: .slack, url: $0) } + email.map { AlertTargetRequest(kind: .email, url: $0) }
            guard !targets.isEmpty else { throw ValidationError("Give at least one target: --webhook URL, --slack URL or --email ADDRESS.") }
            let created = try await client.makeClient().createAlertRule(CreateAlertRuleRequest(
                name: name, on: triggers, flows: flows.isEmpty ? nil : flows, targets: targets,
                runningLongerThanSeconds: runningSeconds, notStartedWithinSeconds: lateSeconds, consecutiveFailures: inARow,
                agentOfflineSeconds: offlineSeconds, queue: queue, launcher: launcher, tags: tags.isEmpty ? nil : tags))
            print("alert rule \(created.rule.name) (\(created.rule.id)): on \(created.rule.triggerText)"
                + " of \(created.rule.flows.isEmpty ? "every flow" : created.rule.flows.joined(separator: ", "))"
                + (created.rule.tags.isEmpty ? "" : " tagged \(created.rule.tags.joined(separator: ", "))"))
            for (index, target) in created.rule.targets.enumerated() {
                print("  \(target.kind.rawValue) \(target.url)")
                if let made = created.madeSecrets[String(index)] {
                    print("    signing secret (shown once; keep it where the receiver can read it): \(made)")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List alert rules (URLs masked, no secrets).")

        @OptionGroup var client: ClientOptions

        func run() async throws {
            let rules = try await client.makeClient().listAlertRules()
            if rules.isEmpty { print("no alert rules; add one with 'fathom alert add --on Failed,Crashed --webhook URL'") }
            for rule in rules {
                let flows = (rule.flows.isEmpty ? "every flow" : rule.flows.joined(separator: ","))
                    + (rule.tags.isEmpty ? "" : " tagged \(rule.tags.joined(separator: ","))")
                print("\(rule.name)  on \(rule.triggerText)  \(flows)  [\(rule.id)]")
                for target in rule.targets { print("  \(target.kind.rawValue) \(target.url)\(target.signed ? " (signed)" : "")") }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Remove an alert rule (its delivery log stays).")

        @OptionGroup var client: ClientOptions

        @Argument(help: "The rule's name or id.")
        var rule: String

        func run() async throws {
            let removed = try await client.makeClient().deleteAlertRule(rule)
            print("removed alert rule \(removed.name)")
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test", abstract: "Send a sample alert to each of a rule's targets and show how it went.")

        @OptionGroup var client: ClientOptions

        @Argument(help: "The rule's name or id.")
        var rule: String

        @Option(help: "How long to wait for the targets to answer.")
        var wait: String = "15s"

        func run() async throws {
            let api = client.makeClient()
            let seconds = try DurationArgument.seconds(wait, option: "--wait")
            let made = Set(try await api.testAlertRule(rule).map(\.id))
            let deadline = Date().addingTimeInterval(seconds)
            var shown: [AlertDelivery] = []
            repeat {
                shown = try await api.alertDeliveries(rule: rule, limit: 1000).filter { made.contains($0.id) }
                if shown.allSatisfy({ $0.status != .pending || $0.attempts > 0 }) { break }
                try await Task.sleep(for: .milliseconds(200))
            } while Date() < deadline
            for delivery in shown { print(AlertText.line(delivery)) }
            if shown.contains(where: { $0.status != .delivered }) { throw ExitCode(1) }
        }
    }

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "log", abstract: "Show alert deliveries, newest first.")

        @OptionGroup var client: ClientOptions

        @Option(help: "Only deliveries of this rule (name or id).")
        var rule: String?

        @Option(help: "How many to show (1-1000).")
        var limit = 50

        func run() async throws {
            let deliveries = try await client.makeClient().alertDeliveries(rule: rule, limit: limit)
            if deliveries.isEmpty { print("no deliveries yet") }
            for delivery in deliveries { print(AlertText.line(delivery)) }
        }
    }
}

/// A delivery on one line, as `fathom alert test` and `fathom alert log` show it.
enum AlertText {
    static func line(_ delivery: AlertDelivery) -> String {
        let when = delivery.createdAt.formatted(.iso8601)
        var text = "\(when)  \(delivery.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(delivery.ruleName)"
            + "  \(delivery.event)  → \(delivery.target.kind.rawValue) \(delivery.target.url)  attempts \(delivery.attempts)"
        if let status = delivery.lastStatus { text += "  HTTP \(status)" }
        if let error = delivery.lastError, delivery.status != .delivered { text += "\n    \(error)" }
        if let next = delivery.nextAttemptAt, delivery.status == .pending, delivery.attempts > 0 { text += "\n    next attempt \(next.formatted(.iso8601))" }
        return text
    }
}
