import FathomAPI
import FathomCore
import Foundation

/// An alert as a Slack incoming webhook takes it: a `text` fallback and blocks.
enum SlackMessage {
    /// The JSON body for `message`.
    static func json(for message: AlertMessage) -> String {
        let subject = message.runID.map { "*\(escape(message.flow ?? ""))* run `\(escape($0))`" }
            ?? "*\(escape(message.launcher ?? "")) agents* on queue `\(escape(message.queue ?? ""))`"
        let title = "\(icon(message.state)) \(subject) \(escape(message.state.lowercased()))"
        var blocks: [[String: Any]] = [
            ["type": "section", "text": ["type": "mrkdwn", "text": title + (message.link.map { " · <\(escapeLink($0))|open the run>" } ?? "")]],
        ]
        var facts = ["*Reason:* \(escape(message.reason))"]
        if let attempt = message.attempt { facts.append("*Attempt:* \(attempt)") }
        if let duration = message.durationSeconds { facts.append("*Duration:* \(Int(saturating: duration.rounded())) s") }
        if let hint = message.hint { facts.append("*What to do:* \(escape(hint))") }
        if let arn = message.taskARN {
            facts.append("*ECS task:* " + (message.taskConsoleLink.map { "<\(escapeLink($0))|\(escape(arn))>" } ?? escape(arn)))
        }
        blocks.append(["type": "section", "text": ["type": "mrkdwn", "text": facts.joined(separator: "\n")]])
        if !message.lastLines.isEmpty {
            // Slack caps a section's text at 3,000 characters.
            let lines = escape(message.lastLines.joined(separator: "\n").replacingOccurrences(of: "```", with: "'''"))
            blocks.append(["type": "section", "text": ["type": "mrkdwn", "text": "```\(String(lines.suffix(2_800)))```"]])
        }
        blocks.append(["type": "context", "elements": [["type": "mrkdwn", "text": "rule \(escape(message.rule)) · delivery \(message.id)"]]])
        let about = message.runID.map { "\(message.flow ?? "") run \($0)" } ?? "\(message.launcher ?? "") agents on queue \(message.queue ?? "")"
        let body: [String: Any] = ["text": "\(about) \(message.state.lowercased()): \(message.reason)", "blocks": blocks]
        // Every value above is a string, number or nested dictionary/array of them: encoding cannot fail.
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Slack's mrkdwn control characters, escaped as Slack asks (`&`, `<`, `>`).
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// A URL inside `<…|…>`: `|` and `>` would end it.
    static func escapeLink(_ url: String) -> String {
        url.replacingOccurrences(of: "|", with: "%7C").replacingOccurrences(of: ">", with: "%3E").replacingOccurrences(of: "<", with: "%3C")
    }

    private static func icon(_ state: String) -> String {
        switch state {
        case "Completed": return ":white_check_mark:"
        case "Cancelled": return ":no_entry_sign:"
        case "Late", "RunningLong", "NotStarted": return ":hourglass:"
        case "AgentBack": return ":large_green_circle:"
        default: return ":rotating_light:"
        }
    }
}
