import Crypto
import FathomAlerts
import FathomAPI
import FathomCore
import Foundation

/// Alert rules and their delivery: the rules live here, the sending behind ``AlertSender``.
///
/// A run's final state (and a late flag) writes an event in the same transaction as the change (the outbox).
/// ``turnAlertEventsIntoDeliveries(now:)`` renders one delivery per matching rule and target, with an id made from
/// the event, the rule and the target, and removes the event in the same transaction; ``deliverDueAlerts(now:using:)``
/// sends due deliveries and records each attempt. A coordinator killed anywhere in between sends after its restart,
/// under the same delivery id: at least once.
extension Coordinator {
    /// The most attempts a delivery gets; after the last failure it is marked failed.
    static let alertAttempts = 10

    /// Validates and stores a rule; the signing secrets the coordinator made are answered this once.
    public func createAlertRule(_ request: CreateAlertRuleRequest) async throws -> CreatedAlertRule {
        // Well-formed JSON that breaks a rule (a URL that is no URL, a host off the list): 422, naming the field.
        do {
            try check(request)
        } catch {
            throw CoordinatorError(validation: ValidationErrors([error]))
        }
        var made: [String: String] = [:]
        let targets = request.targets.map(\.normalized).enumerated().map { index, target in
            var secret = target.secret
            if target.kind == .webhook, secret == nil {
                secret = AlertSignature.makeSecret()
                made[String(index)] = secret
            }
            return StoredAlertTarget(kind: target.kind, url: target.url, secret: secret)
        }
        let flows = request.flows ?? []
        let name = request.name ?? Self.defaultAlertRuleName(triggers: request.on, flows: flows)
        let rule = StoredAlertRule(
            id: Identifier.make(), name: name, triggers: request.on, flows: flows, targets: targets, createdAt: clock(),
            runningLongerThan: request.runningLongerThanSeconds, notStartedWithin: request.notStartedWithinSeconds,
            consecutiveFailures: request.consecutiveFailures, agentOfflineSeconds: request.agentOfflineSeconds,
            queue: request.on.contains(.agentOffline) ? request.queue ?? "default" : nil,
            launcher: request.on.contains(.agentOffline) ? request.launcher ?? .local : nil,
            tags: (try? RunTags.checked(request.tags, field: "tags")) ?? [])  // checked by check(request) above
        do {
            try await store.insertAlertRule(rule)
        } catch StoreError.conflict {
            throw CoordinatorError(
                .conflict, code: "name_taken", message: "an alert rule named '\(rule.name)' already exists", field: "name",
                fix: "Choose another name, or remove the old rule first (fathom alert rm '\(rule.name)').")
        }
        logger.info("alert rule added", metadata: ["rule": "\(rule.name)", "targets": "\(rule.targets.map(\.shown.url))"])
        return CreatedAlertRule(rule: rule.shown, madeSecrets: made)
    }

    private func check(_ request: CreateAlertRuleRequest) throws(ValidationError) {
        try request.validate()
        for (index, target) in request.targets.enumerated() {
            if target.kind == .email {
                guard settings.sendsEmail else {
                    throw ValidationError(
                        code: "email_not_set_up", field: "targets[\(index)]", problem: "this coordinator has no mail server to send email with",
                        fix: "Start the server with --smtp-url smtp://USER@HOST:587 --smtp-from ADDRESS (password in FATHOM_SMTP_PASSWORD), or use a webhook or Slack.")
                }
                continue
            }
            try AlertHostPolicy(allowed: settings.alertHosts).check(target.url, field: "targets[\(index)].url")
        }
    }

    /// Every rule, by name; secrets left out, URLs masked.
    public func alertRules() async throws -> [AlertRule] {
        try await store.alertRules().map(\.shown)
    }

    /// A rule by id or name.
    public func alertRule(_ key: String) async throws -> AlertRule {
        try await storedAlertRule(key).shown
    }

    private func storedAlertRule(_ key: String) async throws -> StoredAlertRule {
        guard let rule = try await store.alertRule(key) else {
            throw CoordinatorError.notFound("alert rule", key, fix: "List the rules with 'fathom alert list'.")
        }
        return rule
    }

