import FathomAPI
import FathomCore
import Foundation
import Hummingbird

/// `/api/v1/flow-runs`.
struct RunRoutes {
    let coordinator: Coordinator

    func add(to group: RouterGroup<BasicRequestContext>) {
        group.post("flow-runs") { request, _ in
            let body = try await HTTPJSON.decode(CreateFlowRunRequest.self, from: request)
            return try HTTPJSON.response(try await coordinator.createRun(body), status: .created)
        }
        group.get("flow-runs") { request, _ in
            let state = try request.uri.queryParameters.get("state").map { name in
                guard let state = FlowRunState(name: name) else {
                    throw APIError(
                        .badRequest, code: "invalid_query", message: "unknown state '\(name)'", field: "state",
                        fix: "Use one of: \(FlowRunState.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
                return state
            }
            let filter = RunFilter(
                flowName: request.uri.queryParameters.get("flow"), state: state,
                agentID: request.uri.queryParameters.get("agent"), activeOnly: try request.query("active", as: Bool.self) ?? false,
                limit: try request.query("limit", default: 50, in: 1...1000),
                offset: try request.query("offset", default: 0, in: 0...Int(Int32.max)))
            return try HTTPJSON.response(try await coordinator.runs(filter))
        }
        group.get("workspaces/in-use") { request, _ in
            let seconds = try request.query("resumableSeconds", default: 7 * 86_400, in: 0...(3650 * 86_400))
            return try HTTPJSON.response(try await coordinator.workspacesInUse(resumableFor: seconds))
        }
        group.get("flow-runs/:id") { _, context in
            try HTTPJSON.response(try await coordinator.run(try context.parameters.require("id")))
        }
        group.get("flow-runs/:id/version") { _, context in
            try HTTPJSON.response(try await coordinator.version(ofRun: try context.parameters.require("id")))
        }
        group.post("flow-runs/:id/state") { request, context in
            let body = try await HTTPJSON.decode(SetStateRequest.self, from: request)
            return try HTTPJSON.response(try await coordinator.setState(try context.parameters.require("id"), body))
        }
        group.post("flow-runs/:id/cancel") { _, context in
            try HTTPJSON.response(try await coordinator.cancel(try context.parameters.require("id")))
        }
        group.post("flow-runs/:id/retry") { request, context in
            let body = try await HTTPJSON.decodeIfPresent(RetryRunRequest.self, from: request)
            return try HTTPJSON.response(
                try await coordinator.retryRun(try context.parameters.require("id"), resume: body?.resume ?? false), status: .created)
        }
        group.post("flow-runs/:id/heartbeat") { _, context in
            try HTTPJSON.response(HeartbeatResponse(state: try await coordinator.heartbeat(try context.parameters.require("id"))))
        }
        group.post("flow-runs/:id/infrastructure") { request, context in
            let body = try await HTTPJSON.decode(InfrastructureUpdate.self, from: request)
            return try HTTPJSON.response(
                try await coordinator.setInfrastructure(try context.parameters.require("id"), body.infrastructure))
        }
        group.post("flow-runs/:id/logs") { request, context in
            let body = try await HTTPJSON.decode(LogBatch.self, from: request)
            return try HTTPJSON.response(
                try await coordinator.appendLogs(
                    try context.parameters.require("id"), body.logs, infrastructure: body.infrastructure ?? [:], processOutput: body.processOutput ?? false,
                    batchID: body.batchID),
                status: .created)
        }
        group.get("flow-runs/:id/logs") { request, context in
            let page = try await coordinator.logs(
                try context.parameters.require("id"), after: Int64(try request.query("after", default: 0, in: 0...Int.max)),
                limit: try request.query("limit", default: 1000, in: 1...10_000),
                wait: try request.query(seconds: "wait", in: 0...3600))
            return try HTTPJSON.response(page)
        }
        group.post("flow-runs/:id/task-runs") { request, context in
            let id = try context.parameters.require("id")
            let body = try await HTTPJSON.decode(TaskRunBatch.self, from: request)
            try await coordinator.upsertTaskRuns(id, body.taskRuns)
            return try HTTPJSON.response(TaskRunList(taskRuns: []), status: .created)
        }
        group.get("flow-runs/:id/task-runs") { _, context in
            try HTTPJSON.response(TaskRunList(taskRuns: try await coordinator.taskRuns(ofRun: try context.parameters.require("id"))))
        }
    }
}
