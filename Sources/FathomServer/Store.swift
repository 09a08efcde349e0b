import FathomAPI
import FathomCore
import Foundation

/// A new flow run, ready to be written.
public struct NewFlowRun: Sendable {
    /// The new run's id.
    public var id: FlowRunID
    /// The flow version it runs: its queue, labels and run config come with it.
    public var version: FlowVersion
    /// The resolved parameters (defaults filled in, types checked).
    public var parameters: [String: JSONValue]
    /// A client's key: a second request with it gets the first run back.
    public var idempotencyKey: String?
    /// When it was made.
    public var createdAt: Date
    /// The schedule that makes it and its slot: one run per slot, ever.
    public var scheduleID: String? = nil
    /// When it is due (its slot, or its retry time); nil means at once.
    public var scheduledFor: Date? = nil
    /// 1 for a first run, 2 for its first retry, …
    public var attempt = 1
    /// The first attempt, for a retry: one run per attempt, ever.
    public var retryOf: FlowRunID? = nil
    /// The attempt this one resumes (its finished tasks' results are reused).
    public var resumeOf: FlowRunID? = nil
    /// Launch settings a retry rule chose for it.
    public var overrides: RunOverrides? = nil
    /// Its first state message (a retry says which rule made it).
    public var message = ""
    /// Its tags, checked and sorted.
    public var tags: [String] = []

    /// A run of `version`; a retry names its first attempt in `retryOf`.
    public init(
        id: FlowRunID, version: FlowVersion, parameters: [String: JSONValue], idempotencyKey: String? = nil, createdAt: Date,
        scheduleID: String? = nil, scheduledFor: Date? = nil, attempt: Int = 1, retryOf: FlowRunID? = nil,
        resumeOf: FlowRunID? = nil, overrides: RunOverrides? = nil, message: String = "", tags: [String] = []
    ) {
        self.tags = tags
        self.resumeOf = resumeOf
        self.overrides = overrides
        self.message = message
        self.id = id
        self.version = version
        self.parameters = parameters
        self.idempotencyKey = idempotencyKey
        self.createdAt = createdAt
        self.scheduleID = scheduleID
        self.scheduledFor = scheduledFor
        self.attempt = attempt
        self.retryOf = retryOf
    }
}

/// One state change to write with compare-and-set.
public struct StateWrite: Sendable {
    /// The run to move.
    public var runID: FlowRunID
    /// The write happens only if the run is in this state.
    public var from: FlowRunState
    /// The state it moves to.
    public var to: FlowRunState
    /// Why: the state message, also kept in the history.
    public var message: String
    /// When.
    public var at: Date
    /// Set the claiming agent and lease (on Pending).
    public var agentID: AgentID?
    /// When the claiming agent's lease ends unless it starts the run or claims again (on Pending).
    public var leaseExpiresAt: Date?
    /// A crash judged on silence alone: the run's own heartbeat, should it come back, makes it Running again.
    public var revivable: Bool
    /// With a final state: why the run ended, as its launcher saw it.
    public var cause: EndCause?

    /// A move of `runID` from `from` to `to`; `revivable` only holds for a move to Crashed.
    public init(
        runID: FlowRunID, from: FlowRunState, to: FlowRunState, message: String, at: Date, agentID: AgentID? = nil,
        leaseExpiresAt: Date? = nil, revivable: Bool = false, cause: EndCause? = nil
    ) {
        self.cause = cause
        self.runID = runID
        self.from = from
        self.to = to
        self.message = message
        self.at = at
        self.agentID = agentID
        self.leaseExpiresAt = leaseExpiresAt
        self.revivable = revivable && to == .crashed
    }
}