    /// Removes a rule; its deliveries stay in the log, and those still pending are still sent.
    public func deleteAlertRule(_ key: String) async throws -> AlertRule {
        let rule = try await storedAlertRule(key)
        _ = try await store.deleteAlertRule(id: rule.id)
        logger.info("alert rule removed", metadata: ["rule": "\(rule.name)"])
        return rule.shown
    }

    /// The delivery log, newest first; of one rule (id or name) when given.
    public func alertDeliveries(rule key: String?, limit: Int) async throws -> [AlertDelivery] {
        let limit = try checked { try NumberCheck.count(limit, field: "limit", in: 1...1000) }
        var ruleID: String?
        if let key { ruleID = try await storedAlertRule(key).id }
        return try await store.alertDeliveries(ruleID: ruleID, limit: limit)
    }

    /// Sends a sample alert to each of the rule's targets now, through the same delivery path as a real one.
    public func testAlertRule(_ key: String) async throws -> [AlertDelivery] {
        let rule = try await storedAlertRule(key)
        let now = clock()
        let event = "test:\(Identifier.make())"
        let sample = AlertMessage(
            id: "", event: event, rule: rule.name, flow: rule.flows.first ?? "example", runID: "test-run", state: "Failed",
            reason: "a sample alert sent by 'fathom alert test': nothing failed", hint: nil, attempt: 1, durationSeconds: 12,
            link: settings.publicURL.map { Self.joined($0, "runs") }, taskARN: nil, taskConsoleLink: nil,
            lastLines: ["[info] a sample log line"], at: now)
        let deliveries = try rule.targets.indices.map { index in try delivery(of: sample, rule: rule, target: index, runID: nil, at: now) }
        try await store.settleAlertEvent(key: nil, deliveries: deliveries)
        notifier.signal(.alerts)
        let made = Set(deliveries.map(\.id))
        return try await store.alertDeliveries(ruleID: rule.id, limit: 1000).filter { made.contains($0.id) }
    }

    /// Renders the deliveries of the events waiting in the outbox; returns how many events it settled.
    @discardableResult
    public func turnAlertEventsIntoDeliveries(now: Date) async throws -> Int {
        let events = try await store.alertEvents(limit: 200)
        guard !events.isEmpty else { return 0 }
        let rules = try await store.alertRules()
        for event in events {
            guard let runID = event.runID else {
                try await store.settleAlertEvent(key: event.key, deliveries: try agentDeliveries(event, rules: rules, now: now))
                continue
            }
            guard let run = try await store.run(id: runID, includeHistory: false) else {
                try await store.settleAlertEvent(key: event.key, deliveries: [])  // the run is gone: nothing to say
                continue
            }
            var matching = rules.filter { $0.matches(event.trigger, run: run) && (event.ruleID == nil || event.ruleID == $0.id) }
            for (index, rule) in matching.enumerated().reversed() {
                if let count = rule.consecutiveFailures, try await !isFailure(run, number: count) { matching.remove(at: index) }
            }
            var deliveries: [NewAlertDelivery] = []
            if !matching.isEmpty {
                let lines = try await store.logTail(runID: run.id, limit: 20)
                let at = event.trigger == .late ? now : event.at
                for rule in matching {
                    var message = AlertComposer.message(
                        event: event.key, trigger: event.trigger, rule: rule.name, run: run, lines: lines, publicURL: settings.publicURL, at: at)
                    if let reason = AlertComposer.deadlineReason(event.trigger, rule: rule, run: run, now: now) { message.reason = reason }
                    for index in rule.targets.indices {
                        deliveries.append(try delivery(of: message, rule: rule, target: index, runID: run.id, at: now))
                    }
                }
            }
            try await store.settleAlertEvent(key: event.key, deliveries: deliveries)
        }
        return events.count
    }

    /// The deliveries of an agent event: to its rule's targets, saying which agents went (or came back) and since when.
    private func agentDeliveries(_ event: AlertEvent, rules: [StoredAlertRule], now: Date) throws -> [NewAlertDelivery] {
        guard let rule = rules.first(where: { $0.id == event.ruleID }) else { return [] }  // the rule was removed meanwhile
        let message = AlertComposer.agentMessage(event: event, rule: rule, at: event.at)
        return try rule.targets.indices.map { index in try delivery(of: message, rule: rule, target: index, runID: nil, at: now) }
    }

