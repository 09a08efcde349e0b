import FathomCore
import Foundation

/// An agent announcing itself.
public struct AgentRegistration: Codable, Sendable {
    public var name: String
    public var queue: String
    /// An agent claims only runs whose flow labels it has.
    public var labels: [String: String]
    /// The launcher it serves: it claims only runs whose run config names it.
    public var launcher: LauncherKind
    /// This agent process: random at each start. While one process of a name is live, another with
    /// the same name is refused (409), so two agents never take each other's runs.
    public var instance: String?
    /// The host it runs on (local pids are only meaningful there).
    public var host: String?

    public init(
        name: String, queue: String = "default", labels: [String: String] = [:], launcher: LauncherKind = .local,
        instance: String? = nil, host: String? = nil
    ) {
        self.name = name
        self.queue = queue
        self.labels = labels
        self.launcher = launcher
        self.instance = instance
        self.host = host
    }
}

/// A registered agent.
public struct AgentInfo: Codable, Sendable {
    public var id: AgentID
    public var name: String
    public var queue: String
    public var labels: [String: String]
    public var launcher: LauncherKind
    public var lastSeenAt: Date
    public var runsInFlight: Int
    /// The process that registered last, and its host; nil once it stopped cleanly.
    public var instance: String?
    public var host: String?

    public init(
        id: AgentID, name: String, queue: String, labels: [String: String], launcher: LauncherKind, lastSeenAt: Date,
        runsInFlight: Int, instance: String? = nil, host: String? = nil
    ) {
        self.id = id
        self.name = name
        self.queue = queue
        self.labels = labels
        self.launcher = launcher
        self.lastSeenAt = lastSeenAt
        self.runsInFlight = runsInFlight
        self.instance = instance
        self.host = host
    }
}

/// An agent process saying it stops: its name is free for the next one at once.
public struct AgentStop: Codable, Sendable {
    public var instance: String

    public init(instance: String) {
        self.instance = instance
    }
}

/// Registered agents.
public struct AgentList: Codable, Sendable {
    public var agents: [AgentInfo]

    public init(agents: [AgentInfo]) {
        self.agents = agents
    }
}

/// A long-poll for work: runs to launch and runs to cancel.
public struct ClaimRequest: Codable, Sendable {
    /// How long the server may hold the request when there is nothing to hand out.
    public var waitSeconds: Double
    /// How many runs the agent can take now.
    public var capacity: Int
    /// How long the claim holds before an unstarted run is crashed.
    public var leaseSeconds: Double?

    public init(waitSeconds: Double = 20, capacity: Int = 1, leaseSeconds: Double? = nil) {
        self.waitSeconds = waitSeconds
        self.capacity = capacity
        self.leaseSeconds = leaseSeconds
    }
}

/// A run handed to an agent, with what it needs to launch it.
public struct ClaimedRun: Codable, Sendable {
    public var run: FlowRun
    public var version: FlowVersion
    public var leaseExpiresAt: Date

    public init(run: FlowRun, version: FlowVersion, leaseExpiresAt: Date) {
        self.run = run
        self.version = version
        self.leaseExpiresAt = leaseExpiresAt
    }
}

/// The answer to a claim.
public struct ClaimResponse: Codable, Sendable {
    public var runs: [ClaimedRun]
    /// Runs of this agent that a user asked to cancel.
    public var cancel: [FlowRunID]

    public init(runs: [ClaimedRun], cancel: [FlowRunID]) {
        self.runs = runs
        self.cancel = cancel
    }
}

/// Runs that the agent still has in flight, so the server can tell it which ones ended.
public struct HeartbeatResponse: Codable, Sendable {
    public var state: FlowRunState

    public init(state: FlowRunState) {
        self.state = state
    }
}
