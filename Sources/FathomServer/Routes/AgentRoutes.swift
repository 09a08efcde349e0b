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
            let agentID = try context.parameters.require("id")
            // A claim waits up to its waitSeconds for runs. An agent that goes away meanwhile (killed, its task
            // replaced) closes its connection: the wait ends there, so no run is handed to an agent that cannot
            // start it (it would sit Pending until its lease ran out, then be Crashed).
            do {
                let answer = try await request.body.consumeWithCancellationOnInboundClose { body in
                    var request = request
                    request.body = body
                    return try await coordinator.claim(agentID: agentID, try await HTTPJSON.decode(ClaimRequest.self, from: request))
                }
                // The server closes the connection after this answer (the watch on it has read its end): said, so
                // that the agent's client does not send its next request on it.
                var response = try HTTPJSON.response(answer)
                response.headers[.connection] = "close"
                return response
            } catch is CancellationError {
                // Nobody is there to read an answer; the connection is closed.
                return Response(status: .noContent)
            }
        }
        group.post("agents/:id/stop") { request, context in
            let body = try await HTTPJSON.decode(AgentStop.self, from: request)
            return try HTTPJSON.response(try await coordinator.agentStopped(try context.parameters.require("id"), instance: body.instance))
        }
    }
}
