import FathomAPI
import FathomCore
import Foundation
import Hummingbird

/// `/api/v1/agents`.
struct AgentRoutes {
    let coordinator: Coordinator

    func add(to group: RouterGroup<BasicRequestContext>) {
        group.post("agents") { request, _ in
            let body = try await HTTPJSON.decode(AgentRegistration.self, from: request)
            return try HTTPJSON.response(try await coordinator.registerAgent(body), status: .created)
        }
        group.get("agents") { _, _ in
            try HTTPJSON.response(AgentList(agents: try await coordinator.agents()))
        }
        group.post("agents/:id/claim") { request, context in
            let body = try await HTTPJSON.decode(ClaimRequest.self, from: request)
            return try HTTPJSON.response(try await coordinator.claim(agentID: try context.parameters.require("id"), body))
        }
        group.post("agents/:id/stop") { request, context in
            let body = try await HTTPJSON.decode(AgentStop.self, from: request)
            return try HTTPJSON.response(try await coordinator.agentStopped(try context.parameters.require("id"), instance: body.instance))
        }
    }
}
