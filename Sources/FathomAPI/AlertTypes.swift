import FathomCore
import Foundation

/// Where an alert goes.
public enum AlertTargetKind: String, Codable, Sendable, CaseIterable {
    /// An HTTP POST of the alert as JSON, signed with HMAC-SHA256.
    case webhook
    /// A Slack incoming webhook (blocks).
    case slack
    /// An email through the coordinator's mail server (`--smtp-url`); the URL is `mailto:ADDRESS`.
    case email
}

/// What makes a rule fire.
public enum AlertTrigger: String, Codable, Sendable, CaseIterable {
    case completed = "Completed"
    case failed = "Failed"
    case crashed = "Crashed"
    case cancelled = "Cancelled"
    /// A scheduled run not claimed a while after it fell due (the coordinator flags it late).
    case late = "Late"
    /// A run still Running (or Cancelling) longer than the rule's ``CreateAlertRuleRequest/runningLongerThanSeconds``.
    case runningLong = "RunningLong"
    /// A run not Running yet that long after it fell due (``CreateAlertRuleRequest/notStartedWithinSeconds``).
    case notStarted = "NotStarted"
    /// No agent serving a queue with a launcher seen for ``CreateAlertRuleRequest/agentOfflineSeconds``; the rule also
    /// says when one is back (state `AgentBack`).
    case agentOffline = "AgentOffline"

    /// The final state this trigger is, or nil for ``late``.
    public var state: FlowRunState? { FlowRunState(rawValue: rawValue) }

    /// Reads a name in any case (`failed`, `CRASHED`, `late`).
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else { return nil }
        self = match
    }
}

/// A target as asked for: its secret parts (the URL's token, the signing secret) are given here once and
/// never answered in full again.
public struct AlertTargetRequest: Codable, Sendable, Equatable {
    public var kind: AlertTargetKind
    /// The URL to POST to (webhook), the Slack incoming-webhook URL, or for email `mailto:ADDRESS` (or the address).
    public var url: String
    /// The webhook's signing secret; the coordinator makes one (answered once) when absent.
    public var secret: String?

    public init(kind: AlertTargetKind, url: String, secret: String? = nil) {
        self.kind = kind
        self.url = url
        self.secret = secret
    }
}

/// A target as the coordinator shows it: the URL cut after its host and first path segment.
public struct AlertTarget: Codable, Sendable, Equatable {
    public var kind: AlertTargetKind
    /// The URL with everything that could be a token hidden, e.g. `https://hooks.slack.com/services/…`.
    public var url: String
    /// Whether deliveries are signed (webhooks always are).
    public var signed: Bool

    public init(kind: AlertTargetKind, url: String, signed: Bool) {
        self.kind = kind
        self.url = url
        self.signed = signed
    }

    /// `url` with what may be secret hidden: its user, query, fragment and every path segment after the first.
    public static func masked(_ url: String) -> String {
        // An address is not a secret: the operator needs to see where mail goes.
        if AlertTargetRequest.emailAddress(of: url) != nil { return url }
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else {
            return "…"
        }
        let port = components.port.map { ":\($0)" } ?? ""
        let segments = components.path.split(separator: "/", omittingEmptySubsequences: true)
        let first = segments.first.map { "/\($0)" } ?? ""
        let hidden = segments.count > 1 || components.query != nil || components.fragment != nil || components.user != nil
        return "\(scheme)://\(host)\(port)\(first)\(hidden ? "/…" : "")"
    }
}

