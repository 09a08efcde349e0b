import FathomCore
import Foundation

/// Asks for a new schedule: a cron expression (with a time zone) or an interval, for one flow.
public struct CreateScheduleRequest: Codable, Sendable {
    public var flow: String
    /// Unique among schedules; the flow's name when absent.
    public var name: String?
    public var cron: String?
    /// IANA time zone of `cron`; UTC when absent.
    public var timezone: String?
    /// Seconds between runs, for interval schedules.
    public var intervalSeconds: Double?
    /// Interval slots fall on `anchor + k × interval`; the creation time when absent.
    public var anchor: Date?
    /// Parameters of every run the schedule makes (checked against the flow's now).
    public var parameters: [String: JSONValue]?
    /// Create it paused.
    public var paused: Bool?

    public init(
        flow: String, name: String? = nil, cron: String? = nil, timezone: String? = nil, intervalSeconds: Double? = nil,
        anchor: Date? = nil, parameters: [String: JSONValue]? = nil, paused: Bool? = nil
    ) {
        self.flow = flow
        self.name = name
        self.cron = cron
        self.timezone = timezone
        self.intervalSeconds = intervalSeconds
        self.anchor = anchor
        self.parameters = parameters
        self.paused = paused
    }
}

/// A schedule as the coordinator reports it.
public struct Schedule: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var flowName: String
    public var cron: String?
    public var timezone: String?
    public var intervalSeconds: Double?
    public var anchor: Date?
    public var parameters: [String: JSONValue]
    public var paused: Bool
    public var createdAt: Date
    public var updatedAt: Date
    /// Why the last attempt to create runs failed (e.g. the flow's parameters changed), if it did.
    public var lastError: String?
    /// The next slots, soonest first (absent when paused).
    public var nextRuns: [Date]

    public init(
        id: String, name: String, flowName: String, cron: String?, timezone: String?, intervalSeconds: Double?,
        anchor: Date?, parameters: [String: JSONValue], paused: Bool, createdAt: Date, updatedAt: Date,
        lastError: String?, nextRuns: [Date] = []
    ) {
        self.id = id
        self.name = name
        self.flowName = flowName
        self.cron = cron
        self.timezone = timezone
        self.intervalSeconds = intervalSeconds
        self.anchor = anchor
        self.parameters = parameters
        self.paused = paused
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.lastError = lastError
        self.nextRuns = nextRuns
    }

    /// How it fires, in words: `cron 0 3 * * * (Europe/Berlin)` or `every 1h`.
    public var timingText: String {
        if let cron { return "cron \(cron) (\(timezone ?? "UTC"))" }
        return "every \(DurationText.describe(intervalSeconds ?? 0))"
    }

    /// The timing as the scheduler evaluates it.
    public func timing() throws(ValidationError) -> ScheduleTiming {
        try ScheduleTiming(cron: cron, timezone: timezone, intervalSeconds: intervalSeconds, anchor: anchor, now: createdAt)
    }
}

/// Schedules.
public struct ScheduleList: Codable, Sendable {
    public var schedules: [Schedule]

    public init(schedules: [Schedule]) {
        self.schedules = schedules
    }
}

/// Pauses or resumes a schedule.
public struct UpdateScheduleRequest: Codable, Sendable {
    public var paused: Bool

    public init(paused: Bool) {
        self.paused = paused
    }
}

/// How many runs of a flow, or of a queue, may be active (Pending to Cancelling) at once.
public struct ConcurrencyLimit: Codable, Sendable, Equatable {
    /// `flow` or `queue`.
    public var scope: String
    public var name: String
    public var limit: Int
    /// Runs of this scope active now.
    public var active: Int

    public init(scope: String, name: String, limit: Int, active: Int = 0) {
        self.scope = scope
        self.name = name
        self.limit = limit
        self.active = active
    }

    /// The scopes a limit may have.
    public static let scopes = ["flow", "queue"]
}

/// Sets a concurrency limit.
public struct SetConcurrencyLimitRequest: Codable, Sendable {
    public var limit: Int

