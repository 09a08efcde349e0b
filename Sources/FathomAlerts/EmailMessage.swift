import FathomAPI
import FathomCore
import Foundation

/// An alert as an email (RFC 5322): a plain-text body in base64, a subject safe for any flow name or reason,
/// and a `Message-ID` made from the delivery id, so a retried delivery is the same message to a mail system.
enum EmailMessage {
    /// The whole message, CRLF line ends.
    static func render(_ message: AlertMessage, from: String, to recipients: [String], date: Date) -> String {
        let about = message.runID.map { "\(message.flow ?? "") run \($0)" } ?? "\(message.launcher ?? "") agents on queue \(message.queue ?? "")"
        let subject = "[Fathom] \(about) \(message.state.lowercased()): \(message.reason)"
        let idPart = String(message.id.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || "-._".unicodeScalars.contains($0) })
        let headers = [
            "From: Fathom <\(from)>",
            "To: \(recipients.joined(separator: ", "))",
            "Subject: \(headerText(String(subject.prefix(200))))",
            "Date: \(rfc5322Date(date))",
            "Message-ID: <\(idPart.isEmpty ? "alert" : idPart)@fathom>",
            "X-Fathom-Delivery: \(idPart)",
            "X-Fathom-Event: \(headerText(String(message.event.prefix(200))))",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
        ]
        let body = Data(text(message, about: about).utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        return headers.joined(separator: "\r\n") + "\r\n\r\n" + body + "\r\n"
    }

    /// The plain-text body: what happened, why, what to do, where to look, the last log lines.
    static func text(_ message: AlertMessage, about: String) -> String {
        var lines = ["\(about) \(message.state.lowercased()).", "", "Reason: \(message.reason)"]
        if let hint = message.hint { lines.append("What to do: \(hint)") }
        if let attempt = message.attempt { lines.append("Attempt: \(attempt)") }
        if let duration = message.durationSeconds { lines.append("Duration: \(Int(saturating: duration.rounded())) s") }
        if let link = message.link { lines.append("Run page: \(link)") }
        if let arn = message.taskARN { lines.append("ECS task: \(arn)") }
        if let console = message.taskConsoleLink { lines.append("ECS console: \(console)") }
        if !message.lastLines.isEmpty {
            lines += ["", "Last \(message.lastLines.count) log lines:"] + message.lastLines.map { "  \($0)" }
        }
        lines += ["", "Rule \(message.rule), delivery \(message.id)."]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Header text as it may go on one line: printable ASCII as it is, anything else (line breaks included) as an
    /// RFC 2047 encoded word, so no value can start a header of its own.
    static func headerText(_ value: String) -> String {
        if value.unicodeScalars.allSatisfy({ (32..<127).contains($0.value) }) { return value }
        // Encoded words are at most 75 characters; cut the UTF-8 at character boundaries.
        var words: [String] = [], chunk = ""
        for character in value {
            let printable = character.unicodeScalars.allSatisfy { $0.value >= 32 && $0.value != 127 } ? String(character) : " "
            if (chunk + printable).utf8.count > 45 {
                words.append(chunk)
                chunk = ""
            }
            chunk += printable
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?\(Data($0.utf8).base64EncodedString())?=" }.joined(separator: "\r\n ")
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
