import AsyncHTTPClient
import FathomAPI
import FathomCore
import Foundation
import NIOCore
import NIOHTTP1

/// Sends webhooks (the message as JSON, signed) and Slack incoming webhooks (blocks) over HTTP(S).
///
/// Redirects are not followed (a target answers itself or fails), the body of an answer is read up to 4 KiB for
/// the delivery log, and an attempt ends after `timeout`.
public struct HTTPAlertSender: AlertSender {
    let client: HTTPClient
    let timeout: TimeAmount
    let clock: @Sendable () -> Date

    /// A sender on `client` (``makeClient()`` when nil).
    public init(client: HTTPClient = HTTPAlertSender.sharedClient, timeout: TimeAmount = .seconds(10), clock: @escaping @Sendable () -> Date = Date.init) {
        self.client = client
        self.timeout = timeout
        self.clock = clock
    }

    /// One client for every alert of the process: no redirects, no retried connections (the dispatcher retries).
    public static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public func send(id: String, payload: String, message: AlertMessage, to target: StoredAlertTarget) async -> AlertSendResult {
        var request = HTTPClientRequest(url: target.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Fathom")
        request.headers.add(name: "Fathom-Delivery", value: id)
        let body: String
        switch target.kind {
        case .webhook:
            body = payload
            request.headers.add(name: "Fathom-Event", value: message.event)
            if let secret = target.secret {
                let timestamp = Int(saturating: clock().timeIntervalSince1970.rounded(.down))
                request.headers.add(name: AlertSignature.header, value: AlertSignature.value(secret: secret, timestamp: timestamp, body: body))
            }
        case .slack:
            body = SlackMessage.json(for: message)
        case .email:
            return AlertSendResult(status: nil, error: "an email target goes through SMTP, not HTTP", retryable: false)
        }
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await client.execute(request, timeout: timeout)
            let answer = String(buffer: try await response.body.collect(upTo: 4096))
            let status = Int(response.status.code)
            if (200..<300).contains(status) { return .delivered(status: status) }
            let retryable = status >= 500 || status == 408 || status == 429
            let said = answer.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300)
            return AlertSendResult(
                status: status, error: "answered HTTP \(status)\(said.isEmpty ? "" : ": \(said)")", retryable: retryable)
        } catch {
            // The URL may hold a token: the error names the target only as the log shows it.
            return AlertSendResult(status: nil, error: "could not reach \(AlertTarget.masked(target.url)): \(Self.describe(error))", retryable: true)
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "no answer in time"
            case .remoteConnectionClosed: return "the connection was closed"
            default: return String(describing: error)
            }
        }
        return String(describing: error)
    }
}
