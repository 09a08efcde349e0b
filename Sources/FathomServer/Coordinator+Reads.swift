import FathomAPI
import FathomCore
import Foundation

/// What the API and the web UI show, read through the same door as every write: a missing thing is a
/// ``CoordinatorError`` with its fix, the same for both.
extension Coordinator {
    /// Runs matching `filter`, newest first, with the total.
    public func runs(_ filter: RunFilter) async throws -> FlowRunList {
        try await store.runs(filter)
    }

    /// The flow version a run was made from.
    public func version(ofRun id: FlowRunID) async throws -> FlowVersion {
        let run = try await run(id)
        guard let version = try await store.version(id: run.versionID) else {
            throw CoordinatorError.notFound("flow version", run.versionID, fix: "Register the flow again.")
        }
        return version
    }

    /// Version `number` of a flow, or its latest when nil.
    public func version(flowName: String, number: Int?) async throws -> FlowVersion {
        guard let version = try await store.version(flowName: flowName, number: number) else {
            throw CoordinatorError.notFound(
                "flow version", number.map { "\(flowName) v\($0)" } ?? flowName, fix: "List its versions with 'fathom flows'.")
        }
        return version
    }

    /// A run's task runs, in start order.
    public func taskRuns(ofRun id: FlowRunID) async throws -> [TaskRunUpdate] {
        _ = try await run(id)
        return try await store.taskRuns(runID: id)
    }

    /// Up to `limit` of a run's log lines after `after`, without waiting (pages of a whole log).
    public func logLines(ofRun id: FlowRunID, after: Int64, limit: Int) async throws -> [LogLine] {
        try await store.logs(runID: id, after: after, limit: limit)
    }

    /// A run's last `limit` log lines, oldest first.
    public func logTail(ofRun id: FlowRunID, limit: Int) async throws -> [LogLine] {
        try await store.logTail(runID: id, limit: limit)
    }

    /// Every registered flow with its latest version.
    public func flows() async throws -> [FlowSummary] {
        var summaries: [FlowSummary] = []
        for name in try await store.flowNames() {
            if let summary = try await summary(ofFlow: name) { summaries.append(summary) }
        }
        return summaries
    }

    /// One flow with its latest version.
    public func flow(named name: String) async throws -> FlowSummary {
        guard let summary = try await summary(ofFlow: name) else {
            throw CoordinatorError.notFound("flow", name, fix: "Register it with 'fathom register BUNDLE'.")
        }
        return summary
    }

    /// A flow's versions, schedules and last run that is not an upcoming slot; nil for an unknown flow.
    private func summary(ofFlow name: String) async throws -> FlowSummary? {
        let versions = try await store.versions(flowName: name)
        guard let latest = versions.first else { return nil }
        let lastRun = try await store.runs(RunFilter(flowName: name, dueBy: .distantPast, limit: 1)).runs.first
        return FlowSummary(
            name: name, latest: latest, versionCount: versions.count, lastRun: lastRun, versions: versions.map(\.version),
            schedules: try await store.schedules(flowName: name))
    }

    /// Every agent that ever registered, with when it was last seen.
    public func agents() async throws -> [AgentInfo] {
        try await store.agents()
    }

    /// The flow and queue concurrency limits.
    public func concurrencyLimits() async throws -> [ConcurrencyLimit] {
        try await store.concurrencyLimits()
    }

    /// How many runs are in each state (for `/metrics`).
    public func stateCounts() async throws -> [FlowRunState: Int] {
        try await store.stateCounts()
    }
}

extension Coordinator {
    /// Whether the database and the bundle storage take writes, and the server is not stopping.
    public func readiness() async -> [String: String] {
        var checks: [String: String] = [:]
        do {
            try await store.checkWritable()
            checks["database"] = "ok"
        } catch {
            checks["database"] = "cannot write: \(error)"
        }
        do {
            try await storage.checkWritable()
            checks["storage"] = "ok"
        } catch {
            checks["storage"] = "cannot write: \(error)"
        }
        checks["accepting"] = notifier.isClosed ? "the server is stopping" : "ok"
        return checks
    }
}