    /// Watches each AgentOffline rule's queue and launcher: once no such agent was seen for the rule's time, it alerts
    /// (once per outage), and when one is seen again it says so. The rule's `offlineSince` is moved with compare-and-set,
    /// so several coordinators alert once between them.
    func watchAgents(now: Date, rules: [StoredAlertRule]) async throws {
        let watching = rules.filter { $0.agentOfflineSeconds != nil }
        guard !watching.isEmpty else { return }
        let agents = try await store.agents()
        for rule in watching {
            guard let seconds = rule.agentOfflineSeconds, let queue = rule.queue, let launcher = rule.launcher else { continue }
            let lastSeen = agents.filter { $0.queue == queue && $0.launcher == launcher }.map(\.lastSeenAt).max()
            let since = lastSeen ?? rule.createdAt
            if let offline = rule.offlineSince {
                guard let lastSeen, lastSeen > offline else { continue }
                let key = "agent-back:\(rule.id):\(Int(saturating: offline.timeIntervalSince1970 * 1000))"
                _ = try await store.setAlertRuleOffline(
                    id: rule.id, from: offline, to: nil, event: AlertEvent(key: key, runID: nil, trigger: .agentOffline, at: lastSeen, ruleID: rule.id))
            } else if now.timeIntervalSince(since) >= seconds {
                let key = "agent-offline:\(rule.id):\(Int(saturating: since.timeIntervalSince1970 * 1000))"
                _ = try await store.setAlertRuleOffline(
                    id: rule.id, from: nil, to: since,
                    event: AlertEvent(key: key, runID: nil, trigger: .agentOffline, at: since.addingTimeInterval(seconds), ruleID: rule.id))
            }
        }
    }

    /// Whether `run`'s failure is the `count`th in a row of its flow, by end time (runs that ended after it do not count;
    /// Cancelled runs neither break nor extend a streak). The failures after the `count`th are not: a streak alerts once.
    func isFailure(_ run: FlowRun, number count: Int) async throws -> Bool {
        let recent = try await store.runs(RunFilter(flowName: run.flowName, limit: min(1000, (count + 1) * 4 + 20))).runs
        let end = run.endedAt ?? .distantFuture
        let finished = recent.filter { $0.state.isFinal && $0.state != .cancelled && ($0.endedAt ?? .distantPast) <= end }
            .sorted { ($0.endedAt ?? .distantPast, $0.id) > ($1.endedAt ?? .distantPast, $1.id) }
        return finished.prefix { $0.state == .failed || $0.state == .crashed }.count == count
    }

    /// Watches agents for AgentOffline rules, and writes the events of runs that crossed a rule's deadline since the last look (`RunningLong`: still Running that
    /// long after their start; `NotStarted`: not Running that long after they fell due). A coordinator looks back a day
    /// at its first round; an event found twice makes one delivery (its id), so looking again loses and repeats nothing.
    public func findOverdueRuns(now: Date) async throws {
        let all = try await store.alertRules()
        try await watchAgents(now: now, rules: all)
        let rules = all.filter { $0.runningLongerThan != nil || $0.notStartedWithin != nil }
        let since = lastDeadlineCheck.withLock { last in
            defer { last = now }
            return last ?? now.addingTimeInterval(-86_400)
        }
        guard !rules.isEmpty, since < now else { return }
        var events: [AlertEvent] = []
        for rule in rules {
            // Each deadline: its threshold, the runs it watches, the time it counts from, and its event.
            let deadlines: [(Double?, [FlowRunState], RunTime, AlertTrigger, String)] = [
                (rule.runningLongerThan, [.running, .cancelling], .started, .runningLong, "running-long"),
                (rule.notStartedWithin, [.scheduled, .pending], .due, .notStarted, "not-started"),
            ]
            for case let (seconds?, states, time, trigger, prefix) in deadlines {
                let runs = try await store.runs(
                    in: states, time, after: since.addingTimeInterval(-seconds), through: now.addingTimeInterval(-seconds), limit: 1000)
                for run in runs where rule.covers(run) {
                    let from = time == .started ? run.startedAt ?? now : run.scheduledFor ?? run.createdAt
                    events.append(AlertEvent(
                        key: "\(prefix):\(rule.id):\(run.id)", runID: run.id, trigger: trigger, at: from.addingTimeInterval(seconds), ruleID: rule.id))
                }
            }
        }
        try await store.insertAlertEvents(events)
    }

