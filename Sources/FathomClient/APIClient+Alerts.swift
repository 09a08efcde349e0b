import FathomAPI
import FathomCore
import Foundation

extension APIClient {
    /// Adds an alert rule; the signing secrets the coordinator made are in the answer, this once.
    public func createAlertRule(_ body: CreateAlertRuleRequest) async throws -> CreatedAlertRule {
        try await send(.POST, "/api/v1/alert-rules", body: body)
    }

    /// Every alert rule, by name (URLs masked, no secrets).
    public func listAlertRules() async throws -> [AlertRule] {
        let list: AlertRuleList = try await send(.GET, "/api/v1/alert-rules")
        return list.rules
    }

    /// Removes a rule, by id or name.
    public func deleteAlertRule(_ key: String) async throws -> AlertRule {
        try await send(.DELETE, "/api/v1/alert-rules/\(escape(key))")
    }

    /// Sends a sample alert to each of the rule's targets; answers the deliveries made (pending at first).
    public func testAlertRule(_ key: String) async throws -> [AlertDelivery] {
        let list: AlertDeliveryList = try await send(.POST, "/api/v1/alert-rules/\(escape(key))/test")
        return list.deliveries
    }

    /// The delivery log, newest first; of one rule (id or name) when given.
    public func alertDeliveries(rule: String? = nil, limit: Int = 100) async throws -> [AlertDelivery] {
        var query = "?limit=\(limit)"
        if let rule { query += "&rule=\(escape(rule))" }
        let list: AlertDeliveryList = try await send(.GET, "/api/v1/alert-deliveries\(query)")
        return list.deliveries
    }
}
