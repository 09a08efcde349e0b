import FathomAPI
import Foundation

/// A target as the coordinator keeps it: with its secret parts, which only a sender reads.
public struct StoredAlertTarget: Codable, Sendable, Equatable {
    public var kind: AlertTargetKind
    public var url: String
    /// The webhook's signing secret.
    public var secret: String?

    public init(kind: AlertTargetKind, url: String, secret: String?) {
        self.kind = kind
        self.url = url
        self.secret = secret
    }

    /// As the API and the UI show it: the URL masked, the secret left out.
    public var shown: AlertTarget { AlertTarget(kind: kind, url: AlertTarget.masked(url), signed: secret != nil) }
}

/// What one attempt to deliver gave.
public struct AlertSendResult: Sendable, Equatable {
    /// The target's HTTP status, when it answered.
    public var status: Int?
    /// Why it was not delivered; nil when the target took it (2xx).
    public var error: String?
    /// Whether trying again can help (a 4xx other than 408 and 429 says the request itself is refused).
    public var retryable: Bool

    public init(status: Int?, error: String?, retryable: Bool) {
        self.status = status
        self.error = error
        self.retryable = retryable
    }

    /// A 2xx.
    public static func delivered(status: Int) -> AlertSendResult { AlertSendResult(status: status, error: nil, retryable: false) }
}

/// Sends one rendered alert to one target. The coordinator's dispatcher owns retries and the delivery log.
public protocol AlertSender: Sendable {
    /// Sends `message` (its JSON is `payload`) with the delivery's stable `id`; never throws: every failure is a result.
    func send(id: String, payload: String, message: AlertMessage, to target: StoredAlertTarget) async -> AlertSendResult
}
