import FathomAPI
import FathomCore
import Foundation
import Logging

extension Coordinator {
    // MARK: Managing schedules

    /// Creates a schedule after checking its flow, name, timing and parameters.
    public func createSchedule(_ request: CreateScheduleRequest) async throws -> Schedule {
        guard let version = try await store.version(flowName: request.flow, number: nil) else {
            throw CoordinatorError.notFound("flow", request.flow, fix: "Register it with 'fathom register BUNDLE', or list flows with 'fathom flows'.")
        }
        var problems: [ValidationError] = []
        let name = request.name ?? request.flow
        if !Names.isValid(name) {
            problems.append(ValidationError(
                code: "invalid_schedule_name", field: "name", problem: "'\(name)' is not a valid schedule name",
                fix: "Use letters, digits, '.', '_' and '-', starting with a letter or digit."))
        } else if try await store.schedule(name) != nil {
            problems.append(ValidationError(
                code: "schedule_exists", field: "name", problem: "a schedule named '\(name)' already exists",
                fix: "Pick another name with --name, or remove the old one with 'fathom schedule rm \(name)'."))
        }
        let now = clock()
        do {
            _ = try ScheduleTiming(
                cron: request.cron, timezone: request.timezone, intervalSeconds: request.intervalSeconds, anchor: request.anchor,
                now: now)
        } catch {
            problems.append(error)
        }
        do {
            _ = try ParameterValidator.resolve(request.parameters ?? [:], against: version.parameters, flowName: version.flowName)
        } catch {
            problems += error.errors
        }
        if !problems.isEmpty { throw CoordinatorError(validation: ValidationErrors(problems)) }
        let schedule = Schedule(
            id: Identifier.make(), name: name, flowName: request.flow, cron: request.cron,
            timezone: request.cron == nil ? nil : (request.timezone ?? "UTC"), intervalSeconds: request.intervalSeconds,
            anchor: request.intervalSeconds == nil ? nil : (request.anchor ?? now), parameters: request.parameters ?? [:],
            paused: request.paused ?? false, createdAt: now, updatedAt: now, lastError: nil)
        do {
            try await store.insertSchedule(schedule)
        } catch StoreError.conflict {
            // Another request took the name between the check above and this insert.
            throw CoordinatorError(
                .conflict, code: "schedule_exists", message: "a schedule named '\(name)' already exists", field: "name",
                fix: "Pick another name with --name, or remove the old one with 'fathom schedule rm \(name)'.")
        }
        try await scheduleRuns(now: now)
        return try await self.schedule(schedule.id)
    }

    /// One schedule, by id or name, with its next slots.
    public func schedule(_ key: String) async throws -> Schedule {
        guard let found = try await store.schedule(key) else {
            throw CoordinatorError.notFound("schedule", key, fix: "List schedules with 'fathom schedule list'.")
        }
        return withNextRuns(found)
    }

    /// Schedules sorted by name, of one flow or all, each with its next slots.
    public func schedules(flowName: String? = nil) async throws -> [Schedule] {
        try await store.schedules(flowName: flowName).map(withNextRuns)
    }

    func withNextRuns(_ schedule: Schedule) -> Schedule {
        var schedule = schedule
        guard !schedule.paused, let timing = try? schedule.timing() else { return schedule }  // a schedule that no longer parses shows no next runs; its lastError says why
        schedule.nextRuns = timing.slots(after: clock(), through: .distantFuture, limit: 3)
        return schedule
    }

    /// Pauses (removing its upcoming runs) or resumes (creating them again) a schedule.
    public func setSchedulePaused(_ key: String, paused: Bool) async throws -> Schedule {
        let found = try await schedule(key)
        let now = clock()
        guard let updated = try await store.setSchedulePaused(id: found.id, paused: paused, at: now) else {
            throw CoordinatorError.notFound("schedule", key, fix: "List schedules with 'fathom schedule list'.")
        }
        scheduledThrough.withLock { $0[found.id] = nil }
        if paused {
            _ = try await store.deleteUpcomingScheduledRuns(scheduleID: found.id, flowName: nil, after: now)
        } else {
            try await scheduleRuns(now: now)
        }
        logger.info("schedule \(paused ? "paused" : "resumed")", metadata: ["schedule": "\(updated.name)"])
        return withNextRuns(updated)
    }

    /// Removes a schedule and its upcoming runs; runs it already made stay.
    public func deleteSchedule(_ key: String) async throws -> Schedule {
        let found = try await schedule(key)
        try await store.deleteSchedule(id: found.id)
        _ = try await store.deleteUpcomingScheduledRuns(scheduleID: found.id, flowName: nil, after: clock())
        scheduledThrough.withLock { $0[found.id] = nil }
        return found
    }

    // MARK: Making scheduled runs