/// Asks for a new alert rule.
public struct CreateAlertRuleRequest: Codable, Sendable {
    /// Unique among rules, 1-128 letters, digits, `.`, `_`, `-`; made from the triggers and flows when absent.
    public var name: String?
    /// What fires it: final states and/or `Late`.
    public var on: [AlertTrigger]
    /// Only runs of these flows; every flow when empty or absent.
    public var flows: [String]?
    /// Where it goes (at least one).
    public var targets: [AlertTargetRequest]
    /// With `RunningLong`: the deadline, in seconds from the run's start.
    public var runningLongerThanSeconds: Double?
    /// With `NotStarted`: how long after it fell due a run may wait to start.
    public var notStartedWithinSeconds: Double?
    /// Fire only when a flow's failures reach this many in a row (2-100; `on` may then hold only Failed and Crashed):
    /// the Nth failure alerts, the ones after it do not until a run succeeds.
    public var consecutiveFailures: Int?
    /// With `AgentOffline`: how long no agent of ``queue`` and ``launcher`` may be seen.
    public var agentOfflineSeconds: Double?
    /// With `AgentOffline`: the queue watched (`default` when absent).
    public var queue: String?
    /// With `AgentOffline`: the launcher watched (`local` when absent).
    public var launcher: LauncherKind?
    /// Only runs that have every one of these tags (``FlowRun/tags``).
    public var tags: [String]?

    public init(
        name: String? = nil, on: [AlertTrigger], flows: [String]? = nil, targets: [AlertTargetRequest],
        runningLongerThanSeconds: Double? = nil, notStartedWithinSeconds: Double? = nil, consecutiveFailures: Int? = nil,
        agentOfflineSeconds: Double? = nil, queue: String? = nil, launcher: LauncherKind? = nil, tags: [String]? = nil
    ) {
        self.tags = tags
        self.agentOfflineSeconds = agentOfflineSeconds
        self.queue = queue
        self.launcher = launcher
        self.name = name
        self.on = on
        self.flows = flows
        self.targets = targets
        self.runningLongerThanSeconds = runningLongerThanSeconds
        self.notStartedWithinSeconds = notStartedWithinSeconds
        self.consecutiveFailures = consecutiveFailures
    }

    /// The most flows and targets a rule may name, and the longest URL.
    public static let maxFlows = 100, maxTargets = 10, maxURLLength = 2048

