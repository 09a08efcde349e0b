import FathomCore
import Foundation

/// The cost and space facts as launchers and flow processes write them (strings anyone with the API can set):
/// read without trusting them.
public enum UsageFacts {
    /// A `costUSD` fact as a number: finite, 0 to a billion; nil otherwise.
    public static func costUSD(_ text: String?) -> Double? {
        guard let text, let value = Double(text), value.isFinite, (0...1e9).contains(value) else { return nil }
        return value
    }

    /// A `workspaceBytes` fact (`scratch=123,data=456`) by volume; entries that are not `name=bytes` are left out.
    public static func workspaceBytes(_ text: String?) -> [String: Int64] {
        guard let text else { return [:] }
        var usage: [String: Int64] = [:]
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let bytes = Int64(parts[1]), bytes >= 0 else { continue }
            usage[String(parts[0])] = bytes
        }
        return usage
    }
}

extension FlowRun {
    /// The estimated cost of its ECS tasks in USD (Fargate), when its launcher recorded one.
    public var estimatedCostUSD: Double? { UsageFacts.costUSD(infrastructure[.costUSD]) }

    /// How the cost was estimated, or why there is none.
    public var costBasis: String? { infrastructure[.costBasis] }

    /// Bytes its workspace used on each volume when the flow ended (`workspaceBytes` fact).
    public var workspaceBytes: [String: Int64] { UsageFacts.workspaceBytes(infrastructure[.workspaceBytes]) }

    /// Seconds from its start to its end, when it has both.
    public var durationSeconds: Double? { Self.seconds(from: startedAt, to: endedAt) }

    /// Seconds from `start` to `end` (never negative), when there are both.
    public static func seconds(from start: Date?, to end: Date?) -> Double? {
        guard let start, let end else { return nil }
        return max(0, end.timeIntervalSince(start))
    }
}

/// A flow's runs over the last days: counts, estimated cost and workspace bytes, per day and in sum.
public struct FlowUsage: Codable, Sendable, Equatable {
    public var flow: String
    public var days: Int
    /// Runs created at or after this count.
    public var since: Date
    public var runs: Int
    public var completed: Int
    /// Failed and Crashed.
    public var failed: Int
    public var cancelled: Int
    /// The sum of the runs' estimated costs, and how many runs had one (Fargate runs).
    public var costUSD: Double
    public var runsWithCost: Int
    /// Workspace bytes at the runs' ends, summed per volume.
    public var workspaceBytes: [String: Int64]
    /// One entry per UTC day, oldest first, every day of the window present.
    public var perDay: [DayUsage]
    /// The newest runs (at most ``FlowUsage/maxPoints``), oldest first: what the duration chart draws.
    public var points: [RunPoint]
    /// True when the flow had more runs in the window than one summary reads (``FlowUsage/maxRuns``): the sums
    /// cover the newest ones.
    public var truncated: Bool

    public static let maxRuns = 20_000, maxPoints = 300

    public init(
        flow: String, days: Int, since: Date, runs: Int, completed: Int, failed: Int, cancelled: Int, costUSD: Double, runsWithCost: Int,
        workspaceBytes: [String: Int64], perDay: [DayUsage], points: [RunPoint], truncated: Bool
    ) {
        self.flow = flow
        self.days = days
        self.since = since
        self.runs = runs
        self.completed = completed
        self.failed = failed
        self.cancelled = cancelled
        self.costUSD = costUSD
        self.runsWithCost = runsWithCost
        self.workspaceBytes = workspaceBytes
        self.perDay = perDay
        self.points = points
        self.truncated = truncated
    }
}

/// One UTC day of a flow's runs.
public struct DayUsage: Codable, Sendable, Equatable {
    /// `2026-11-30`.
    public var day: String
    public var runs: Int
    public var completed: Int
    public var failed: Int
    public var costUSD: Double

    public init(day: String, runs: Int, completed: Int, failed: Int, costUSD: Double) {
        self.day = day
        self.runs = runs
        self.completed = completed
        self.failed = failed
        self.costUSD = costUSD
    }
}

/// One run as a chart point.
public struct RunPoint: Codable, Sendable, Equatable {
    public var id: FlowRunID
    public var createdAt: Date
    public var state: FlowRunState
    public var durationSeconds: Double?

    public init(id: FlowRunID, createdAt: Date, state: FlowRunState, durationSeconds: Double?) {
        self.id = id
        self.createdAt = createdAt
        self.state = state
        self.durationSeconds = durationSeconds
    }
}

/// How the CLI and the web UI write money and sizes.
public enum UsageText {
    /// `$0.0571` below a dollar (four places: a short Fargate run costs fractions of a cent), `$12.35` above.
    public static func usd(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        return value < 1 ? String(format: "$%.4f", value) : String(format: "$%.2f", value)
    }

    /// `812 B`, `3.4 KiB`, `1.2 GiB`.
    public static func bytes(_ value: Int64) -> String { ByteCountText.describe(value) }

    /// `scratch 1.2 GiB, data 3 B`, volumes in name order.
    public static func volumes(_ usage: [String: Int64]) -> String {
        usage.sorted { $0.key < $1.key }.map { "\($0.key) \(bytes($0.value))" }.joined(separator: ", ")
    }
}