    /// Creates the runs of every active schedule's slots in the next `scheduleHorizon` (at least the next
    /// `minimumScheduledRuns`). Idempotent: a slot that has a run keeps it, whichever server made it.
    public func scheduleRuns(now: Date) async throws {
        for schedule in try await store.schedules(flowName: nil) where !schedule.paused {
            do {
                try await scheduleRuns(of: schedule, now: now)
                if schedule.lastError != nil { try await store.setScheduleError(id: schedule.id, error: nil) }
            } catch let error as ValidationErrors {
                let text = "cannot make runs: \(error.description)"
                if schedule.lastError != text {
                    logger.error("schedule cannot make runs", metadata: ["schedule": "\(schedule.name)", "reason": "\(error)"])
                    try await store.setScheduleError(id: schedule.id, error: text)
                }
            }
        }
    }

    private func scheduleRuns(of schedule: Schedule, now: Date) async throws {
        let timing: ScheduleTiming
        do { timing = try schedule.timing() } catch { throw ValidationErrors([error]) }
        let horizon = now.addingTimeInterval(settings.scheduleHorizon.inSeconds)
        var slots = timing.slots(after: now, through: horizon, limit: settings.maxScheduledRuns)
        if slots.count < settings.minimumScheduledRuns {
            slots = timing.slots(after: now, through: .distantFuture, limit: settings.minimumScheduledRuns)
        }
        let known = scheduledThrough.withLock { $0[schedule.id] }
        slots.removeAll { slot in known.map { slot <= $0 } ?? false }
        guard let last = slots.last else { return }
        guard let version = try await store.version(flowName: schedule.flowName, number: nil) else {
            throw ValidationErrors([ValidationError(
                code: "flow_missing", field: "flow", problem: "flow '\(schedule.flowName)' is not registered",
                fix: "Register it again, or remove the schedule.")])
        }
        let parameters = try ParameterValidator.resolve(schedule.parameters, against: version.parameters, flowName: version.flowName)
        let runs = slots.map { slot in
            NewFlowRun(
                id: Identifier.make(), version: version, parameters: parameters, idempotencyKey: nil, createdAt: now,
                scheduleID: schedule.id, scheduledFor: slot)
        }
        let inserted = try await store.insertScheduledRuns(runs)
        scheduledThrough.withLock { $0[schedule.id] = last }
        if !inserted.isEmpty {
            logger.debug("scheduled runs", metadata: ["schedule": "\(schedule.name)", "count": "\(inserted.count)"])
        }
    }

    /// When a flow gets a new version, its schedules' upcoming runs are made again with it.
    func refreshSchedules(ofFlow flowName: String) async throws {
        let now = clock()
        let removed = try await store.deleteUpcomingScheduledRuns(scheduleID: nil, flowName: flowName, after: now)
        guard removed > 0 else { return }
        let ids = try await store.schedules(flowName: flowName).map(\.id)
        scheduledThrough.withLock { known in for id in ids { known[id] = nil } }
        try await scheduleRuns(now: now)
    }

    /// Wakes agents for runs that fell due since the last look, and flags runs no agent took in time.
    func dueAndLateRuns(now: Date) async throws {
        let since = lastDueCheck.withLock { last in
            defer { last = now }
            return last ?? now.addingTimeInterval(-settings.scheduleHorizon.inSeconds)
        }
        for queue in try await store.queuesWithRunsDue(after: since, through: now) { notifier.signal(.queue(queue)) }
        let grace = settings.lateAfter.inSeconds
        let serving = Set(try await store.agents()
            .filter { now.timeIntervalSince($0.lastSeenAt) < settings.agentSilenceLimit.inSeconds }
            .map { AgentSlot(queue: $0.queue, launcher: $0.launcher) })
        let late = try await store.flagLateRuns(dueBefore: now.addingTimeInterval(-grace)) { run, launcher in
            let prefix = run.scheduledFor.map { "Late: due at \($0.formatted(.iso8601)) and still not claimed after \(Int(saturating: grace)) s" }
                ?? "Unclaimed: created at \(run.createdAt.formatted(.iso8601)) and not claimed after \(Int(saturating: grace)) s"
            guard let kind = LauncherKind(rawValue: launcher), serving.contains(AgentSlot(queue: run.queue, launcher: kind)) else {
                let others = serving.map { "\($0.launcher) on '\($0.queue)'" }.sorted()
                return "\(prefix): no live agent serves the '\(launcher)' launcher on queue '\(run.queue)'"
                    + (others.isEmpty ? " (no agent was seen lately)" : " (live agents: \(others.joined(separator: ", ")))")
                    + ". Start one: fathom agent --launcher \(launcher) --queue \(run.queue)"
            }
            return "\(prefix); an agent for the '\(launcher)' launcher polls queue '\(run.queue)': is a concurrency limit full, or are its slots busy?"
        }
        for run in late {
            logger.warning("flow run is late", metadata: ["run": "\(run.id)", "flow": "\(run.flowName)"])
            await note(LogEntry(timestamp: now, level: .warning, message: run.stateMessage, source: .coordinator), in: run.id)
            metrics.lateRuns.increment()
            notifier.signal(.run(run.id))
        }
        if !late.isEmpty { notifier.signal(.alerts) }
    }
}

/// Where an agent takes work from: a queue, with one launcher.
struct AgentSlot: Hashable, Sendable {
    var queue: String
    var launcher: LauncherKind
}
