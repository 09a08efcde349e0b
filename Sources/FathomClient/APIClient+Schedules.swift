import FathomAPI
import FathomCore
import Foundation

extension APIClient {
    // MARK: Schedules

    public func createSchedule(_ body: CreateScheduleRequest) async throws -> Schedule {
        try await send(.POST, "/api/v1/schedules", body: body)
    }

    public func listSchedules(flow: String? = nil) async throws -> [Schedule] {
        let query = flow.map { "?flow=\(escape($0))" } ?? ""
        let list: ScheduleList = try await send(.GET, "/api/v1/schedules\(query)")
        return list.schedules
    }

    /// By id or name.
    public func schedule(_ key: String) async throws -> Schedule {
        try await send(.GET, "/api/v1/schedules/\(escape(key))")
    }

    public func setSchedulePaused(_ key: String, paused: Bool) async throws -> Schedule {
        try await send(.PATCH, "/api/v1/schedules/\(escape(key))", body: UpdateScheduleRequest(paused: paused))
    }

    public func deleteSchedule(_ key: String) async throws -> Schedule {
        try await send(.DELETE, "/api/v1/schedules/\(escape(key))")
    }

    // MARK: Concurrency limits

    public func listConcurrencyLimits() async throws -> [ConcurrencyLimit] {
        let list: ConcurrencyLimitList = try await send(.GET, "/api/v1/concurrency-limits")
        return list.limits
    }

    public func setConcurrencyLimit(scope: String, name: String, limit: Int) async throws -> ConcurrencyLimit {
        try await send(.PUT, "/api/v1/concurrency-limits/\(escape(scope))/\(escape(name))", body: SetConcurrencyLimitRequest(limit: limit))
    }

    public func deleteConcurrencyLimit(scope: String, name: String) async throws -> [ConcurrencyLimit] {
        let list: ConcurrencyLimitList = try await send(.DELETE, "/api/v1/concurrency-limits/\(escape(scope))/\(escape(name))")
        return list.limits
    }
}
