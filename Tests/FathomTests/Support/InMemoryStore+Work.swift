import FathomAPI
import FathomCore
import FathomServer
import Foundation

extension InMemoryStore {
    // MARK: Sweeps

    func insertScheduledRuns(_ runs: [NewFlowRun]) async throws -> [FlowRun] {
        runs.compactMap { new in insertRunRecord(new) == nil ? runsByID[new.id]?.run : nil }
    }

    func deleteUpcomingScheduledRuns(scheduleID: String?, flowName: String?, after: Date) async throws -> Int {
        let doomed = runsByID.values.filter { record in
            let run = record.run
            guard run.state == .scheduled, let slot = run.scheduledFor, slot > after, let schedule = run.scheduleID else { return false }
            if let scheduleID, schedule != scheduleID { return false }
            if let flowName, run.flowName != flowName { return false }
            return true
        }.map(\.run.id)
        doomed.forEach(delete)
        return doomed.count
    }

    func flagLateRuns(dueBefore before: Date, message: @escaping @Sendable (FlowRun, String) -> String) async throws -> [FlowRun] {
        records.filter { $0.run.state == .scheduled && !$0.run.late && ($0.run.scheduledFor ?? $0.run.createdAt) < before }.map { record in
            var run = record.run
            run.late = true
            run.stateMessage = message(run, versionsByID[run.versionID]?.runConfig.launcher.rawValue ?? LauncherKind.local.rawValue)
            runsByID[run.id]?.run = run
            recordAlertEvent(.late(runID: run.id, at: before))
            return run
        }
    }

    func queuesWithRunsDue(after: Date, through: Date) async throws -> Set<String> {
        Set(runsByID.values.filter { record in
            guard record.run.state == .scheduled, let slot = record.run.scheduledFor else { return false }
            return slot > after && slot <= through
        }.map(\.run.queue))
    }

    func runsWithHeartbeat(olderThan before: Date, in states: [FlowRunState]) async throws -> [FlowRun] {
        try answer()
        return records.map(\.run).filter { states.contains($0.state) && ($0.heartbeatAt ?? $0.startedAt ?? $0.updatedAt) < before }
    }

    func runsWithExpiredLease(now: Date) async throws -> [FlowRun] {
        try answer()
        return records.filter { record in
            guard record.run.state == .pending, let lease = record.leaseExpiresAt else { return false }
            return lease < now
        }.map(\.run)
    }

    func extendLeases(until: Date) async throws -> Int {
        try answer()
        var moved = 0
        for (id, record) in runsByID where record.run.state == .pending {
            guard let lease = record.leaseExpiresAt, lease < until else { continue }
            runsByID[id]?.leaseExpiresAt = until
            moved += 1
        }
        return moved
    }

    func runsMissingRetry(endedAfter: Date) async throws -> [FlowRun] {
        records.map(\.run).filter { run in
            guard run.state == .failed || run.state == .crashed, let ended = run.endedAt, ended > endedAfter,
                let policy = versionsByID[run.versionID]?.retryPolicy, run.attempt <= policy.retries
            else { return false }
            let first = run.retryOf ?? run.id
            return !runsByID.values.contains { $0.run.retryOf == first && $0.run.attempt > run.attempt }
        }
    }

    // MARK: Logs and task runs