/// Filters for listing runs.
public struct RunFilter: Sendable {
    /// Runs of this flow.
    public var flowName: String?
    /// Runs in this state.
    public var state: FlowRunState?
    /// Runs this agent claimed.
    public var agentID: AgentID?
    /// Only runs that are not final and not Scheduled.
    public var activeOnly = false
    /// Runs made by this schedule.
    public var scheduleID: String?
    /// The first attempt and its retries.
    public var attemptsOf: FlowRunID?
    /// Created at or after / before.
    public var createdAfter: Date?
    public var createdBefore: Date?
    /// Leave out Scheduled runs due after this (the upcoming runs of schedules and retries).
    public var dueBy: Date?
    /// The page size.
    public var limit: Int
    /// How many matching runs to skip (newest first).
    public var offset: Int

    /// A filter; every condition given must hold.
    public init(
        flowName: String? = nil, state: FlowRunState? = nil, agentID: AgentID? = nil, activeOnly: Bool = false,
        scheduleID: String? = nil, attemptsOf: FlowRunID? = nil, createdAfter: Date? = nil, createdBefore: Date? = nil,
        dueBy: Date? = nil, limit: Int = 50, offset: Int = 0
    ) {
        self.dueBy = dueBy
        self.scheduleID = scheduleID
        self.attemptsOf = attemptsOf
        self.createdAfter = createdAfter
        self.createdBefore = createdBefore
        self.flowName = flowName
        self.state = state
        self.agentID = agentID
        self.activeOnly = activeOnly
        self.limit = limit
        self.offset = offset
    }
}

/// A run as sums and charts read it: its times, state, and its cost and workspace facts as stored.
public struct RunDigest: Sendable, Equatable {
    public var id: FlowRunID
    public var state: FlowRunState
    public var createdAt: Date
    public var startedAt: Date?
    public var endedAt: Date?
    /// The `costUSD` and `workspaceBytes` facts, unparsed.
    public var costText: String?
    public var bytesText: String?

    public init(
        id: FlowRunID, state: FlowRunState, createdAt: Date, startedAt: Date?, endedAt: Date?, costText: String?, bytesText: String?
    ) {
        self.id = id
        self.state = state
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.costText = costText
        self.bytesText = bytesText
    }

    /// `run`'s digest (the in-memory store's, and a check of the SQL ones).
    public init(_ run: FlowRun) {
        self.init(
            id: run.id, state: run.state, createdAt: run.createdAt, startedAt: run.startedAt, endedAt: run.endedAt,
            costText: run.infrastructure[.costUSD], bytesText: run.infrastructure[.workspaceBytes])
    }

    public var costUSD: Double? { UsageFacts.costUSD(costText) }
    public var workspaceBytes: [String: Int64] { UsageFacts.workspaceBytes(bytesText) }
    public var durationSeconds: Double? { FlowRun.seconds(from: startedAt, to: endedAt) }
    public var point: RunPoint { RunPoint(id: id, createdAt: createdAt, state: state, durationSeconds: durationSeconds) }
}

/// The coordinator's persistence: the role protocols below, plus a write probe.
///
/// Each method of each role is one atomic transaction. The state machine is enforced above this layer, by
/// ``Coordinator``; a store only offers compare-and-set, so that enforcement is race-free. ``SQLiteStore`` is the
/// embedded default; the conformance tests (`StoreConformanceTests`) pin what every implementation must do, and run
/// against SQLite and an in-memory store, so a third (PostgreSQL) is written against the tests, not against SQLite.
public protocol Store: FlowVersionStore, RunStore, RunSweepStore, RunOutputStore, ScheduleStore, AgentStore, AlertStore {
    /// Proves the store takes writes now (`/readyz`).
    func checkWritable() async throws
}

/// Registered flows and their versions.
public protocol FlowVersionStore: Sendable {
    /// Numbers each version after the last of its flow (1 for a new flow) and stores it; returns them numbered.
    func insertVersions(_ versions: [FlowVersion]) async throws -> [FlowVersion]
    /// Every flow name, sorted.
    func flowNames() async throws -> [String]
    /// A flow's versions, newest first; empty for an unknown flow.
    func versions(flowName: String) async throws -> [FlowVersion]
    /// Version `number` of a flow, or its latest when nil.
    func version(flowName: String, number: Int?) async throws -> FlowVersion?
    func version(id: String) async throws -> FlowVersion?
}

