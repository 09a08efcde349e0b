/// The state of a flow run.
///
/// ```
/// Scheduled ─► Pending ─► Running ─► Completed | Failed | Crashed | Cancelled
/// any non-final state ─► Cancelling ─► Cancelled
/// ```
/// A run that is tried again is a new run (its `attempt` n+1, `retryOf` the first); a run's own
/// retries of a task are the task run's state.
/// The coordinator enforces ``FlowRunState/canTransition(to:)`` with compare-and-set on the
/// current state, so two writers can never both move a run.
public enum FlowRunState: String, Codable, CaseIterable, Sendable, CustomStringConvertible {
    /// Waiting for an agent to claim it.
    case scheduled = "Scheduled"
    /// Claimed by an agent under a lease; its infrastructure is starting.
    case pending = "Pending"
    /// The flow is executing and sending heartbeats.
    case running = "Running"
    /// A cancel was requested; the agent is stopping the infrastructure.
    case cancelling = "Cancelling"
    /// The flow returned normally.
    case completed = "Completed"
    /// The flow threw an error.
    case failed = "Failed"
    /// The infrastructure died, or the heartbeat stopped, before the flow reported a final state.
    case crashed = "Crashed"
    /// The run was cancelled.
    case cancelled = "Cancelled"

    public var description: String { rawValue }

    /// Final states never change again.
    public var isFinal: Bool {
        switch self {
        case .completed, .failed, .crashed, .cancelled: return true
        case .scheduled, .pending, .running, .cancelling: return false
        }
    }

    /// The states of a run that holds an agent's slot and counts against concurrency limits:
    /// claimed and not yet final. Spelled here once; queries use ``activeSQLList``.
    public static let active: [FlowRunState] = [.pending, .running, .cancelling]

    /// ``active`` as an SQL list: `('Pending', 'Running', 'Cancelling')`.
    public static let activeSQLList = "(" + active.map { "'\($0.rawValue)'" }.joined(separator: ", ") + ")"

    /// The states this state may legally move to.
    public var allowedNextStates: Set<FlowRunState> {
        switch self {
        case .scheduled: return [.pending, .cancelling, .cancelled, .crashed]
        case .pending: return [.running, .cancelling, .cancelled, .crashed, .failed, .scheduled]
        case .running: return [.completed, .failed, .crashed, .cancelling, .cancelled]
        case .cancelling: return [.cancelled, .crashed, .completed, .failed]
        case .completed, .failed, .crashed, .cancelled: return []
        }
    }

    /// Whether a run in this state may move to `next`.
    public func canTransition(to next: FlowRunState) -> Bool {
        allowedNextStates.contains(next)
    }

    /// Parses a state name case-insensitively ("running", "Running").
    public init?(name: String) {
        guard let state = FlowRunState.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else {
            return nil
        }
        self = state
    }
}

/// The state of a task run inside a flow run.
public enum TaskRunState: String, Codable, CaseIterable, Sendable, CustomStringConvertible {
    case pending = "Pending"
    case running = "Running"
    case retrying = "Retrying"
    case completed = "Completed"
    case failed = "Failed"
    case cancelled = "Cancelled"
    /// Not run: a resumed attempt took the result of the same task (same cache key) from the attempt it resumes.
    case cached = "Cached"

    public var description: String { rawValue }

    /// Final states never change again.
    public var isFinal: Bool {
        switch self {
        case .completed, .failed, .cancelled, .cached: return true
        case .pending, .running, .retrying: return false
        }
    }
}