    func appendLogs(
        runID: FlowRunID, _ logs: [LogEntry], infrastructure: [String: String], afterEnd: LinesAfterEnd, batchID: String?
    ) async throws -> LogAccepted {
        guard var record = runsByID[runID] else { throw StoreError.runNotFound(runID) }
        if let batchID, let first = logBatchesByRun[runID]?[batchID] {
            return LogAccepted(accepted: first.accepted, lastSeq: first.lastSeq, repeated: true)
        }
        var lateAfter: Date?
        if record.run.state.isFinal {
            switch afterEnd {
            case .keep: break
            case .markLate: lateAfter = record.run.endedAt ?? .distantPast
            case .refuse: throw StoreError.runFinal(runID, record.run.state)
            }
        }
        record.run.infrastructure.merge(infrastructure) { _, new in new }
        var lines = logsByRun[runID] ?? []
        for entry in logs {
            record.logSeq += 1
            lines.append(LogLine(
                seq: record.logSeq, timestamp: entry.timestamp, level: entry.level, message: entry.message,
                taskRunID: entry.taskRunID, source: entry.source, late: lateAfter.map { entry.timestamp > $0 } ?? false))
        }
        runsByID[runID] = record
        logsByRun[runID] = lines
        let accepted = LogAccepted(accepted: logs.count, lastSeq: record.logSeq)
        if let batchID { logBatchesByRun[runID, default: [:]][batchID] = accepted }
        return accepted
    }

    func logs(runID: FlowRunID, after: Int64, limit: Int) async throws -> [LogLine] {
        Array((logsByRun[runID] ?? []).filter { $0.seq > after }.prefix(max(limit, 0)))
    }

    func logTail(runID: FlowRunID, limit: Int) async throws -> [LogLine] {
        Array((logsByRun[runID] ?? []).suffix(max(limit, 0)))
    }

    func upsertTaskRuns(runID: FlowRunID, _ updates: [TaskRunUpdate]) async throws {
        guard runsByID[runID] != nil else { throw StoreError.runNotFound(runID) }
        var taskRuns = taskRunsByRun[runID] ?? []
        for update in updates {
            switch taskRunOwner[update.id] {
            case nil:
                taskRunOwner[update.id] = runID
                taskRuns.append(update)
            case runID:
                guard let index = taskRuns.firstIndex(where: { $0.id == update.id }) else { continue }
                var merged = update
                merged.name = taskRuns[index].name
                merged.startedAt = update.startedAt ?? taskRuns[index].startedAt
                merged.cacheKey = update.cacheKey ?? taskRuns[index].cacheKey
                merged.cachedFrom = update.cachedFrom ?? taskRuns[index].cachedFrom
                merged.outputs = update.outputs ?? taskRuns[index].outputs
                taskRuns[index] = merged
            default:
                continue  // a task run never moves to another run
            }
        }
        taskRunsByRun[runID] = taskRuns
    }

    func taskRuns(runID: FlowRunID) async throws -> [TaskRunUpdate] { taskRunsByRun[runID] ?? [] }

    // MARK: Schedules

    func insertSchedule(_ schedule: Schedule) async throws {
        guard !schedulesByID.values.contains(where: { $0.id == schedule.id || $0.name == schedule.name }) else {
            throw StoreError.conflict("a schedule named '\(schedule.name)' already exists")
        }
        schedulesByID[schedule.id] = schedule
    }

    func schedules(flowName: String?) async throws -> [Schedule] {
        schedulesByID.values.filter { flowName == nil || $0.flowName == flowName }.sorted { $0.name < $1.name }
    }

    func schedule(_ key: String) async throws -> Schedule? {
        schedulesByID[key] ?? schedulesByID.values.first { $0.name == key }
    }

    func setSchedulePaused(id: String, paused: Bool, at: Date) async throws -> Schedule? {
        schedulesByID[id]?.paused = paused
        schedulesByID[id]?.updatedAt = at
        return schedulesByID[id]
    }

    func setScheduleError(id: String, error: String?) async throws { schedulesByID[id]?.lastError = error }

    func deleteSchedule(id: String) async throws { schedulesByID[id] = nil }

    // MARK: Agents, limits and claims

    func upsertAgent(_ registration: AgentRegistration, id: AgentID, at: Date) async throws -> AgentInfo {
        let info = AgentInfo(
            id: id, name: registration.name, queue: registration.queue, labels: registration.labels,
            launcher: registration.launcher, lastSeenAt: at, runsInFlight: 0, instance: registration.instance, host: registration.host)
        agentsByID[id] = AgentRecord(info: info, createdAt: agentsByID[id]?.createdAt ?? at)
        return agentInfo(id)!
    }

