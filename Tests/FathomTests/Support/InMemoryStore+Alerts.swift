import FathomAPI
import FathomCore
import FathomServer
import Foundation

extension InMemoryStore {
    func recordAlertEvent(_ event: AlertEvent) {
        if alertEventsByKey[event.key] == nil { alertEventsByKey[event.key] = event }
    }

    func insertAlertRule(_ rule: StoredAlertRule) async throws {
        guard alertRulesByID[rule.id] == nil, !alertRulesByID.values.contains(where: { $0.name == rule.name }) else {
            throw StoreError.conflict("an alert rule named '\(rule.name)' already exists")
        }
        alertRulesByID[rule.id] = rule
    }

    func alertRules() async throws -> [StoredAlertRule] { alertRulesByID.values.sorted { $0.name < $1.name } }

    func alertRule(_ key: String) async throws -> StoredAlertRule? {
        alertRulesByID[key] ?? alertRulesByID.values.first { $0.name == key }
    }

    func setAlertRuleOffline(id: String, from: Date?, to: Date?, event: AlertEvent) async throws -> Bool {
        guard var rule = alertRulesByID[id], rule.offlineSince == from else { return false }
        rule.offlineSince = to
        alertRulesByID[id] = rule
        recordAlertEvent(event)
        return true
    }

    func deleteAlertRule(id: String) async throws -> Bool { alertRulesByID.removeValue(forKey: id) != nil }

    func alertEvents(limit: Int) async throws -> [AlertEvent] {
        Array(alertEventsByKey.values.sorted { ($0.at, $0.key) < ($1.at, $1.key) }.prefix(limit))
    }

    func insertAlertEvents(_ events: [AlertEvent]) async throws {
        for event in events { recordAlertEvent(event) }
    }

    func runs(in states: [FlowRunState], _ time: RunTime, after: Date, through: Date, limit: Int) async throws -> [FlowRun] {
        func at(_ run: FlowRun) -> Date? { time == .started ? run.startedAt : run.scheduledFor ?? run.createdAt }
        return Array(records.map(\.run).filter { run in
            guard states.contains(run.state), let at = at(run) else { return false }
            return at > after && at <= through
        }.sorted { at($0)! < at($1)! }.prefix(limit))
    }

    func settleAlertEvent(key: String?, deliveries: [NewAlertDelivery]) async throws {
        for delivery in deliveries where alertDeliveriesByID[delivery.id] == nil {
            alertDeliveriesByID[delivery.id] = AlertDeliveryRecord(delivery: delivery, nextAttemptAt: delivery.createdAt)
        }
        if let key { alertEventsByKey[key] = nil }
    }

    func claimDueAlertDeliveries(now: Date, leaseUntil: Date, limit: Int) async throws -> [DueAlertDelivery] {
        let due = alertDeliveriesByID.values.filter { $0.status == .pending && $0.nextAttemptAt <= now }
            .sorted { ($0.nextAttemptAt, $0.delivery.id) < ($1.nextAttemptAt, $1.delivery.id) }.prefix(limit)
        return due.map { entry in
            alertDeliveriesByID[entry.delivery.id]?.nextAttemptAt = leaseUntil
            return DueAlertDelivery(id: entry.delivery.id, target: entry.delivery.target, payload: entry.delivery.payload, attempts: entry.attempts)
        }
    }

    func recordAlertAttempt(_ attempt: AlertAttempt) async throws {
        guard var entry = alertDeliveriesByID[attempt.deliveryID], entry.status == .pending else { return }
        entry.status = attempt.outcome
        entry.attempts += 1
        entry.lastStatus = attempt.status
        entry.lastError = attempt.error
        if attempt.error == nil { entry.deliveredAt = attempt.at }
        if let retryAt = attempt.retryAt { entry.nextAttemptAt = retryAt }
        alertDeliveriesByID[attempt.deliveryID] = entry
    }

    func alertDeliveries(ruleID: String?, limit: Int) async throws -> [AlertDelivery] {
        let entries = alertDeliveriesByID.values.filter { ruleID == nil || $0.delivery.ruleID == ruleID }
            .sorted { ($0.delivery.createdAt, $1.delivery.id) > ($1.delivery.createdAt, $0.delivery.id) }.prefix(limit)
        return entries.map { entry in
            AlertDelivery(
                id: entry.delivery.id, ruleID: entry.delivery.ruleID, ruleName: entry.delivery.ruleName, event: entry.delivery.event,
                runID: entry.delivery.runID, target: entry.delivery.target.shown, status: entry.status, attempts: entry.attempts,
                lastStatus: entry.lastStatus, lastError: entry.lastError, createdAt: entry.delivery.createdAt, deliveredAt: entry.deliveredAt,
                nextAttemptAt: entry.status == .pending ? entry.nextAttemptAt : nil)
        }
    }
}
