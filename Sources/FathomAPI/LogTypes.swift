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
    /// Chosen by the sender, the same on every attempt to send this batch (1–64 letters, digits, `.`, `_`, `:`, `-`).
    /// A batch the run's log has already accepted under this id is not stored again: the answer is the first
    /// acceptance's. So a sender whose request reached the coordinator but whose answer was lost (a dropped
    /// connection, a coordinator killed after its commit) sends again without doubling a line.
    public var batchID: String?

    public init(logs: [LogEntry], infrastructure: [String: String]? = nil, processOutput: Bool? = nil, batchID: String? = nil) {
        self.logs = logs
        self.infrastructure = infrastructure
        self.processOutput = processOutput == true ? true : nil
        self.batchID = batchID
    }
}

extension LogBatch {
    /// The longest batch id.
    public static let maxBatchIDLength = 64

    /// `batchID` as given, when it is 1-64 letters, digits, `.`, `_`, `:` or `-`.
    public static func checked(batchID: String?) throws(ValidationError) -> String? {
        guard let batchID else { return nil }
        guard (1...maxBatchIDLength).contains(batchID.utf8.count),
              batchID.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._:-".unicodeScalars.contains($0)) })
        else {
            throw ValidationError(
                code: "invalid_batch_id", field: "batchID",
                problem: "'\(batchID.prefix(64))' is not a batch id (1-\(maxBatchIDLength) letters, digits, '.', '_', ':', '-')",
                fix: "Send a new id for each batch, such as a UUID, and the same id when sending that batch again.")
        }
        return batchID
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
public struct LogAccepted: Codable, Sendable, Equatable {
    public var accepted: Int
    public var lastSeq: Int64
    /// True when the batch's id had been accepted before: nothing was stored this time, and the numbers are the
    /// first acceptance's.
    public var repeated: Bool?

    public init(accepted: Int, lastSeq: Int64, repeated: Bool = false) {
        self.accepted = accepted
        self.lastSeq = lastSeq
        self.repeated = repeated ? true : nil
    }
}
