import FathomAPI
import FathomCore
import Foundation
import Logging

extension Coordinator {
    /// When a Failed or Crashed run's flow version has a retry policy with attempts left, creates the next
    /// attempt: same version and parameters, due after the policy's delay, linked to the first attempt.
    /// The store keeps one run per attempt, so a transition seen twice never makes two.
    func retryIfPolicyAllows(_ run: FlowRun) async throws {
        guard run.state == .failed || run.state == .crashed, let version = try await store.version(id: run.versionID),
              let policy = version.retryPolicy, run.attempt <= policy.retries
        else { return }
        let now = clock()
        let (plan, refusal) = RetryPlan.make(for: run, policy: policy, runConfig: version.runConfig)
        guard let plan else {
            _ = try await store.appendLogs(runID: run.id, [LogEntry(
                timestamp: now, level: .warning, message: "Not retried: \(refusal ?? "the policy's rules allow no retry")", source: .coordinator)])
            return
        }
        let due = now.addingTimeInterval(plan.delaySeconds)
        let first = run.retryOf ?? run.id
        let total = policy.retries + 1
        let next = try await store.insertRun(NewFlowRun(
            id: Identifier.make(), version: version, parameters: run.parameters, idempotencyKey: nil, createdAt: now,
            scheduledFor: plan.delaySeconds > 0 ? due : nil, attempt: run.attempt + 1, retryOf: first,
            resumeOf: policy.resume == true ? run.id : nil, overrides: plan.overrides,
            message: "retry \(run.attempt + 1) of \(total) chosen by \(plan.rule)", tags: run.tags))
        _ = try await store.appendLogs(runID: run.id, [LogEntry(
            timestamp: now, level: .warning,
            message: "Retrying: attempt \(next.attempt) of \(total) is run \(next.id), due \(due.formatted(.iso8601)); rule: \(plan.rule)",
            source: .coordinator)])
        _ = try await store.appendLogs(runID: next.id, [LogEntry(
            timestamp: now, level: .info,
            message: "Attempt \(next.attempt) of \(total), \(next.resumeOf == nil ? "retrying" : "resuming") run \(run.id) (\(run.state): \(run.stateMessage)); rule: \(plan.rule)",
            source: .coordinator)])
        metrics.retries.increment()
        metrics.transition(to: .scheduled)
        logger.info("flow run retried", metadata: ["run": "\(run.id)", "next": "\(next.id)", "attempt": "\(next.attempt)", "rule": "\(plan.rule)"])
        notifier.signal(.run(run.id))
        notifier.signal(.queue(version.queue))
    }

    /// Creates the retries a stop of the coordinator lost: a run's end commits before its next attempt is
    /// inserted, so a crash between the two would lose the retry. Each round looks at runs that ended in
    /// the last week; the store's one-run-per-attempt rule keeps a retry from being made twice.
    func sweepMissingRetries(now: Date) async throws {
        for run in try await store.runsMissingRetry(endedAfter: now.addingTimeInterval(-7 * 86_400)) {
            logger.notice("creating a retry the coordinator had not made", metadata: ["run": "\(run.id)"])
            try await retryIfPolicyAllows(run)
        }
    }

    /// Runs a final run again by hand: a new attempt of the same version and parameters, linked to the first.
    /// With `resume`, the new attempt reuses the results of the tasks `id` finished (those whose cache keys match).
    public func retryRun(_ id: FlowRunID, resume: Bool = false) async throws -> FlowRun {
        let run = try await run(id)
        guard run.state.isFinal else {
            throw CoordinatorError(
                .conflict, code: "not_final", message: "flow run \(id) is \(run.state); only a finished run can be retried",
                field: "state", fix: "Cancel it first, or wait for it to end.")
        }
        guard let version = try await store.version(id: run.versionID) else {
            throw CoordinatorError.notFound("flow version", run.versionID, fix: "Register the flow again.")
        }
        let first = run.retryOf ?? run.id
        let attempts = try await store.runs(RunFilter(attemptsOf: first, limit: 10_000)).runs
        let next = try await store.insertRun(NewFlowRun(
            id: Identifier.make(), version: version, parameters: run.parameters, idempotencyKey: nil, createdAt: clock(),
            attempt: (attempts.map(\.attempt).max() ?? run.attempt) + 1, retryOf: first, resumeOf: resume ? run.id : nil,
            overrides: run.overrides, tags: run.tags))
        let how = resume ? "resuming run \(run.id) (\(run.state)): its finished tasks are not run again" : "retried by hand from run \(run.id) (\(run.state))"
        _ = try await store.appendLogs(runID: next.id, [LogEntry(
            timestamp: clock(), level: .info, message: "Attempt \(next.attempt), \(how)", source: .coordinator)])
        metrics.transition(to: .scheduled)
        notifier.signal(.queue(version.queue))
        return next
    }
}
