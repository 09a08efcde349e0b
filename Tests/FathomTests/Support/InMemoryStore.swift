import FathomAPI
import FathomCore
import FathomServer
import Foundation

/// A ``Store`` held in an actor's memory: the second implementation the conformance tests run against.
///
/// It exists to prove the protocol says everything a store must do, so that PostgreSQL can be written against
/// `StoreConformanceTests` rather than against SQLite's behaviour. Each method runs alone on the actor, which is
/// what makes it one transaction; a method that refuses changes nothing.
actor InMemoryStore: Store {
    /// A run and what the store keeps beside it that ``FlowRun`` does not carry.
    struct RunRecord {
        var run: FlowRun
        var history: [StateChange]
        /// Insertion order: SQLite's rowid, the tie-break of every ordering.
        var order: Int
        var idempotencyKey: String?
        var leaseExpiresAt: Date?
        var revivable = false
        var logSeq: Int64 = 0
    }

    struct AgentRecord {
        var info: AgentInfo
        var createdAt: Date
    }

    var flowNamesSeen: Set<String> = []
    var versionsByID: [String: FlowVersion] = [:]
    var runsByID: [FlowRunID: RunRecord] = [:]
    var nextOrder = 0
    var logsByRun: [FlowRunID: [LogLine]] = [:]
    /// Per run, the batch ids it accepted and their answers.
    var logBatchesByRun: [FlowRunID: [String: LogAccepted]] = [:]
    var taskRunsByRun: [FlowRunID: [TaskRunUpdate]] = [:]
    var taskRunOwner: [TaskRunID: FlowRunID] = [:]
    var schedulesByID: [String: Schedule] = [:]
    var limits: [LimitKey: Int] = [:]
    var agentsByID: [AgentID: AgentRecord] = [:]
    var alertRulesByID: [String: StoredAlertRule] = [:]
    var alertEventsByKey: [String: AlertEvent] = [:]
    var alertDeliveriesByID: [String: AlertDeliveryRecord] = [:]

    /// A delivery and how far it got.
    struct AlertDeliveryRecord {
        var delivery: NewAlertDelivery
        var status = AlertDeliveryStatus.pending
        var attempts = 0
        var nextAttemptAt: Date
        var lastStatus: Int?
        var lastError: String?
        var deliveredAt: Date?
    }

    struct LimitKey: Hashable, Comparable {
        var scope: String
        var name: String
        static func < (a: LimitKey, b: LimitKey) -> Bool { (a.scope, a.name) < (b.scope, b.name) }
    }

    /// The fault layer for a store that does not answer (its disk gone, its server down), which a test cannot
    /// make happen to a real file: while set, the reaper's and the heartbeat's calls throw.
    private(set) var failing = false

    func setFailing(_ failing: Bool) { self.failing = failing }

    /// Throws while ``failing``.
    func answer() throws {
        if failing { throw StoreError.conflict("the store does not answer (test fault)") }
    }

    func checkWritable() async throws { try answer() }

    // MARK: Flows

    func insertVersions(_ versions: [FlowVersion]) async throws -> [FlowVersion] {
        var stored: [FlowVersion] = []
        for var version in versions {
            flowNamesSeen.insert(version.flowName)
            version.version = (versionsByID.values.filter { $0.flowName == version.flowName }.map(\.version).max() ?? 0) + 1
            guard versionsByID[version.id] == nil else { throw StoreError.conflict("flow version \(version.id) exists") }
            versionsByID[version.id] = version
            stored.append(version)
        }
        return stored
    }

    func flowNames() async throws -> [String] { flowNamesSeen.sorted() }

    func versions(flowName: String) async throws -> [FlowVersion] {
        versionsByID.values.filter { $0.flowName == flowName }.sorted { $0.version > $1.version }
    }

    func version(flowName: String, number: Int?) async throws -> FlowVersion? {
        let versions = try await versions(flowName: flowName)
        guard let number else { return versions.first }
        return versions.first { $0.version == number }
    }

    func version(id: String) async throws -> FlowVersion? { versionsByID[id] }

    // MARK: Runs

    func insertRun(_ new: NewFlowRun) async throws -> FlowRun {
        if let existing = insertRunRecord(new) { return existing }
        return withHistory(runsByID[new.id]!)
    }

    /// Inserts `new` unless a run holds its id, idempotency key, schedule slot or attempt; returns that run then.
    func insertRunRecord(_ new: NewFlowRun) -> FlowRun? {
        if let holder = runsByID.values.first(where: { holds($0, slotOf: new) }) { return withHistory(holder) }
        let run = FlowRun(
            id: new.id, flowName: new.version.flowName, flowVersion: new.version.version, versionID: new.version.id,
            parameters: new.parameters, state: .scheduled, stateMessage: new.message, queue: new.version.queue, agentID: nil,
            createdAt: new.createdAt, updatedAt: new.createdAt, startedAt: nil, endedAt: nil, heartbeatAt: nil,
            infrastructure: [:], history: nil, scheduleID: new.scheduleID, scheduledFor: new.scheduledFor, attempt: new.attempt,
            retryOf: new.retryOf, resumeOf: new.resumeOf, overrides: new.overrides, tags: new.tags)
        nextOrder += 1
        runsByID[new.id] = RunRecord(
            run: run, history: [StateChange(state: .scheduled, message: new.message, at: new.createdAt)], order: nextOrder,
            idempotencyKey: new.idempotencyKey)
        return nil
    }

    private func holds(_ record: RunRecord, slotOf new: NewFlowRun) -> Bool {
        let run = record.run
        if run.id == new.id { return true }
        if let key = new.idempotencyKey, record.idempotencyKey == key { return true }
        if let schedule = new.scheduleID, let slot = new.scheduledFor, run.scheduleID == schedule, run.scheduledFor == slot { return true }
        if let first = new.retryOf, run.retryOf == first, run.attempt == new.attempt { return true }
        return false
    }

    func withHistory(_ record: RunRecord) -> FlowRun {
        var run = record.run
        run.history = record.history
        return run
    }

    func run(id: FlowRunID, includeHistory: Bool) async throws -> FlowRun? {
        guard let record = runsByID[id] else { return nil }
        return includeHistory ? withHistory(record) : record.run
    }

    /// Records in insertion order.
    var records: [RunRecord] { runsByID.values.sorted { $0.order < $1.order } }

    func runs(_ filter: RunFilter) async throws -> FlowRunList {
        let matching = records.reversed().filter { record in
            let run = record.run
            if let flow = filter.flowName, run.flowName != flow { return false }
            if let state = filter.state, run.state != state { return false }
            if let agent = filter.agentID, run.agentID != agent { return false }
            if filter.activeOnly, !FlowRunState.active.contains(run.state) { return false }
            if let schedule = filter.scheduleID, run.scheduleID != schedule { return false }
            if let first = filter.attemptsOf, run.id != first, run.retryOf != first { return false }
            if let after = filter.createdAfter, run.createdAt < after { return false }
            if let before = filter.createdBefore, run.createdAt >= before { return false }
            if let dueBy = filter.dueBy, run.state == .scheduled, let slot = run.scheduledFor, slot > dueBy { return false }
            return true
        }.sorted { $0.run.createdAt != $1.run.createdAt ? $0.run.createdAt > $1.run.createdAt : $0.order > $1.order }
        let page = matching.dropFirst(max(filter.offset, 0)).prefix(max(filter.limit, 0))
        return FlowRunList(runs: page.map(\.run), total: matching.count)
    }

    func stateCounts() async throws -> [FlowRunState: Int] {
        Dictionary(grouping: runsByID.values, by: \.run.state).mapValues(\.count)
    }

    func runDigests(flowName: String?, since: Date, limit: Int) async throws -> [RunDigest] {
        try answer()
        return runsByID.values.filter { $0.run.createdAt >= since && (flowName == nil || $0.run.flowName == flowName) }
            .sorted { ($0.run.createdAt, $0.order) > ($1.run.createdAt, $1.order) }.prefix(limit).map { RunDigest($0.run) }
    }

    func compareAndSetState(_ write: StateWrite) async throws -> FlowRun? {
        try answer()
        return applyStateWrite(write)
    }

    func applyStateWrite(_ write: StateWrite) -> FlowRun? {
        guard var record = runsByID[write.runID], record.run.state == write.from else { return nil }
        record.run.state = write.to
        record.run.stateMessage = write.message
        record.run.updatedAt = write.at
        record.revivable = write.revivable
        if write.to == .running {
            record.run.startedAt = record.run.startedAt ?? write.at
            record.run.heartbeatAt = write.at
        }
        if write.to.isFinal {
            record.run.endedAt = write.at
            record.run.endCause = write.cause
        }
        if write.to == .pending {
            record.run.agentID = write.agentID
            record.leaseExpiresAt = write.leaseExpiresAt
        }
        if write.to == .scheduled {
            record.run.agentID = nil
            record.leaseExpiresAt = nil
        }
        record.history.append(StateChange(state: write.to, message: write.message, at: write.at))
        runsByID[write.runID] = record
        if let event = AlertEvent.of(write) { recordAlertEvent(event) }
        return withHistory(record)
    }

    func revive(runID: FlowRunID, message: String, at: Date) async throws -> (run: FlowRun, withdrawn: [FlowRunID])? {
        guard var record = runsByID[runID], record.run.state == .crashed, record.revivable else { return nil }
        let first = record.run.retryOf ?? record.run.id
        let later = runsByID.values.filter { $0.run.retryOf == first && $0.run.attempt > record.run.attempt }
        guard later.allSatisfy({ $0.run.state == .scheduled }) else { return nil }
        let withdrawn = later.map(\.run.id)
        withdrawn.forEach(delete)
        record.run.state = .running
        record.run.stateMessage = message
        record.run.endedAt = nil
        record.run.endCause = nil
        record.run.heartbeatAt = at
        record.run.updatedAt = at
        record.revivable = false
        record.history.append(StateChange(state: .running, message: message, at: at))
        runsByID[runID] = record
        return (withHistory(record), withdrawn)
    }

    /// Removes a run with everything it produced.
    func delete(_ id: FlowRunID) {
        runsByID[id] = nil
        logsByRun[id] = nil
        logBatchesByRun[id] = nil
        for update in taskRunsByRun.removeValue(forKey: id) ?? [] { taskRunOwner[update.id] = nil }
    }

    func recordHeartbeat(runID: FlowRunID, at: Date) async throws -> FlowRunState? {
        try answer()
        runsByID[runID]?.run.heartbeatAt = at
        return runsByID[runID]?.run.state
    }

    func mergeInfrastructure(runID: FlowRunID, facts: [String: String], at: Date) async throws -> FlowRun? {
        guard runsByID[runID] != nil else { return nil }
        runsByID[runID]!.run.infrastructure.merge(facts) { _, new in new }
        runsByID[runID]!.run.updatedAt = at
        return runsByID[runID]!.run
    }
}
