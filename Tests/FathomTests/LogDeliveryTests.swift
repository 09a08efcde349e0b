import FathomAPI
import FathomClient
import FathomCore
import FathomProcess
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Testing

/// Log lines reach a run's log exactly once, also when the coordinator stored a batch but its answer never reached
/// the sender (a connection dropped after the commit, a coordinator killed between its commit and its answer).
@Suite struct LogDeliveryTests {
    /// Forwards everything to `upstream`; the answers to the first `lose` log uploads are replaced by 502 after the
    /// coordinator has stored them, as a load balancer answers when its connection to the target drops mid-answer
    /// ("HTTP 502: Bad Gateway … The target closed the connection", Application Load Balancer user guide,
    /// Troubleshoot your Application Load Balancers).
    static func lossyProxy(to upstream: String, lose: Int, answers: Locked<[String]>) async throws -> LoopbackServer {
        try await LoopbackServer { request in
            let answer = try await LoopbackServer.forward(request, body: try await request.body.collect(upTo: 16 << 20), to: upstream)
            guard request.method == .post, request.uri.path.hasSuffix("/logs") else { return answer.response }
            let number = answers.withLock { $0.append(String(buffer: answer.body)); return $0.count }
            return number <= lose ? LoopbackServer.text("target closed the connection", status: .badGateway) : answer.response
        }
    }

    @Test func linesWhoseAnswerWasLostAreStoredOnce() async throws {
        try await withCoordinator { coordinator, client in
            try await registerTestFlows(client)
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            let answers = Locked<[String]>([])
            let proxy = try await Self.lossyProxy(to: coordinator.url, lose: 3, answers: answers)
            defer { Task { await proxy.stop() } }

            let sink = CoordinatorEventSink(client: APIClient(baseURL: proxy.url), runID: run.id, batchSize: 10)
            for burst in 0..<5 {
                for line in 0..<10 { sink.log(LogEntry(timestamp: Date(), level: .info, message: "line \(burst * 10 + line)")) }
                await sink.flush()
            }
            await sink.close()

            let stored = try await client.logs(run.id, limit: 1000).lines
            #expect(stored.map(\.message) == (0..<50).map { "line \($0)" }, "every line once, in order: \(stored.count) stored")
            #expect(stored.map(\.seq) == Array(1...50))
            let uploads = answers.value
            #expect(uploads.count >= 8, "three answers lost, each batch sent again: \(uploads.count) uploads")
            #expect(uploads.filter { $0.contains("\"repeated\":true") }.count == 3, "the coordinator recognised each batch sent again")
        }
    }

    @Test func aBatchIDIsCheckedAndARepeatStoresNothing() async throws {
        try await withCoordinator { _, client in
            try await registerTestFlows(client)
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            let lines = [LogEntry(timestamp: Date(), level: .info, message: "once")]
            let first = try await client.sendLogs(run.id, lines, batchID: "batch-1")
            let again = try await client.sendLogs(run.id, lines, batchID: "batch-1")
            #expect(first == LogAccepted(accepted: 1, lastSeq: 1))
            #expect(again == LogAccepted(accepted: 1, lastSeq: 1, repeated: true))
            let other = try await client.sendLogs(run.id, lines)
            #expect(other == LogAccepted(accepted: 1, lastSeq: 2), "without an id every upload is stored")
            #expect(try await client.logs(run.id).lines.map(\.message) == ["once", "once"])

            for bad in ["", String(repeating: "x", count: 65), "a b", "ü", "a/b"] {
                do {
                    _ = try await client.sendLogs(run.id, lines, batchID: bad)
                    Issue.record("batch id '\(bad)' accepted")
                } catch let error as APIClientError {
                    guard case .server(let status, let body, _) = error else { Issue.record("\(error)"); continue }
                    #expect(status == 400 && body?.error.field == "batchID", "\(error)")
                    #expect(error.description.contains("not a batch id") && error.description.contains("UUID"), "\(error)")
                }
            }
            #expect(try await client.logs(run.id).lines.count == 2, "a refused batch stores nothing")
        }
    }
}