    /// Checks everything but the hosts a server allows; errors name the field.
    public func validate() throws(ValidationError) {
        if let name, !Names.isValid(name) {
            throw ValidationError(
                code: "invalid_name", field: "name", problem: "'\(name.prefix(64))' is not a name (1-128 letters, digits, '.', '_', '-')",
                fix: "Use a name such as sort-compress-failures, or leave it out.")
        }
        guard !on.isEmpty else {
            throw ValidationError(
                code: "missing_trigger", field: "on", problem: "a rule needs at least one trigger",
                fix: "Name what fires it: \(AlertTrigger.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        let flows = flows ?? []
        guard flows.count <= Self.maxFlows else {
            throw ValidationError(
                code: "too_many_flows", field: "flows", problem: "\(flows.count) flows, more than \(Self.maxFlows)",
                fix: "Leave flows out to match every flow, or make several rules.")
        }
        for (index, flow) in flows.enumerated() where !Names.isValid(flow) {
            throw ValidationError(
                code: "invalid_flow", field: "flows[\(index)]", problem: "'\(flow.prefix(64))' is not a flow name",
                fix: "Give the name of a registered flow (fathom flows).")
        }
        guard (1...Self.maxTargets).contains(targets.count) else {
            throw ValidationError(
                code: "invalid_targets", field: "targets", problem: "a rule needs 1-\(Self.maxTargets) targets, got \(targets.count)",
                fix: "Add a webhook or a Slack incoming-webhook URL.")
        }
        for (index, target) in targets.enumerated() { try target.validate(field: "targets[\(index)]") }
        _ = try RunTags.checked(tags, field: "tags")
        try Self.validateThreshold(runningLongerThanSeconds, trigger: .runningLong, in: on, field: "runningLongerThanSeconds")
        try Self.validateThreshold(notStartedWithinSeconds, trigger: .notStarted, in: on, field: "notStartedWithinSeconds")
        try Self.validateThreshold(agentOfflineSeconds, trigger: .agentOffline, in: on, field: "agentOfflineSeconds")
        if let queue, !Names.isValid(queue) {
            throw ValidationError(
                code: "invalid_queue", field: "queue", problem: "'\(queue.prefix(64))' is not a queue name",
                fix: "Name the queue agents poll (fathom agent --queue), e.g. default.")
        }
        if queue != nil || launcher != nil, !on.contains(.agentOffline) {
            throw ValidationError(
                code: "missing_trigger", field: "on", problem: "queue and launcher say which agents AgentOffline watches",
                fix: "Add AgentOffline to on (with agentOfflineSeconds), or leave queue and launcher out.")
        }
        if let consecutiveFailures {
            guard (2...100).contains(consecutiveFailures) else {
                throw ValidationError(
                    code: "invalid_count", field: "consecutiveFailures", problem: "\(consecutiveFailures) is outside 2-100",
                    fix: "Count failures in a row from 2 to 100; leave it out to alert on every failure.")
            }
            guard on.allSatisfy({ $0 == .failed || $0 == .crashed }) else {
                throw ValidationError(
                    code: "invalid_trigger", field: "on", problem: "consecutiveFailures counts Failed and Crashed runs only",
                    fix: "Use on: [Failed, Crashed] with consecutiveFailures, and another rule for the other triggers.")
            }
        }
    }

    /// A threshold comes with its trigger, and the trigger with its threshold: 1 s to 30 days.
    static func validateThreshold(_ seconds: Double?, trigger: AlertTrigger, in on: [AlertTrigger], field: String) throws(ValidationError) {
        switch (seconds, on.contains(trigger)) {
        case (nil, false): return
        case (nil, true):
            throw ValidationError(
                code: "missing_threshold", field: field, problem: "the trigger \(trigger.rawValue) needs \(field)",
                fix: "Say how long, in seconds (e.g. 7200 for 2 h); the CLI takes durations: --running-longer-than 2h, --late 10m.")
        case (.some, false):
            throw ValidationError(
                code: "missing_trigger", field: "on", problem: "\(field) is set but \(trigger.rawValue) is not among the triggers",
                fix: "Add \(trigger.rawValue) to on, or leave \(field) out.")
        case (let seconds?, true):
            guard seconds.isFinite, (1...(30 * 86_400.0)).contains(seconds) else {
                throw ValidationError(
                    code: "invalid_threshold", field: field, problem: "\(seconds) s is outside 1 s-30 d",
                    fix: "Use a duration from 1 second to 30 days, in seconds.")
            }
        }
    }
}

extension AlertTargetRequest {
    /// Checks the URL and secret; errors name `field`.
    public func validate(field: String) throws(ValidationError) {
        if kind == .email {
            guard Self.emailAddress(of: normalized.url) != nil else {
                throw ValidationError(
                    code: "invalid_email", field: "\(field).url", problem: "'\(url.prefix(64))' is not an email address",
                    fix: "Give one address, e.g. ops@example.com or mailto:ops@example.com.")
            }
            if secret != nil {
                throw ValidationError(
                    code: "invalid_secret", field: "\(field).secret", problem: "an email target has no signing secret",
                    fix: "Leave the secret out; the mail server's password is the coordinator's --smtp-url setting.")
            }
            return
        }
        guard url.count <= CreateAlertRuleRequest.maxURLLength, let components = URLComponents(string: url),
              let scheme = components.scheme?.lowercased(), scheme == "https" || scheme == "http",
              let host = components.host, !host.isEmpty
        else {
            throw ValidationError(
                code: "invalid_url", field: "\(field).url", problem: "'\(AlertTarget.masked(url))' is not an http(s) URL with a host",
                fix: "Give the full URL, e.g. https://hooks.slack.com/services/T000/B000/XXXX or https://alerts.example.com/fathom.")
        }
        if kind == .slack, scheme != "https" {
            throw ValidationError(
                code: "invalid_url", field: "\(field).url", problem: "a Slack incoming webhook is an https URL",
                fix: "Copy the URL Slack shows for the incoming webhook (https://hooks.slack.com/services/…).")
        }
        if let secret, secret.count < 16 || secret.count > 256 {
            throw ValidationError(
                code: "invalid_secret", field: "\(field).secret", problem: "a signing secret must be 16-256 characters",
                fix: "Use a long random string (openssl rand -hex 32), or leave it out and the coordinator makes one.")
        }
    }
}

extension AlertTargetRequest {
    /// The address of an email target's URL (`mailto:ops@example.com`); nil when it is no single address.
    public static func emailAddress(of url: String) -> String? {
        guard url.lowercased().hasPrefix("mailto:") else { return nil }
        let address = String(url.dropFirst("mailto:".count))
        return EmailAddress.isValid(address) ? address : nil
    }

    /// The request as the coordinator stores it: an email target's bare address becomes `mailto:ADDRESS`.
    public var normalized: AlertTargetRequest {
        guard kind == .email, !url.lowercased().hasPrefix("mailto:") else { return self }
        return AlertTargetRequest(kind: kind, url: "mailto:" + url, secret: secret)
    }
}

/// A rule as the coordinator shows it.
public struct AlertRule: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var on: [AlertTrigger]
    /// Empty: every flow.
    public var flows: [String]
    public var targets: [AlertTarget]
    public var createdAt: Date
    public var runningLongerThanSeconds: Double?
    public var notStartedWithinSeconds: Double?
    public var consecutiveFailures: Int?
    public var agentOfflineSeconds: Double?
    public var queue: String?
    public var launcher: LauncherKind?
    /// Empty: runs with any tags.
    public var tags: [String]

    public init(
        id: String, name: String, on: [AlertTrigger], flows: [String], targets: [AlertTarget], createdAt: Date,
        runningLongerThanSeconds: Double? = nil, notStartedWithinSeconds: Double? = nil, consecutiveFailures: Int? = nil,
        agentOfflineSeconds: Double? = nil, queue: String? = nil, launcher: LauncherKind? = nil, tags: [String] = []
    ) {
        self.tags = tags
        self.agentOfflineSeconds = agentOfflineSeconds
        self.queue = queue
        self.launcher = launcher
        self.consecutiveFailures = consecutiveFailures
        self.id = id
        self.name = name
        self.on = on
        self.flows = flows
        self.targets = targets
        self.createdAt = createdAt
        self.runningLongerThanSeconds = runningLongerThanSeconds
        self.notStartedWithinSeconds = notStartedWithinSeconds
    }
}

extension AlertRule {
    /// What fires it, in words: `Failed, Crashed, running longer than 2h, not started within 10m`.
    public var triggerText: String {
        on.map { trigger in
            switch trigger {
            case .runningLong: "running longer than \(DurationText.describe(runningLongerThanSeconds ?? 0))"
            case .notStarted: "not started within \(DurationText.describe(notStartedWithinSeconds ?? 0))"
            case .agentOffline:
                "no \((launcher ?? .local).rawValue) agent on queue \(queue ?? "default") for \(DurationText.describe(agentOfflineSeconds ?? 0))"
            default: trigger.rawValue
            }
        }.joined(separator: ", ") + (consecutiveFailures.map { ", \($0) in a row" } ?? "")
    }
}

/// A new rule, with the signing secrets the coordinator made: shown this once.
public struct CreatedAlertRule: Codable, Sendable {
    public var rule: AlertRule
    /// Per target index, the secret the coordinator made for it (targets given a secret are not listed).
    public var madeSecrets: [String: String]

