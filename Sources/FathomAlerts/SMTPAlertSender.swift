import FathomAPI
import Foundation

/// Sends email alerts through the coordinator's mail server (``SMTPSettings``); the target's URL is `mailto:ADDRESS`.
public struct SMTPAlertSender: AlertSender {
    let client: SMTPClient
    let clock: @Sendable () -> Date

    public init(settings: SMTPSettings, clock: @escaping @Sendable () -> Date = Date.init) {
        self.client = SMTPClient(settings: settings)
        self.clock = clock
    }

    public func send(id: String, payload: String, message: AlertMessage, to target: StoredAlertTarget) async -> AlertSendResult {
        guard let address = AlertTargetRequest.emailAddress(of: target.url) else {
            return AlertSendResult(status: nil, error: "'\(target.url.prefix(64))' is not a mailto: address", retryable: false)
        }
        let text = EmailMessage.render(message, from: client.settings.from, to: [address], date: clock())
        do {
            try await client.send(message: text, to: [address])
            return .delivered(status: 250)
        } catch {
            return AlertSendResult(status: error.code, error: error.description, retryable: error.retryable)
        }
    }
}

/// Sends each alert with the sender for its target's kind: HTTP for webhooks and Slack, SMTP for email.
public struct AlertSenders: AlertSender {
    public var http: any AlertSender
    /// Nil when the coordinator has no mail server (`--smtp-url`): email targets then fail with that reason.
    public var email: (any AlertSender)?

    public init(http: any AlertSender = HTTPAlertSender(), email: (any AlertSender)? = nil) {
        self.http = http
        self.email = email
    }

    public func send(id: String, payload: String, message: AlertMessage, to target: StoredAlertTarget) async -> AlertSendResult {
        switch target.kind {
        case .webhook, .slack:
            return await http.send(id: id, payload: payload, message: message, to: target)
        case .email:
            guard let email else {
                return AlertSendResult(
                    status: nil, error: "the coordinator has no mail server: start it with --smtp-url and --smtp-from", retryable: false)
            }
            return await email.send(id: id, payload: payload, message: message, to: target)
        }
    }
}