/// Runs: creation, reads, and the writes that move one run.
public protocol RunStore: Sendable {
    /// Inserts a run in Scheduled, or returns the existing run with the same id, idempotency key, schedule slot
    /// or attempt.
    func insertRun(_ run: NewFlowRun) async throws -> FlowRun
    func run(id: FlowRunID, includeHistory: Bool) async throws -> FlowRun?
    /// Runs matching `filter`, newest (created) first, with the total before paging.
    func runs(_ filter: RunFilter) async throws -> FlowRunList
    /// How many runs are in each state.
    func stateCounts() async throws -> [FlowRunState: Int]
    /// Runs created at or after `since` (of `flowName` when given), newest first, at most `limit`: only what sums
    /// and charts read, in one query.
    func runDigests(flowName: String?, since: Date, limit: Int) async throws -> [RunDigest]
    /// Writes a state change if the run is still in `write.from`; returns nil when it was not.
    func compareAndSetState(_ write: StateWrite) async throws -> FlowRun?
    /// Records a heartbeat; returns the run's state, nil for an unknown run.
    func recordHeartbeat(runID: FlowRunID, at: Date) async throws -> FlowRunState?
    /// Merges launcher facts into the run's (a new value wins); nil for an unknown run.
    func mergeInfrastructure(runID: FlowRunID, facts: [String: String], at: Date) async throws -> FlowRun?
    /// Makes a run crashed on silence alone (``StateWrite/revivable``) Running again, in one transaction, unless a
    /// later attempt of it has left Scheduled; later attempts still Scheduled never ran and are withdrawn (deleted).
    /// Nil when the run cannot be revived.
    func revive(runID: FlowRunID, message: String, at: Date) async throws -> (run: FlowRun, withdrawn: [FlowRunID])?
}

/// The housekeeping sweeps over many runs: schedules' slots, late runs, silent runs, leases, missing retries.
public protocol RunSweepStore: Sendable {
    /// Inserts the runs whose schedule slots have none yet; returns those it inserted.
    func insertScheduledRuns(_ runs: [NewFlowRun]) async throws -> [FlowRun]
    /// Deletes the not-yet-claimed runs of a schedule (or of a flow's schedules) due after `after`.
    func deleteUpcomingScheduledRuns(scheduleID: String?, flowName: String?, after: Date) async throws -> Int
    /// Flags Scheduled runs due (runs without a slot: created) before `before` as late, with `message(run, its launcher)`;
    /// returns the newly flagged.
    func flagLateRuns(dueBefore before: Date, message: @escaping @Sendable (FlowRun, String) -> String) async throws -> [FlowRun]
    /// Queues with runs that fell due in `(after, through]`.
    func queuesWithRunsDue(after: Date, through: Date) async throws -> Set<String>
    /// Runs in `states` whose heartbeat (or start, if none yet) is older than `before`.
    func runsWithHeartbeat(olderThan before: Date, in states: [FlowRunState]) async throws -> [FlowRun]
    /// Pending runs whose claim lease ended before `now`.
    func runsWithExpiredLease(now: Date) async throws -> [FlowRun]
    /// Moves every Pending run's lease out to at least `until`; returns how many moved.
    func extendLeases(until: Date) async throws -> Int
    /// Failed and Crashed runs that ended after `endedAfter` whose flow version's retry policy has an
    /// attempt left, yet no next attempt exists (the process stopped between the end and the retry).
    func runsMissingRetry(endedAfter: Date) async throws -> [FlowRun]
}