    public init(limit: Int) {
        self.limit = limit
    }
}

/// Concurrency limits.
public struct ConcurrencyLimitList: Codable, Sendable {
    public var limits: [ConcurrencyLimit]

    public init(limits: [ConcurrencyLimit]) {
        self.limits = limits
    }
}

/// A flow's whole-run retry policy: a Failed or Crashed run is run again, up to `retries` times.
public struct RunRetryPolicy: Codable, Sendable, Equatable {
    /// How many more attempts after the first.
    public var retries: Int
    /// Seconds between the end of one attempt and the start of the next.
    public var delaySeconds: Double
    /// Each retry resumes the attempt before it (``RetryRunRequest/resume``): finished tasks are not run again.
    public var resume: Bool?
    /// After an out-of-memory stop: the next attempt gets the task's memory times this (e.g. 2), up to
    /// ``maxMemoryMiB``; cpu rises with it where Fargate's sizes need it.
    public var memoryFactor: Double?
    /// The most memory (MiB) ``memoryFactor`` may reach; an attempt already there is not retried for memory.
    public var maxMemoryMiB: Int?
    /// After a Fargate Spot interruption: the next attempt runs on on-demand `FARGATE`.
    public var onDemandAfterSpot: Bool?
    /// When there was no capacity to start the task: the next attempt waits this long instead of ``delaySeconds``.
    public var capacityDelaySeconds: Double?

    public init(
        retries: Int, delaySeconds: Double = 0, resume: Bool? = nil, memoryFactor: Double? = nil, maxMemoryMiB: Int? = nil,
        onDemandAfterSpot: Bool? = nil, capacityDelaySeconds: Double? = nil
    ) {
        self.retries = retries
        self.delaySeconds = delaySeconds
        self.resume = resume
        self.memoryFactor = memoryFactor
        self.maxMemoryMiB = maxMemoryMiB
        self.onDemandAfterSpot = onDemandAfterSpot
        self.capacityDelaySeconds = capacityDelaySeconds
    }

    /// Checks the numbers; errors name `field`.
    public func validate(field: String) throws(ValidationError) {
        guard (0...100).contains(retries) else {
            throw ValidationError(
                code: "invalid_retries", field: "\(field).retries", problem: "\(retries) retries is outside 0-100",
                fix: "Use a count from 0 to 100.")
        }
        for (name, seconds) in [("delaySeconds", delaySeconds), ("capacityDelaySeconds", capacityDelaySeconds ?? 0)] {
            guard seconds.isFinite, (0...(7 * 86400.0)).contains(seconds) else {
                throw ValidationError(
                    code: "invalid_retry_delay", field: "\(field).\(name)", problem: "a delay of \(seconds) s is outside 0 s-7 d",
                    fix: "Use a delay from 0 to 7 days, e.g. 30s or 10m.")
            }
        }
        if let memoryFactor, !(memoryFactor.isFinite && memoryFactor > 1 && memoryFactor <= 16) {
            throw ValidationError(
                code: "invalid_memory_factor", field: "\(field).memoryFactor", problem: "a factor of \(memoryFactor) is outside (1, 16]",
                fix: "Use a factor above 1 and at most 16, e.g. 2 to double the memory on each out-of-memory retry.")
        }
        if let maxMemoryMiB, !(512...122_880).contains(maxMemoryMiB) {
            throw ValidationError(
                code: "invalid_memory", field: "\(field).maxMemoryMiB", problem: "\(maxMemoryMiB) MiB is outside 512-122880",
                fix: "Use a cap in MiB that ECS offers, e.g. 16384; Fargate's largest task has 122880.")
        }
        if memoryFactor != nil, maxMemoryMiB == nil {
            throw ValidationError(
                code: "missing_memory_cap", field: "\(field).maxMemoryMiB", problem: "memoryFactor is set without a cap",
                fix: "Set maxMemoryMiB too, e.g. 16384, so memory cannot grow without end.")
        }
    }
}
