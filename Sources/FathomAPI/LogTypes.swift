import FathomCore
import Foundation

/// One log record sent to the coordinator.
public struct LogEntry: Codable, Sendable, Equatable {
    public var timestamp: Date
    /// swift-log level name: trace, debug, info, notice, warning, error, critical.
    public var level: LogLevel
    public var message: String
    public var taskRunID: TaskRunID?
    /// Where the line came from: `flow`, `task`, `stdout`, `stderr`, `agent`, `container`, `coordinator`.
    public var source: LogSource

    public init(timestamp: Date, level: LogLevel, message: String, taskRunID: TaskRunID? = nil, source: LogSource = .flow) {
        self.timestamp = timestamp
        self.level = level
        self.message = message
        self.taskRunID = taskRunID
        self.source = source
    }
}

/// A batch of log records.
public struct LogBatch: Codable, Sendable {
    public var logs: [LogEntry]
    /// Facts merged into the run's infrastructure in the same transaction as the lines: where they were
    /// read up to (a CloudWatch stream and token), so a restarted agent resumes after the last accepted line.
    public var infrastructure: [String: String]?
    /// True when the lines are the run's process output as its agent copies it (standard output and
    /// error, the container's CloudWatch stream, the agent's own notes on the process). Such lines are
    /// kept after the run ended, marked ``LogLine/late``; any other line sent to an ended run is
    /// refused with 409 `run_final`.
    public var processOutput: Bool?

    public init(logs: [LogEntry], infrastructure: [String: String]? = nil, processOutput: Bool? = nil) {
        self.logs = logs
        self.infrastructure = infrastructure
        self.processOutput = processOutput == true ? true : nil
    }
}

/// A stored log line, numbered in the order the coordinator accepted it.
public struct LogLine: Codable, Sendable, Equatable {
    /// 1, 2, 3, … per run.
    public var seq: Int64
    public var timestamp: Date
    public var level: LogLevel
    public var message: String
    public var taskRunID: TaskRunID?
    public var source: LogSource
    /// True for a line of the process's own output, delivered by its agent after the run had ended and stamped
    /// after the end (a process that prints while it stops); absent otherwise, also for lines printed before the
    /// end that arrived afterwards (CloudWatch lags).
    public var late: Bool?

    public init(seq: Int64, timestamp: Date, level: LogLevel, message: String, taskRunID: TaskRunID?, source: LogSource, late: Bool? = nil) {
        self.seq = seq
        self.timestamp = timestamp
        self.level = level
        self.message = message
        self.taskRunID = taskRunID
        self.source = source
        self.late = late == true ? true : nil
    }
}

/// A page of a run's logs, with the run's state at the time, for followers.
public struct LogPage: Codable, Sendable {
    public var lines: [LogLine]
    /// Pass as `after` to get the next page.
    public var next: Int64
    public var state: FlowRunState

    public init(lines: [LogLine], next: Int64, state: FlowRunState) {
        self.lines = lines
        self.next = next
        self.state = state
    }
}

/// The answer to a log upload.
public struct LogAccepted: Codable, Sendable {
    public var accepted: Int
    public var lastSeq: Int64

    public init(accepted: Int, lastSeq: Int64) {
        self.accepted = accepted
        self.lastSeq = lastSeq
    }
}