    public init(rule: AlertRule, madeSecrets: [String: String]) {
        self.rule = rule
        self.madeSecrets = madeSecrets
    }
}

/// Alert rules.
public struct AlertRuleList: Codable, Sendable {
    public var rules: [AlertRule]

    public init(rules: [AlertRule]) {
        self.rules = rules
    }
}

/// How far a delivery got.
public enum AlertDeliveryStatus: String, Codable, Sendable, CaseIterable {
    /// Not yet accepted by the target; tried again with backoff.
    case pending
    /// The target answered 2xx.
    case delivered
    /// Given up after the last attempt.
    case failed
}

/// One alert to one target, and its attempts.
public struct AlertDelivery: Codable, Sendable, Equatable {
    /// Stable across attempts and coordinator restarts: receivers deduplicate on it.
    public var id: String
    public var ruleID: String
    public var ruleName: String
    /// What happened: `run:<id>:<State>`, `late:<id>`, or `test:<n>`.
    public var event: String
    public var runID: FlowRunID?
    public var target: AlertTarget
    public var status: AlertDeliveryStatus
    public var attempts: Int
    /// The target's last HTTP status, if it answered.
    public var lastStatus: Int?
    /// Why the last attempt failed.
    public var lastError: String?
    public var createdAt: Date
    public var deliveredAt: Date?
    /// When the next attempt is due (pending only).
    public var nextAttemptAt: Date?

