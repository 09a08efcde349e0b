import FathomAPI
import FathomCore
import Foundation

/// What an alert says about a run: who, what, why, what to do, and its last lines.
enum AlertComposer {
    static func message(
        event: String, trigger: AlertTrigger, rule: String, run: FlowRun, lines: [LogLine], publicURL: String?, at: Date
    ) -> AlertMessage {
        let shown = lines.map { line in "[\(line.level.rawValue)] \(line.message)" }
        let duration = run.startedAt.flatMap { started in run.endedAt.map { $0.timeIntervalSince(started) } }
        return AlertMessage(
            id: "", event: event, rule: rule, flow: run.flowName, runID: run.id, state: trigger.rawValue, reason: run.stateMessage,
            hint: hint(in: [run.stateMessage] + lines.reversed().map(\.message)), attempt: run.attempt, durationSeconds: duration,
            link: publicURL.map { Coordinator.joined($0, "runs/\(run.id)") }, taskARN: run.infrastructure[.taskArn],
            taskConsoleLink: run.infrastructure[.console], lastLines: shown, at: at)
    }

    /// An agent alert: which agents, gone since when (`AgentOffline`) or back (`AgentBack`, its event key says so).
    static func agentMessage(event: AlertEvent, rule: StoredAlertRule, at: Date) -> AlertMessage {
        let back = event.key.hasPrefix("agent-back:")
        let launcher = (rule.launcher ?? .local).rawValue, queue = rule.queue ?? "default"
        let reason = back
            ? "a \(launcher) agent on queue '\(queue)' is polling again"
            : "no \(launcher) agent on queue '\(queue)' was seen for \(DurationText.describe(rule.agentOfflineSeconds ?? 0)): its runs wait"
        let hint = back ? nil : "Start one: fathom agent --launcher \(launcher) --queue \(queue); or look at why the agents stopped (their host, their logs)."
        return AlertMessage(
            id: "", event: event.key, rule: rule.name, flow: nil, runID: nil, state: back ? "AgentBack" : "AgentOffline", reason: reason,
            hint: hint, attempt: nil, durationSeconds: nil, link: nil, taskARN: nil, taskConsoleLink: nil, lastLines: [], at: at,
            queue: queue, launcher: launcher)
    }

    /// What a deadline alert says instead of the run's state message; nil for other triggers.
    static func deadlineReason(_ trigger: AlertTrigger, rule: StoredAlertRule, run: FlowRun, now: Date) -> String? {
        switch trigger {
        case .runningLong:
            guard let limit = rule.runningLongerThan, let started = run.startedAt else { return nil }
            return "still \(run.state) after \(elapsed(now.timeIntervalSince(started))), longer than the rule's \(DurationText.describe(limit))"
                + (run.stateMessage.isEmpty ? "" : " (\(run.stateMessage))")
        case .notStarted:
            guard let limit = rule.notStartedWithin else { return nil }
            let due = run.scheduledFor ?? run.createdAt
            return "not started \(elapsed(now.timeIntervalSince(due))) after it fell due (the rule allows \(DurationText.describe(limit))); it is \(run.state)"
                + (run.stateMessage.isEmpty ? "" : ": \(run.stateMessage)")
        default:
            return nil
        }
    }

    /// `2h 3m 4s`, `45s`: whole seconds, as people read a wait.
    static func elapsed(_ seconds: Double) -> String {
        let total = Int(saturating: max(0, seconds).rounded())
        let parts = [(total / 3600, "h"), (total % 3600 / 60, "m"), (total % 60, "s")].filter { $0.0 > 0 }
        return parts.isEmpty ? "0s" : parts.map { "\($0.0)\($0.1)" }.joined(separator: " ")
    }

    /// The first `hint: …` Fathom wrote (ECS stop reasons carry one), from the state message or the newest lines.
    static func hint(in texts: [String]) -> String? {
        for text in texts {
            guard let range = text.range(of: "hint: ") else { continue }
            let rest = text[range.upperBound...]
            let end = rest.firstIndex(of: ")").map { rest[..<$0] } ?? rest
            let hint = end.trimmingCharacters(in: .whitespacesAndNewlines)
            if !hint.isEmpty { return String(hint.prefix(1000)) }
        }
        return nil
    }
}

/// Which hosts an alert target may name. The cloud metadata addresses are always refused (a rule must not make
/// the coordinator read its own credentials); with a list set, only hosts on it (`*.example.com` for subdomains).
struct AlertHostPolicy {
    let allowed: [String]

    static let metadataHosts: Set<String> = ["169.254.169.254", "169.254.170.2", "[fd00:ec2::254]", "fd00:ec2::254", "metadata.google.internal"]

    func check(_ url: String, field: String) throws(ValidationError) {
        let host = (URLComponents(string: url)?.host ?? "").lowercased()
        if Self.metadataHosts.contains(host) || host.hasPrefix("169.254.") {
            throw ValidationError(
                code: "host_refused", field: field, problem: "\(host) is a cloud metadata address",
                fix: "Send alerts to a service of your own; the coordinator never calls its metadata endpoint for a rule.")
        }
        guard !allowed.isEmpty else { return }
        let permitted = allowed.contains { pattern in
            let pattern = pattern.lowercased()
            return pattern.hasPrefix("*.") ? host.hasSuffix(String(pattern.dropFirst(1))) : host == pattern
        }
        guard permitted else {
            throw ValidationError(
                code: "host_refused", field: field, problem: "\(host) is not among the hosts this coordinator sends alerts to",
                fix: "Use one of \(allowed.joined(separator: ", ")), or ask the operator to add it (fathom server --alert-host).")
        }
    }
}
