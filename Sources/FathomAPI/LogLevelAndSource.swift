import Foundation

/// A log line's level: swift-log's names. An open set on the wire (any string is kept as sent, coded as
/// the bare string by the standard library's `RawRepresentable` coding); these are the ones Fathom writes and colours.
public struct LogLevel: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    public static let trace = LogLevel(rawValue: "trace")
    public static let debug = LogLevel(rawValue: "debug")
    public static let info = LogLevel(rawValue: "info")
    public static let notice = LogLevel(rawValue: "notice")
    public static let warning = LogLevel(rawValue: "warning")
    public static let error = LogLevel(rawValue: "error")
    public static let critical = LogLevel(rawValue: "critical")
}

/// Where a log line came from. An open set on the wire; these are the ones Fathom writes.
public struct LogSource: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    /// The flow's own logger.
    public static let flow = LogSource(rawValue: "flow")
    /// A task's logger.
    public static let task = LogSource(rawValue: "task")
    /// The flow process's standard output and error, as its agent copies them.
    public static let stdout = LogSource(rawValue: "stdout")
    public static let stderr = LogSource(rawValue: "stderr")
    /// The agent's notes on the run's infrastructure.
    public static let agent = LogSource(rawValue: "agent")
    /// An ECS container's CloudWatch output.
    public static let container = LogSource(rawValue: "container")
    /// The coordinator's own notes: a crash's reason, a retry, a late start.
    public static let coordinator = LogSource(rawValue: "coordinator")
}
