import FathomAlerts
import FathomAPI
import FathomCore
import Foundation

/// A rule as the store keeps it.
public struct StoredAlertRule: Sendable, Equatable {
    public var id: String
    public var name: String
    public var triggers: [AlertTrigger]
    public var flows: [String]
    public var targets: [StoredAlertTarget]
    public var createdAt: Date
    /// With ``AlertTrigger/runningLong``: seconds from a run's start.
    public var runningLongerThan: Double?
    /// With ``AlertTrigger/notStarted``: seconds from a run's due time.
    public var notStartedWithin: Double?
    /// Fire only on the failure that makes this many in a row.
    public var consecutiveFailures: Int?
    /// With ``AlertTrigger/agentOffline``: how long, and which agents (a queue and a launcher).
    public var agentOfflineSeconds: Double?
    public var queue: String?
    public var launcher: LauncherKind?
    /// Since when no agent was seen, while an AgentOffline alert for it stands (cleared when one is back).
    public var offlineSince: Date?
    /// Only runs that have every one of these tags.
    public var tags: [String]

    public init(
        id: String, name: String, triggers: [AlertTrigger], flows: [String], targets: [StoredAlertTarget], createdAt: Date,
        runningLongerThan: Double? = nil, notStartedWithin: Double? = nil, consecutiveFailures: Int? = nil,
        agentOfflineSeconds: Double? = nil, queue: String? = nil, launcher: LauncherKind? = nil, offlineSince: Date? = nil,
        tags: [String] = []
    ) {
        self.tags = tags
        self.agentOfflineSeconds = agentOfflineSeconds
        self.queue = queue
        self.launcher = launcher
        self.offlineSince = offlineSince
        self.consecutiveFailures = consecutiveFailures
        self.id = id
        self.name = name
        self.triggers = triggers
        self.flows = flows
        self.targets = targets
        self.createdAt = createdAt
        self.runningLongerThan = runningLongerThan
        self.notStartedWithin = notStartedWithin
    }

    /// As the API shows it.
    public var shown: AlertRule {
        AlertRule(
            id: id, name: name, on: triggers, flows: flows, targets: targets.map(\.shown), createdAt: createdAt,
            runningLongerThanSeconds: runningLongerThan, notStartedWithinSeconds: notStartedWithin, consecutiveFailures: consecutiveFailures,
            agentOfflineSeconds: agentOfflineSeconds, queue: queue, launcher: launcher, tags: tags)
    }

    /// Whether `event` about a run of `flow` fires this rule.
    public func matches(_ trigger: AlertTrigger, run: FlowRun) -> Bool {
        triggers.contains(trigger) && covers(run)
    }

    /// Whether the rule watches `run`: one of its flows (or any), with every one of its tags.
    public func covers(_ run: FlowRun) -> Bool {
        (flows.isEmpty || flows.contains(run.flowName)) && tags.allSatisfy(run.tags.contains)
    }
}

/// Something that happened which rules may alert on, written in the same transaction as the change itself
/// (the outbox): a coordinator killed right after the change still alerts once it is back.
public struct AlertEvent: Sendable, Equatable {
    /// Unique per happening: `run:<id>:<State>`, `late:<id>`, `running-long:<rule>:<id>`, `not-started:<rule>:<id>`,
    /// `agent-offline:<rule>:<since>`, `agent-back:<rule>:<since>`.
    public var key: String
    /// The run it is about; nil for an agent event.
    public var runID: FlowRunID?
    public var trigger: AlertTrigger
    public var at: Date
    /// The one rule a deadline or agent event is for (its own threshold was crossed); nil: every rule may match.
    public var ruleID: String?

    public init(key: String, runID: FlowRunID?, trigger: AlertTrigger, at: Date, ruleID: String? = nil) {
        self.key = key
        self.runID = runID
        self.trigger = trigger
        self.at = at
        self.ruleID = ruleID
    }

    /// The event a state write makes, written in its transaction: one for a final state, none for the others.
    public static func of(_ write: StateWrite) -> AlertEvent? {
        guard write.to.isFinal, let trigger = AlertTrigger(rawValue: write.to.rawValue) else { return nil }
        return AlertEvent(key: "run:\(write.runID):\(write.to.rawValue)", runID: write.runID, trigger: trigger, at: write.at)
    }

    /// The event of a run flagged late.
    public static func late(runID: FlowRunID, at: Date) -> AlertEvent {
        AlertEvent(key: "late:\(runID)", runID: runID, trigger: .late, at: at)
    }
}

/// Which time of a run a deadline counts from.
public enum RunTime: Sendable {
    /// When it started Running.
    case started
    /// When it fell due: its slot or retry time, or its creation.
    case due
}

