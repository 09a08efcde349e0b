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