    /// The agent with its runs in flight counted now.
    func agentInfo(_ id: AgentID) -> AgentInfo? {
        guard var info = agentsByID[id]?.info else { return nil }
        info.runsInFlight = activeCount { $0.agentID == id }
        return info
    }

    func activeCount(where matches: (FlowRun) -> Bool) -> Int {
        runsByID.values.count { FlowRunState.active.contains($0.run.state) && matches($0.run) }
    }

    func agentStopped(id: AgentID, instance: String) async throws -> Bool {
        guard agentsByID[id]?.info.instance == instance else { return false }
        agentsByID[id]?.info.instance = nil
        return true
    }

    func agent(id: AgentID) async throws -> AgentInfo? { agentInfo(id) }

    func agents() async throws -> [AgentInfo] {
        agentsByID.values.sorted { $0.info.lastSeenAt > $1.info.lastSeenAt }.compactMap { agentInfo($0.info.id) }
    }

    func setConcurrencyLimit(scope: String, name: String, limit: Int) async throws {
        limits[LimitKey(scope: scope, name: name)] = limit
    }

    func deleteConcurrencyLimit(scope: String, name: String) async throws -> Bool {
        limits.removeValue(forKey: LimitKey(scope: scope, name: name)) != nil
    }

    func concurrencyLimits() async throws -> [ConcurrencyLimit] {
        limits.keys.sorted().map { key in
            ConcurrencyLimit(
                scope: key.scope, name: key.name, limit: limits[key]!,
                active: activeCount { key.scope == "queue" ? $0.queue == key.name : $0.flowName == key.name })
        }
    }

    func claim(agent: AgentInfo, capacity: Int, leaseExpiresAt: Date, now: Date) async throws -> (runs: [ClaimedRun], cancel: [FlowRunID]) {
        agentsByID[agent.id]?.info.lastSeenAt = now
        for (id, record) in runsByID where record.run.agentID == agent.id && record.run.state == .pending {
            runsByID[id]?.leaseExpiresAt = leaseExpiresAt
        }
        let cancel = records.filter { $0.run.agentID == agent.id && $0.run.state == .cancelling }.map(\.run.id)
        guard capacity > 0 else { return ([], cancel) }
        var queueLeft = limits[LimitKey(scope: "queue", name: agent.queue)].map { $0 - activeCount { $0.queue == agent.queue } }
        var flowLeft: [String: Int] = [:]
        for (key, limit) in limits where key.scope == "flow" {
            flowLeft[key.name] = limit - activeCount { $0.flowName == key.name }
        }
        let candidates = records.filter { record in
            let run = record.run
            guard run.queue == agent.queue, run.state == .scheduled, (run.scheduledFor ?? now) <= now,
                (flowLeft[run.flowName] ?? 1) > 0, let version = versionsByID[run.versionID],
                version.runConfig.launcher == agent.launcher
            else { return false }
            return version.labels.allSatisfy { agent.labels[$0.key] == $0.value }
        }.sorted { a, b in
            let dueA = a.run.scheduledFor ?? a.run.createdAt, dueB = b.run.scheduledFor ?? b.run.createdAt
            return dueA != dueB ? dueA < dueB : a.order < b.order
        }.prefix(max(capacity * 4, 32))
        var claimed: [ClaimedRun] = []
        for record in candidates where claimed.count < capacity && (queueLeft ?? 1) > 0 {
            guard (flowLeft[record.run.flowName] ?? 1) > 0, let version = versionsByID[record.run.versionID] else { continue }
            let write = StateWrite(
                runID: record.run.id, from: .scheduled, to: .pending, message: "claimed by agent \(agent.name)", at: now,
                agentID: agent.id, leaseExpiresAt: leaseExpiresAt)
            guard let run = applyStateWrite(write) else { continue }
            queueLeft? -= 1
            flowLeft[run.flowName]? -= 1
            claimed.append(ClaimedRun(run: run, version: version, leaseExpiresAt: leaseExpiresAt))
        }
        return (claimed, cancel)
    }
}