/// A delivery to write: the rendered message and the target it goes to.
public struct NewAlertDelivery: Sendable, Equatable {
    /// Made from the event, the rule and the target's place in it, so that two coordinators working on one event
    /// write one delivery.
    public var id: String
    public var ruleID: String
    public var ruleName: String
    public var event: String
    public var runID: FlowRunID?
    public var target: StoredAlertTarget
    /// The ``AlertMessage`` as JSON, sent as it is on every attempt.
    public var payload: String
    public var createdAt: Date

    public init(
        id: String, ruleID: String, ruleName: String, event: String, runID: FlowRunID?, target: StoredAlertTarget, payload: String,
        createdAt: Date
    ) {
        self.id = id
        self.ruleID = ruleID
        self.ruleName = ruleName
        self.event = event
        self.runID = runID
        self.target = target
        self.payload = payload
        self.createdAt = createdAt
    }
}

/// A delivery handed to this coordinator to send, leased so no other sends it meanwhile.
public struct DueAlertDelivery: Sendable, Equatable {
    public var id: String
    public var target: StoredAlertTarget
    public var payload: String
    /// Attempts made before this one.
    public var attempts: Int

    public init(id: String, target: StoredAlertTarget, payload: String, attempts: Int) {
        self.id = id
        self.target = target
        self.payload = payload
        self.attempts = attempts
    }
}

/// The outcome of one attempt.
public struct AlertAttempt: Sendable, Equatable {
    public var deliveryID: String
    public var at: Date
    /// The target's HTTP status, if it answered.
    public var status: Int?
    /// Why it failed; nil when delivered.
    public var error: String?
    /// When to try again; nil when delivered or given up.
    public var retryAt: Date?

    public init(deliveryID: String, at: Date, status: Int?, error: String?, retryAt: Date?) {
        self.deliveryID = deliveryID
        self.at = at
        self.status = status
        self.error = error
        self.retryAt = retryAt
    }

    /// The status this attempt leaves the delivery in.
    public var outcome: AlertDeliveryStatus { error == nil ? .delivered : (retryAt == nil ? .failed : .pending) }
}

/// Alert rules, the outbox of events they may fire on, and the deliveries with their attempts.
///
/// Events are written by the state change itself (``RunStore/compareAndSetState(_:)`` for final states,
/// ``RunSweepStore/flagLateRuns(dueBefore:message:)`` for late runs), in its transaction.
public protocol AlertStore: Sendable {
    /// ``StoreError/conflict`` when the id or the name is taken.
    func insertAlertRule(_ rule: StoredAlertRule) async throws
    /// Every rule, by name.
    func alertRules() async throws -> [StoredAlertRule]
    /// By id or by name.
    func alertRule(_ key: String) async throws -> StoredAlertRule?
    /// Moves a rule's ``StoredAlertRule/offlineSince`` from `from` to `to` if it is still `from`, writing `event` in the
    /// same transaction; false when another coordinator moved it first (it wrote the event).
    func setAlertRuleOffline(id: String, from: Date?, to: Date?, event: AlertEvent) async throws -> Bool
    /// False when there was no such rule. Its deliveries stay in the log.
    func deleteAlertRule(id: String) async throws -> Bool
    /// The oldest events not yet turned into deliveries.
    func alertEvents(limit: Int) async throws -> [AlertEvent]
    /// Writes events a sweep found (a deadline crossed); an event whose key is waiting already is left as it is.
    func insertAlertEvents(_ events: [AlertEvent]) async throws
    /// Runs in `states` whose start (`.started`) or due time (`.due`: the slot, or creation) lies in `(after, through]`,
    /// oldest first, at most `limit`.
    func runs(in states: [FlowRunState], _ time: RunTime, after: Date, through: Date, limit: Int) async throws -> [FlowRun]
    /// Writes `deliveries` (an id already written is left as it is) and removes the event `key` (nil: none), in one
    /// transaction.
    func settleAlertEvent(key: String?, deliveries: [NewAlertDelivery]) async throws
    /// Pending deliveries due by `now`, oldest first, leased until `leaseUntil` (not handed out again before).
    func claimDueAlertDeliveries(now: Date, leaseUntil: Date, limit: Int) async throws -> [DueAlertDelivery]
    /// Records an attempt: delivered, to be tried again at `retryAt`, or failed for good.
    func recordAlertAttempt(_ attempt: AlertAttempt) async throws
    /// Deliveries, newest first; of one rule when `ruleID` is set.
    func alertDeliveries(ruleID: String?, limit: Int) async throws -> [AlertDelivery]
}
