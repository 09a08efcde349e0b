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
            var response: Response
            do {
                response = try await claim(request, agentID: try context.parameters.require("id"))
            } catch let error as any ErrorAnswer {
                response = try error.response(from: request, context: context)
            } catch is CancellationError {
                // The agent went away while its claim waited: nobody reads this.
                response = Response(status: .noContent)
            }
            // The server closes the connection after a claim, refusals included (the watch on it has read its end):
            // said, so that the agent's client does not send its next request on it.
            response.headers[.connection] = "close"
            return response
        }
        group.post("agents/:id/stop") { request, context in
            let body = try await HTTPJSON.decode(AgentStop.self, from: request)
            return try HTTPJSON.response(try await coordinator.agentStopped(try context.parameters.require("id"), instance: body.instance))
        }
    }

    /// A claim waits up to its waitSeconds for runs. An agent that goes away meanwhile (killed, its task replaced)
    /// closes its connection: the wait ends there, so no run is handed to an agent that cannot start it (it would
    /// sit Pending until its lease ran out, then be Crashed).
    private func claim(_ request: Request, agentID: AgentID) async throws -> Response {
        let answer = try await request.body.consumeWithCancellationOnInboundClose { body in
            var request = request
            request.body = body
            return try await coordinator.claim(agentID: agentID, try await HTTPJSON.decode(ClaimRequest.self, from: request))
        }
        return try HTTPJSON.response(answer)
    }
}
