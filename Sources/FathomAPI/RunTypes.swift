import FathomCore
import Foundation

/// Asks for a new run of a flow.
public struct CreateFlowRunRequest: Codable, Sendable {
    public var flow: String
    /// A specific version; the latest when absent.
    public var version: Int?
    public var parameters: [String: JSONValue]?
    /// When set, a second request with the same key returns the first run instead of a new one.
    public var idempotencyKey: String?
    /// Tags for the run (at most 20; letters, digits, `.`, `_`, `-`, `:`, `/`): alert rules can match them.
    public var tags: [String]?

    public init(flow: String, version: Int? = nil, parameters: [String: JSONValue]? = nil, idempotencyKey: String? = nil, tags: [String]? = nil) {
        self.tags = tags
        self.flow = flow
        self.version = version
        self.parameters = parameters
        self.idempotencyKey = idempotencyKey
    }
}

/// One entry of a run's state history.
public struct StateChange: Codable, Sendable, Equatable {
    public var state: FlowRunState
    public var message: String
    public var at: Date

    public init(state: FlowRunState, message: String, at: Date) {
        self.state = state
        self.message = message
        self.at = at
    }
}

/// A flow run as the coordinator reports it.
public struct FlowRun: Codable, Sendable, Equatable {
    public var id: FlowRunID
    public var flowName: String
    public var flowVersion: Int
    public var versionID: String
    public var parameters: [String: JSONValue]
    public var state: FlowRunState
    public var stateMessage: String
    public var queue: String
    public var agentID: AgentID?
    public var createdAt: Date
    public var updatedAt: Date
    public var startedAt: Date?
    public var endedAt: Date?
    public var heartbeatAt: Date?
    /// Launcher facts: process id, ECS task ARN, task definition, …
    public var infrastructure: [String: String]
    /// The state history, oldest first; present on single-run reads.
    public var history: [StateChange]?
    /// The schedule that made this run, if one did.
    public var scheduleID: String?
    /// When the run is due: its schedule slot or retry time. No agent claims it earlier.
    public var scheduledFor: Date?
    /// Set when the run stayed Scheduled well past `scheduledFor` (no agent took it in time).
    public var late: Bool
    /// 1 for a first run, 2 for its first retry, …
    public var attempt: Int
    /// The first attempt, when this run is a retry of it.
    public var retryOf: FlowRunID?
    /// The attempt this one resumes: its tasks whose cache keys match a Completed (or Cached) task of that run
    /// return its result without running.
    public var resumeOf: FlowRunID?
    /// Why it ended, when its launcher knew (out of memory, a Spot interruption, no capacity).
    public var endCause: EndCause?
    /// Launch settings a retry rule chose for this attempt (more memory, on-demand capacity).
    public var overrides: RunOverrides?
    /// Its tags, sorted (alert rules match them; retries keep them).
    public var tags: [String]

    public init(
        id: FlowRunID, flowName: String, flowVersion: Int, versionID: String, parameters: [String: JSONValue],
        state: FlowRunState, stateMessage: String, queue: String, agentID: AgentID?, createdAt: Date, updatedAt: Date,
        startedAt: Date?, endedAt: Date?, heartbeatAt: Date?, infrastructure: [String: String], history: [StateChange]?,
        scheduleID: String? = nil, scheduledFor: Date? = nil, late: Bool = false, attempt: Int = 1, retryOf: FlowRunID? = nil,
        resumeOf: FlowRunID? = nil, endCause: EndCause? = nil, overrides: RunOverrides? = nil, tags: [String] = []
    ) {
        self.tags = tags
        self.resumeOf = resumeOf
        self.endCause = endCause
        self.overrides = overrides
        self.scheduleID = scheduleID
        self.scheduledFor = scheduledFor
        self.late = late
        self.attempt = attempt
        self.retryOf = retryOf
        self.id = id
        self.flowName = flowName
        self.flowVersion = flowVersion
        self.versionID = versionID
        self.parameters = parameters
        self.state = state
        self.stateMessage = stateMessage
        self.queue = queue
        self.agentID = agentID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.heartbeatAt = heartbeatAt
        self.infrastructure = infrastructure
        self.history = history
    }
}

/// The run workspaces a volume's janitor must keep: of active runs, and of runs that can still be resumed.
public struct WorkspacesInUse: Codable, Sendable, Equatable {
    /// Workspace names (`<volume>/fathom/runs/<id>/`): the first run of each resume chain in use.
    public var workspaceIDs: [FlowRunID]
    /// Failed and Crashed runs created since then count as resumable.
    public var resumableSince: Date

    public init(workspaceIDs: [FlowRunID], resumableSince: Date) {
        self.workspaceIDs = workspaceIDs
        self.resumableSince = resumableSince
    }
}