    /// Sends the deliveries due now (at most `limit`, 8 at a time) and records each attempt; returns how many it tried.
    @discardableResult
    public func deliverDueAlerts(now: Date, using sender: any AlertSender, limit: Int = 64) async throws -> Int {
        // The lease outlasts an attempt's timeout, so no other coordinator takes a delivery this one is sending.
        let due = try await store.claimDueAlertDeliveries(now: now, leaseUntil: now.addingTimeInterval(15), limit: limit)
        guard !due.isEmpty else { return 0 }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, delivery) in due.enumerated() {
                if index >= 8 { try await group.next() }
                group.addTask { try await self.attempt(delivery, using: sender) }
            }
            try await group.waitForAll()
        }
        return due.count
    }

    private func attempt(_ delivery: DueAlertDelivery, using sender: any AlertSender) async throws {
        guard let message = try? APICoding.decode(AlertMessage.self, from: Data(delivery.payload.utf8)) else {  // written by this code; unreadable means damaged, recorded as failed below
            try await store.recordAlertAttempt(AlertAttempt(
                deliveryID: delivery.id, at: clock(), status: nil, error: "the stored message cannot be read", retryAt: nil))
            return
        }
        let result = await sender.send(id: delivery.id, payload: delivery.payload, message: message, to: delivery.target)
        let now = clock()
        let attempts = delivery.attempts + 1
        var retryAt: Date?
        if result.error != nil, result.retryable, attempts < Self.alertAttempts {
            // 5 s, 10 s, 20 s, … up to 30 min between attempts.
            retryAt = now.addingTimeInterval(min(5 * pow(2, Double(attempts - 1)), 1800))
        }
        try await store.recordAlertAttempt(AlertAttempt(
            deliveryID: delivery.id, at: now, status: result.status, error: result.error, retryAt: retryAt))
        if let error = result.error {
            metrics.alertFailed()
            logger.warning(
                "alert not delivered", metadata: [
                    "delivery": "\(delivery.id)", "target": "\(delivery.target.shown.url)", "attempt": "\(attempts)", "error": "\(error)",
                    "next": "\(retryAt.map { $0.formatted(.iso8601) } ?? "none: given up")",
                ])
        } else {
            metrics.alertDelivered(after: now.timeIntervalSince(message.at))
        }
    }

    private func delivery(of message: AlertMessage, rule: StoredAlertRule, target index: Int, runID: FlowRunID?, at: Date) throws -> NewAlertDelivery {
        let digest = SHA256.hash(data: Data("\(message.event)|\(rule.id)|\(index)".utf8))
        let id = "dlv-" + String(Hex.lowercase(Data(digest)).prefix(32))
        var message = message
        message.id = id
        return NewAlertDelivery(
            id: id, ruleID: rule.id, ruleName: rule.name, event: message.event, runID: runID, target: rule.targets[index],
            payload: String(decoding: try APICoding.encode(message), as: UTF8.self), createdAt: at)
    }

    /// `failed-crashed-sort-compress`, `late-all-flows`: a valid name (at most 128 characters) from what the rule says.
    static func defaultAlertRuleName(triggers: [AlertTrigger], flows: [String]) -> String {
        let words = triggers.map { $0.rawValue.lowercased() } + (flows.isEmpty ? ["all-flows"] : flows)
        var name = String(words.joined(separator: "-").prefix(128))
        while name.hasSuffix(".") || name.hasSuffix("-") { name.removeLast() }
        return name
    }

    static func joined(_ base: String, _ path: String) -> String {
        (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/" + path
    }
}
