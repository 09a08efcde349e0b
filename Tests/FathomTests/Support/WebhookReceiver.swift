import FathomAlerts
import FathomAPI
import FathomProcess
import Foundation
import Hummingbird
import NIOCore

/// A webhook receiver on loopback: records every POST (headers and body) and answers as the test says.
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        /// By lower-case name.
        let headers: [String: String]
        let body: String
        let at: Date

        /// A header, by name in any case.
        func header(_ name: String) -> String? { headers[name.lowercased()] }

        /// The alert in the body, for webhooks.
        var message: AlertMessage? { try? APICoding.decode(AlertMessage.self, from: Data(body.utf8)) }  // a body that is not an alert: nil, the test says so
    }

    /// How to answer the next request.
    enum Answer: Sendable {
        case status(Int)
        /// Answer only after 20 s: the sender's request stays in flight meanwhile.
        case hold
    }

    private let received = Locked<[Received]>([])
    private let answers: Locked<[Answer]>
    private let server: LoopbackServer

    /// Answers `answers` in turn, then 200 to every later request.
    init(answers: [Answer] = []) async throws {
        let received = self.received
        let queue = Locked(answers)
        self.answers = queue
        server = try await LoopbackServer { request in
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            var request = request
            let body = String(buffer: try await request.collectBody(upTo: 1 << 20))
            received.withLock { $0.append(Received(headers: headers, body: body, at: Date())) }
            let answer = queue.withLock { $0.isEmpty ? Answer.status(200) : $0.removeFirst() }
            switch answer {
            case .status(let code):
                // A refusal carries markup, as a hostile or careless receiver's might: pages must show it as text.
                return LoopbackServer.text((200..<300).contains(code) ? "ok" : "<b>refused</b>", status: HTTPResponse.Status(code: code))
            case .hold:
                try await Task.sleep(for: .seconds(20))
                return LoopbackServer.text("late")
            }
        }
    }

    var url: String { server.url + "/hook" }
    var requests: [Received] { received.withLock { $0 } }

    func stop() async { await server.stop() }
}
