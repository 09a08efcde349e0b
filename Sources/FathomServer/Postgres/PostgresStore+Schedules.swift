import FathomAPI
import FathomCore
import Foundation
import PostgresNIO

extension PostgresStore: ScheduleStore {
    public func insertSchedule(_ schedule: Schedule) async throws {
        do {
            try await execute(
                """
                INSERT INTO schedules (id, name, flow_name, cron, timezone, interval_seconds, anchor, parameters, paused,
                    created_at, updated_at)
                VALUES (\(schedule.id), \(schedule.name), \(schedule.flowName), \(schedule.cron), \(schedule.timezone),
                    \(schedule.intervalSeconds), \(schedule.anchor?.timeIntervalSince1970), \(try StoreJSON.text(schedule.parameters)),
                    \(schedule.paused), \(schedule.createdAt.timeIntervalSince1970), \(schedule.updatedAt.timeIntervalSince1970))
                """)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {  // unique_violation
            throw StoreError.conflict("a schedule named '\(schedule.name)' already exists")
        }
    }

    public func schedules(flowName: String?) async throws -> [Schedule] {
        try await transaction { connection in
            if let flowName {
                return try await Self.rows(
                    connection, "SELECT * FROM schedules WHERE flow_name = \(flowName) ORDER BY name", logger: logger, StoreRows.schedule)
            }
            return try await Self.rows(connection, "SELECT * FROM schedules ORDER BY name", logger: logger, StoreRows.schedule)
        }
    }

    public func schedule(_ key: String) async throws -> Schedule? {
        try await transaction { connection in
            try await Self.row(
                connection, "SELECT * FROM schedules WHERE id = \(key) OR name = \(key) ORDER BY (id = \(key)) DESC LIMIT 1",
                logger: logger, StoreRows.schedule)
        }
    }

    public func setSchedulePaused(id: String, paused: Bool, at: Date) async throws -> Schedule? {
        try await transaction { connection in
            try await Self.row(
                connection,
                "UPDATE schedules SET paused = \(paused), updated_at = \(at.timeIntervalSince1970) WHERE id = \(id) RETURNING *",
                logger: logger, StoreRows.schedule)
        }
    }

    public func setScheduleError(id: String, error: String?) async throws {
        try await execute("UPDATE schedules SET last_error = \(error) WHERE id = \(id)")
    }

    public func deleteSchedule(id: String) async throws {
        try await execute("DELETE FROM schedules WHERE id = \(id)")
    }
}