    public init(
        id: String, ruleID: String, ruleName: String, event: String, runID: FlowRunID?, target: AlertTarget,
        status: AlertDeliveryStatus, attempts: Int, lastStatus: Int?, lastError: String?, createdAt: Date,
        deliveredAt: Date?, nextAttemptAt: Date?
    ) {
        self.id = id
        self.ruleID = ruleID
        self.ruleName = ruleName
        self.event = event
        self.runID = runID
        self.target = target
        self.status = status
        self.attempts = attempts
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
        self.nextAttemptAt = nextAttemptAt
    }
}

/// Deliveries, newest first.
public struct AlertDeliveryList: Codable, Sendable {
    public var deliveries: [AlertDelivery]

    public init(deliveries: [AlertDelivery]) {
        self.deliveries = deliveries
    }
}

/// The JSON body a webhook receives (Slack gets blocks made from the same facts).
public struct AlertMessage: Codable, Sendable, Equatable {
    /// The delivery's id: the same on every attempt.
    public var id: String
    /// `run:<id>:<State>`, `late:<id>`, `running-long:<rule>:<id>`, `not-started:<rule>:<id>`, `test:<n>`.
    public var event: String
    public var rule: String
    /// The run's flow and id; absent for an agent alert.
    public var flow: String?
    public var runID: FlowRunID?
    /// For an agent alert: the queue and launcher no agent serves (`AgentOffline`), or serves again (`AgentBack`).
    public var queue: String?
    public var launcher: String?
    public var state: String
    /// The run's state message: why it is in that state.
    public var reason: String
    /// What to do about it, when Fathom knows (ECS stop reasons).
    public var hint: String?
    public var attempt: Int?
    public var durationSeconds: Double?
    /// The run page, when the coordinator knows its public URL (`--public-url`).
    public var link: String?
    /// ECS runs: the task ARN and its console page.
    public var taskARN: String?
    public var taskConsoleLink: String?
    /// The run's last log lines (up to 20), oldest first.
    public var lastLines: [String]
    public var at: Date

    public init(
        id: String, event: String, rule: String, flow: String?, runID: FlowRunID?, state: String, reason: String, hint: String?,
        attempt: Int?, durationSeconds: Double?, link: String?, taskARN: String?, taskConsoleLink: String?, lastLines: [String], at: Date,
        queue: String? = nil, launcher: String? = nil
    ) {
        self.queue = queue
        self.launcher = launcher
        self.id = id
        self.event = event
        self.rule = rule
        self.flow = flow
        self.runID = runID
        self.state = state
        self.reason = reason
        self.hint = hint
        self.attempt = attempt
        self.durationSeconds = durationSeconds
        self.link = link
        self.taskARN = taskARN
        self.taskConsoleLink = taskConsoleLink
        self.lastLines = lastLines
        self.at = at
    }
}