/// What a run produces as it goes: log lines and task runs.
public protocol RunOutputStore: Sendable {
    /// Appends lines (numbered on from the run's last) and merges `infrastructure` facts into the run's, in one
    /// transaction. Lines reaching a run that has ended are kept, kept with those stamped after the end marked late,
    /// or refused (``StoreError/runFinal``, nothing written) as `afterEnd` says. ``StoreError/runNotFound`` for an unknown run.
    /// With a `batchID` the run has accepted before, nothing is written (whatever the run's state now) and the answer is
    /// that first acceptance's, marked repeated; the id is recorded with the lines, in the same transaction.
    func appendLogs(
        runID: FlowRunID, _ logs: [LogEntry], infrastructure: [String: String], afterEnd: LinesAfterEnd, batchID: String?
    ) async throws -> LogAccepted
    /// Up to `limit` lines after sequence number `after`, oldest first.
    func logs(runID: FlowRunID, after: Int64, limit: Int) async throws -> [LogLine]
    /// The last `limit` lines, oldest first.
    func logTail(runID: FlowRunID, limit: Int) async throws -> [LogLine]
    /// Inserts or updates task runs by id (a task run never moves to another run; its first start time stays).
    func upsertTaskRuns(runID: FlowRunID, _ updates: [TaskRunUpdate]) async throws
    /// A run's task runs in the order they were first written.
    func taskRuns(runID: FlowRunID) async throws -> [TaskRunUpdate]
}

/// Schedules.
public protocol ScheduleStore: Sendable {
    /// ``StoreError/conflict`` when the id or the name is taken.
    func insertSchedule(_ schedule: Schedule) async throws
    /// Schedules sorted by name, of one flow or all.
    func schedules(flowName: String?) async throws -> [Schedule]
    /// By id or by name.
    func schedule(_ key: String) async throws -> Schedule?
    func setSchedulePaused(id: String, paused: Bool, at: Date) async throws -> Schedule?
    func setScheduleError(id: String, error: String?) async throws
    func deleteSchedule(id: String) async throws
}

/// Agents, the concurrency limits, and the claim that hands runs to an agent within them.
public protocol AgentStore: Sendable {
    /// Inserts or updates an agent; it is seen at `at`.
    func upsertAgent(_ registration: AgentRegistration, id: AgentID, at: Date) async throws -> AgentInfo
    /// Marks `instance` of agent `id` stopped (its name is free at once); false when another instance holds it.
    func agentStopped(id: AgentID, instance: String) async throws -> Bool
    func agent(id: AgentID) async throws -> AgentInfo?
    /// Every agent, last seen first.
    func agents() async throws -> [AgentInfo]
    /// Atomically hands up to `capacity` due scheduled runs of the agent's queue (whose launcher is the agent's,
    /// whose labels the agent has with the same values, within the flow and queue concurrency limits), oldest due
    /// first, to the agent, moving them to Pending with a lease; renews the leases of its other Pending runs; and
    /// returns its runs in Cancelling.
    func claim(agent: AgentInfo, capacity: Int, leaseExpiresAt: Date, now: Date) async throws -> (runs: [ClaimedRun], cancel: [FlowRunID])

    /// Sets the most active runs of a flow (`scope` "flow") or a queue ("queue") named `name`.
    func setConcurrencyLimit(scope: String, name: String, limit: Int) async throws
    /// False when there was no such limit.
    func deleteConcurrencyLimit(scope: String, name: String) async throws -> Bool
    /// Every limit, sorted by scope and name, with how many runs it counts as active now.
    func concurrencyLimits() async throws -> [ConcurrencyLimit]
}

extension RunOutputStore {
    /// Appends lines sent without a batch id.
    public func appendLogs(runID: FlowRunID, _ logs: [LogEntry], infrastructure: [String: String], afterEnd: LinesAfterEnd) async throws -> LogAccepted {
        try await appendLogs(runID: runID, logs, infrastructure: infrastructure, afterEnd: afterEnd, batchID: nil)
    }
}

extension Store {
    /// Appends the coordinator's own lines, kept whatever the run's state.
    func appendLogs(runID: FlowRunID, _ logs: [LogEntry]) async throws -> LogAccepted {
        try await appendLogs(runID: runID, logs, infrastructure: [:], afterEnd: .keep, batchID: nil)
    }
}