/// A page of flow runs.
public struct FlowRunList: Codable, Sendable {
    public var runs: [FlowRun]
    public var total: Int

    public init(runs: [FlowRun], total: Int) {
        self.runs = runs
        self.total = total
    }
}

/// Moves a run to a new state, optionally only if it is still in `expected`.
public struct SetStateRequest: Codable, Sendable {
    public var state: FlowRunState
    public var message: String?
    /// Compare-and-set: the transition happens only if the run is in this state now.
    public var expected: FlowRunState?
    /// With a final state: why the run ended, as the launcher saw it (a retry policy's rules act on it).
    public var cause: EndCause?

    public init(state: FlowRunState, message: String? = nil, expected: FlowRunState? = nil, cause: EndCause? = nil) {
        self.state = state
        self.message = message
        self.expected = expected
        self.cause = cause
    }
}

/// Launcher facts to attach to a run.
public struct InfrastructureUpdate: Codable, Sendable {
    public var infrastructure: [String: String]

    public init(_ infrastructure: [String: String]) {
        self.infrastructure = infrastructure
    }
}

/// A task run's latest state, sent by the SDK in batches.
public struct TaskRunUpdate: Codable, Sendable, Equatable {
    public var id: TaskRunID
    public var name: String
    public var state: TaskRunState
    public var attempt: Int
    public var startedAt: Date?
    public var endedAt: Date?
    public var message: String?
    /// The task's result, JSON-encoded, when it completed.
    public var result: JSONValue?
    /// The task's cache key: a hash of its name and occurrence, its declared inputs and the code version. A resumed
    /// attempt reuses the result of a task with the same key.
    public var cacheKey: String?
    /// For a Cached task run: the flow run whose task produced the result.
    public var cachedFrom: FlowRunID?
    /// The files the task declared as its outputs, as they were when it completed. A resumed attempt reuses the
    /// task only while every one is still there with this size and modification time.
    public var outputs: [TaskOutputFile]?
    /// Where the result is kept when it is too large for the coordinator (over 64 KiB as JSON): a file in the
    /// run's result store on a volume, or an S3 object. `result` is then empty.
    public var resultRef: TaskResultReference?

    public init(
        id: TaskRunID, name: String, state: TaskRunState, attempt: Int, startedAt: Date?, endedAt: Date?,
        message: String? = nil, result: JSONValue? = nil, cacheKey: String? = nil, cachedFrom: FlowRunID? = nil,
        outputs: [TaskOutputFile]? = nil, resultRef: TaskResultReference? = nil
    ) {
        self.resultRef = resultRef
        self.outputs = outputs
        self.cacheKey = cacheKey
        self.cachedFrom = cachedFrom
        self.id = id
        self.name = name
        self.state = state
        self.attempt = attempt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.message = message
        self.result = result
    }
}

/// Task runs of a flow run.
public struct TaskRunList: Codable, Sendable {
    public var taskRuns: [TaskRunUpdate]

    public init(taskRuns: [TaskRunUpdate]) {
        self.taskRuns = taskRuns
    }
}

/// A batch of task run updates.
public struct TaskRunBatch: Codable, Sendable {
    public var taskRuns: [TaskRunUpdate]

    public init(taskRuns: [TaskRunUpdate]) {
        self.taskRuns = taskRuns
    }
}

/// A file a task wrote, as it was when the task completed.
public struct TaskOutputFile: Codable, Sendable, Equatable {
    /// Its absolute path (on a volume).
    public var path: String
    public var size: Int64
    /// Its modification time in nanoseconds since 1970, as the file system reports it (an integer, so that it
    /// compares exactly after a round trip through JSON).
    public var modifiedNanoseconds: Int64

    public init(path: String, size: Int64, modifiedNanoseconds: Int64) {
        self.path = path
        self.size = size
        self.modifiedNanoseconds = modifiedNanoseconds
    }
}

/// A task result kept outside the coordinator: where it is, and what it was when it was written, so that a reader
/// can tell it is the same.
public struct TaskResultReference: Codable, Sendable, Equatable {
    /// `file:///…` (a volume path) or `s3://bucket/key`.
    public var url: String
    /// The JSON's length in bytes.
    public var size: Int64
    /// The JSON's SHA-256, lowercase hex.
    public var sha256: String

    public init(url: String, size: Int64, sha256: String) {
        self.url = url
        self.size = size
        self.sha256 = sha256
    }
}

/// Runs a finished run again as a new attempt.
public struct RetryRunRequest: Codable, Sendable {
    /// Resume: the new attempt reuses the results of the tasks the run finished (those whose cache keys match),
    /// and runs only the rest.
    public var resume: Bool?

    public init(resume: Bool? = nil) {
        self.resume = resume
    }
}
