import FathomAPI
import FathomCore
import Foundation
import Hummingbird

/// `/api/v1/schedules` and `/api/v1/concurrency-limits`.
struct ScheduleRoutes {
    let coordinator: Coordinator

    func add(to group: RouterGroup<BasicRequestContext>) {
        group.post("schedules") { request, _ in
            let body = try await HTTPJSON.decode(CreateScheduleRequest.self, from: request)
            return try HTTPJSON.response(try await coordinator.createSchedule(body), status: .created)
        }
        group.get("schedules") { request, _ in
            try HTTPJSON.response(ScheduleList(schedules: try await coordinator.schedules(flowName: request.uri.queryParameters.get("flow"))))
        }
        group.get("schedules/:key") { _, context in
            try HTTPJSON.response(try await coordinator.schedule(try context.parameters.require("key")))
        }
        group.patch("schedules/:key") { request, context in
            let body = try await HTTPJSON.decode(UpdateScheduleRequest.self, from: request)
            return try HTTPJSON.response(try await coordinator.setSchedulePaused(try context.parameters.require("key"), paused: body.paused))
        }
        group.delete("schedules/:key") { _, context in
            try HTTPJSON.response(try await coordinator.deleteSchedule(try context.parameters.require("key")))
        }
        group.get("concurrency-limits") { _, _ in
            try HTTPJSON.response(ConcurrencyLimitList(limits: try await coordinator.concurrencyLimits()))
        }
        group.put("concurrency-limits/:scope/:name") { request, context in
            let body = try await HTTPJSON.decode(SetConcurrencyLimitRequest.self, from: request)
            return try HTTPJSON.response(try await coordinator.setConcurrencyLimit(
                scope: try context.parameters.require("scope"), name: try context.parameters.require("name"), limit: body.limit))
        }
        group.delete("concurrency-limits/:scope/:name") { _, context in
            try HTTPJSON.response(try await coordinator.deleteConcurrencyLimit(
                scope: try context.parameters.require("scope"), name: try context.parameters.require("name")))
        }
    }
}
