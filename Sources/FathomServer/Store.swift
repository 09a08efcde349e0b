import FathomAPI
import FathomCore
import Foundation

/// A new flow run, ready to be written.
public struct NewFlowRun: Sendable {
    public var id: FlowRunID
    public var version: FlowVersion
    public var parameters: [String: JSONValue]
    public var idempotencyKey: String?
    public var createdAt: Date
}

/// One state change to write with compare-and-set.
public struct StateWrite: Sendable {
    public var runID: FlowRunID
    /// The write happens only if the run is in this state.
    public var from: FlowRunState
    public var to: FlowRunState
    public var message: String
    public var at: Date
    /// Set the claiming agent and lease (on Pending).
    public var agentID: AgentID?
    public var leaseExpiresAt: Date?
}

/// Filters for listing runs.
public struct RunFilter: Sendable {
    public var flowName: String?
    public var state: FlowRunState?
    public var agentID: AgentID?
    /// Only runs that are not final and not Scheduled.
    public var activeOnly = false
    public var limit: Int
    public var offset: Int

    public init(
        flowName: String? = nil, state: FlowRunState? = nil, agentID: AgentID? = nil, activeOnly: Bool = false, limit: Int = 50, offset: Int = 0
    ) {
        self.flowName = flowName
        self.state = state
        self.agentID = agentID
        self.activeOnly = activeOnly
        self.limit = limit
        self.offset = offset
    }
}

/// The coordinator's persistence. Each method is one atomic transaction.
///
/// ``SQLiteStore`` is the embedded default. The state machine is enforced above this layer,
/// by ``Coordinator``; the store only offers compare-and-set so that enforcement is race-free.
public protocol Store: Sendable {
    // Flows
    func insertVersions(_ versions: [FlowVersion]) async throws -> [FlowVersion]
    func flowSummaries() async throws -> [FlowSummary]
    func flowSummary(named name: String) async throws -> FlowSummary?
    func version(flowName: String, number: Int?) async throws -> FlowVersion?
    func version(id: String) async throws -> FlowVersion?

    // Runs
    /// Inserts a run, or returns the existing run with the same idempotency key.
    func insertRun(_ run: NewFlowRun) async throws -> FlowRun
    func run(id: FlowRunID, includeHistory: Bool) async throws -> FlowRun?
    func runs(_ filter: RunFilter) async throws -> FlowRunList
    /// Writes a state change if the run is still in `write.from`; returns nil when it was not.
    func compareAndSetState(_ write: StateWrite) async throws -> FlowRun?
    func recordHeartbeat(runID: FlowRunID, at: Date) async throws -> FlowRunState?
    func mergeInfrastructure(runID: FlowRunID, facts: [String: String], at: Date) async throws -> FlowRun?
    /// Runs in `states` whose heartbeat (or start, if none yet) is older than `before`.
    func runsWithHeartbeat(olderThan before: Date, in states: [FlowRunState]) async throws -> [FlowRun]
    /// Pending runs whose claim lease ended before `now`.
    func runsWithExpiredLease(now: Date) async throws -> [FlowRun]

    // Logs and task runs
    func appendLogs(runID: FlowRunID, _ logs: [LogEntry]) async throws -> LogAccepted
    func logs(runID: FlowRunID, after: Int64, limit: Int) async throws -> [LogLine]
    func upsertTaskRuns(runID: FlowRunID, _ updates: [TaskRunUpdate]) async throws
    func taskRuns(runID: FlowRunID) async throws -> [TaskRunUpdate]

    // Agents and claims
    func upsertAgent(_ registration: AgentRegistration, id: AgentID, at: Date) async throws -> AgentInfo
    func agent(id: AgentID) async throws -> AgentInfo?
    func agents() async throws -> [AgentInfo]
    /// Atomically hands up to `capacity` scheduled runs of the agent's queue (whose labels the agent has)
    /// to the agent, moving them to Pending with a lease; renews the leases of its other Pending runs;
    /// and returns its runs in Cancelling.
    func claim(agent: AgentInfo, capacity: Int, leaseExpiresAt: Date, now: Date) async throws -> (runs: [ClaimedRun], cancel: [FlowRunID])
}
