import FathomAPI
import FathomCore
import Foundation

extension APIClient {
    // MARK: Schedules

    /// Creates a schedule; its runs for the next hour are made at once.
    public func createSchedule(_ body: CreateScheduleRequest) async throws -> Schedule {
        try await send(.POST, "/api/v1/schedules", body: body)
    }

    /// Schedules of one flow or all, with their next slots.
    public func listSchedules(flow: String? = nil) async throws -> [Schedule] {
        let query = flow.map { "?flow=\(escape($0))" } ?? ""
        let list: ScheduleList = try await send(.GET, "/api/v1/schedules\(query)")
        return list.schedules
    }

    /// By id or name.
    public func schedule(_ key: String) async throws -> Schedule {
        try await send(.GET, "/api/v1/schedules/\(escape(key))")
    }

    /// Pauses (upcoming runs are removed) or resumes (they are made again from now) a schedule, by id or name.
    public func setSchedulePaused(_ key: String, paused: Bool) async throws -> Schedule {
        try await send(.PATCH, "/api/v1/schedules/\(escape(key))", body: UpdateScheduleRequest(paused: paused))
    }

    /// Removes a schedule, by id or name, with its upcoming runs.
    public func deleteSchedule(_ key: String) async throws -> Schedule {
        try await send(.DELETE, "/api/v1/schedules/\(escape(key))")
    }

    // MARK: Concurrency limits

    /// Every concurrency limit with the runs it counts as active now.
    public func listConcurrencyLimits() async throws -> [ConcurrencyLimit] {
        let list: ConcurrencyLimitList = try await send(.GET, "/api/v1/concurrency-limits")
        return list.limits
    }

    /// Sets the most active runs of a flow (`scope` "flow") or a queue ("queue").
    public func setConcurrencyLimit(scope: String, name: String, limit: Int) async throws -> ConcurrencyLimit {
        try await send(.PUT, "/api/v1/concurrency-limits/\(escape(scope))/\(escape(name))", body: SetConcurrencyLimitRequest(limit: limit))
    }

    /// Removes a limit; the answer is the limits left.
    public func deleteConcurrencyLimit(scope: String, name: String) async throws -> [ConcurrencyLimit] {
        let list: ConcurrencyLimitList = try await send(.DELETE, "/api/v1/concurrency-limits/\(escape(scope))/\(escape(name))")
        return list.limits
    }
}
