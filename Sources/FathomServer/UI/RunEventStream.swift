import FathomAPI
import FathomCore
import FathomWebUI
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `/runs/{id}/events`: a run's new log lines and state changes as Server-Sent Events, for the run page.
///
/// Events: `log` (`{"level", "text"}`, with the line's seq as the event id, so a reconnecting browser
/// resumes after the last line it got), `state` (`{"state", "final"}`) and `end` once the run is final
/// and every line is sent. Comments keep idle connections open through proxies.
struct RunEventStream {
    let coordinator: Coordinator

    /// A stream ends after five long-polls' time (300 s by default); the browser reconnects a second
    /// later with `Last-Event-ID` and misses nothing.
    var maxDuration: Duration { coordinator.settings.maxWait * 5 }
    /// Each look for new lines waits at most this long before a keep-alive comment.
    var pollWait: Duration { min(.seconds(15), coordinator.settings.maxWait) }

    private struct LogEvent: Encodable {
        var level: String
        var text: String
    }

    private struct StateEvent: Encodable {
        var state: String
        var final: Bool
    }

    func response(runID: FlowRunID, after: Int64, lastEventID: String? = nil) async throws -> Response {
        _ = try await coordinator.run(runID)
        let start = lastEventID.flatMap(Int64.init) ?? after
        let coordinator = self.coordinator, maxDuration = self.maxDuration, pollWait = self.pollWait
        let body = ResponseBody { writer in
            let deadline = ContinuousClock.now + maxDuration
            var cursor = start
            var lastState: FlowRunState?
            let encoder = JSONEncoder()
            try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
            while ContinuousClock.now < deadline, !coordinator.notifier.isClosed {
                let page = try await coordinator.logs(runID, after: cursor, limit: 500, wait: pollWait)
                var text = ""
                for line in page.lines {
                    let row = RunPage.LogRow(line)
                    let data = String(decoding: try encoder.encode(LogEvent(level: row.level, text: row.line)), as: UTF8.self)
                    text += "id: \(line.seq)\nevent: log\ndata: \(data)\n\n"
                }
                if page.state != lastState {
                    let data = String(decoding: try encoder.encode(StateEvent(state: page.state.rawValue, final: page.state.isFinal)), as: UTF8.self)
                    text += "event: state\ndata: \(data)\n\n"
                    lastState = page.state
                }
                cursor = page.next
                let done = page.state.isFinal && page.lines.count < 500
                if done { text += "event: end\ndata: {}\n\n" }
                try await writer.write(ByteBuffer(string: text.isEmpty ? ": waiting\n\n" : text))
                if done { break }
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no"],
            body: body)
    }
}
