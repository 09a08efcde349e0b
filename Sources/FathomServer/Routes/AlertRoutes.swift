import FathomAPI
import FathomCore
import Foundation
import Hummingbird

/// `/api/v1/alert-rules` and `/api/v1/alert-deliveries`.
struct AlertRoutes {
    let coordinator: Coordinator

    func add(to group: RouterGroup<BasicRequestContext>) {
        group.post("alert-rules") { request, _ in
            let body = try await HTTPJSON.decode(CreateAlertRuleRequest.self, from: request)
            return try HTTPJSON.response(try await coordinator.createAlertRule(body), status: .created)
        }
        group.get("alert-rules") { _, _ in
            try HTTPJSON.response(AlertRuleList(rules: try await coordinator.alertRules()))
        }
        group.get("alert-rules/:key") { _, context in
            try HTTPJSON.response(try await coordinator.alertRule(try context.parameters.require("key")))
        }
        group.delete("alert-rules/:key") { _, context in
            try HTTPJSON.response(try await coordinator.deleteAlertRule(try context.parameters.require("key")))
        }
        group.post("alert-rules/:key/test") { _, context in
            try HTTPJSON.response(
                AlertDeliveryList(deliveries: try await coordinator.testAlertRule(try context.parameters.require("key"))), status: .accepted)
        }
        group.get("alert-deliveries") { request, _ in
            try HTTPJSON.response(AlertDeliveryList(deliveries: try await coordinator.alertDeliveries(
                rule: request.uri.queryParameters.get("rule"), limit: try request.query("limit", default: 100, in: 1...1000))))
        }
    }
}
