import FathomAPI
import FathomCore
import Foundation
import Logging

/// A swift-log handler that sends records to a run's ``RunEventSink``, and optionally echoes them to stderr.
public struct RunLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let sink: any RunEventSink
    let taskRunID: TaskRunID?
    let echo: Bool

    public init(sink: any RunEventSink, taskRunID: TaskRunID? = nil, echo: Bool = false) {
        self.sink = sink
        self.taskRunID = taskRunID
        self.echo = echo
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var text = "\(event.message)"
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        if !merged.isEmpty {
            text += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        sink.log(LogEntry(
            timestamp: Date(), level: LogLevel(rawValue: event.level.rawValue), message: text, taskRunID: taskRunID,
            source: taskRunID == nil ? .flow : .task))
        if echo {
            FileHandle.standardError.write(Data("\(event.level.rawValue.uppercased()) \(text)\n".utf8))
        }
    }
}
