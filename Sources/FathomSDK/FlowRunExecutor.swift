import FathomAPI
import FathomCore
import Foundation
import Synchronization
import Logging
import FathomProcess
import FathomStorage

/// Executes one flow run against the coordinator: Running, heartbeats, logs, final state.
struct FlowRunExecutor {
    let client: APIClient
    let runID: FlowRunID
    let flows: [any Flow.Type]
    let volumes: [String: String]
    let heartbeatInterval: Duration
    let maxConcurrentTasks: Int
    /// How long the process waits for a coordinator it cannot reach (`FATHOM_COORDINATOR_GRACE`, default 120 s): each
    /// read before the flow starts, and everything after it ends (the last records, the workspace's size, the final
    /// state) together. The process ends either way.
    let coordinatorGrace: Duration

    /// Returns the process exit code: 0 when the run Completed.
    func execute() async -> Int32 {
        let run: FlowRun
        do {
            run = try await withRetries { try await client.run(runID) }
        } catch {
            stderr("cannot read flow run \(runID): \(error)")
            return 70
        }
        guard let flow = flows.first(where: { $0.name == run.flowName }) else {
            let names = flows.map { $0.name }.joined(separator: ", ")
            await finish(.crashed, "this bundle has no flow '\(run.flowName)' (it has: \(names)); register the right bundle")
            return 70
        }
        if run.state == .cancelling {
            await finish(.cancelled, "cancelled before the flow started")
            return 1
        }
        do {
            try await client.setState(runID, SetStateRequest(state: .running, message: "", expected: run.state))
        } catch {
            stderr("cannot move flow run \(runID) to Running: \(error)")
            return 70
        }
        // One line on stdout for whoever reads the container's output (CloudWatch): which run this process is.
        FileHandle.standardOutput.write(Data("fathom: flow run \(runID) (\(flow.name)) starting in pid \(getpid())\n".utf8))
        // Lines the coordinator refuses because the run already ended (cancelled or crashed by someone else)
        // go to standard error, which the agent copies into the run's log marked late.
        let sink = CoordinatorEventSink(client: client, runID: runID) { refused in
            for entry in refused { Self.writeToStandardError(entry) }
        }
        let workspaceID = await workspaceID(for: run)
        let resultStore: (any TaskResultStore)?
        do {
            resultStore = try TaskResultStores.store(
                setting: ProcessInfo.processInfo.environment[TaskResultStores.variable], runID: runID,
                defaultDirectory: volumes["scratch"].map { "\($0)/fathom/runs/\(workspaceID)/.fathom-results" },
                aws: FlowStorages.defaultAWSClient)
        } catch {
            let message = "\(error.problem). \(error.fix)"
            _ = await sink.close(giveUpAfter: .seconds(10))
            await finish(.failed, message)
            return 1
        }
        let context = FlowContext(
            runID: runID, flowName: flow.name, sink: sink, volumes: volumes, maxConcurrentTasks: maxConcurrentTasks,
            echoLogs: false, coordinator: client, cache: await taskCache(for: run), workspaceID: workspaceID,
            resultStore: resultStore)
        if let earlier = run.resumeOf, let cache = context.cache {
            context.logger.info("resuming run \(earlier): \(cache.reusableCount) finished tasks may be reused")
        }
        let flowTask = flow.startTask(parameters: run.parameters, context: context)
        let heartbeat = HeartbeatThread(client: client, runID: runID, every: heartbeatInterval) { flowTask.cancel() }
        let terminated = Atomic<Bool>(false)
        let terminationWatcher = SignalWatcher(signals: [SIGTERM]) {
            terminated.store(true, ordering: .relaxed)
            flowTask.cancel()
        }
        let result = await flowTask.result
        heartbeat.stop()
        terminationWatcher.stop()
        // After SIGTERM, ECS kills the container 30 s later (the default stopTimeout): all of it within 15 s.
        let wasTerminated = terminated.load(ordering: .relaxed)
        let endDeadline = ContinuousClock.now + (wasTerminated ? .seconds(15) : coordinatorGrace)
        await recordWorkspaceUsage(
            workspaceID: workspaceID, until: min(endDeadline, ContinuousClock.now + (wasTerminated ? .seconds(3) : .seconds(10))))
        let stoppedFromOutside = wasTerminated ? !(await cancelRequested()) : false
        switch result {
        case .success:
            context.logger.info("flow run completed")
            await end(.completed, "", sink: sink, deadline: endDeadline)
            return 0
        case .failure where stoppedFromOutside:
            // Stopped from outside (ECS StopTask, a Spot interruption, a scale-in, an agent going down), not
            // cancelled: the run is not ended here, the launcher ends it with the reason it alone knows (the stop
            // code), and a retry policy can act on it. The work stopped at its checkpoints.
            context.logger.warning("the flow process received SIGTERM: work stopped at its checkpoints; the launcher reports why the run ended")
            let undelivered = await sink.close(giveUpAfter: max(endDeadline - ContinuousClock.now, .seconds(1)))
            for entry in undelivered { Self.writeToStandardError(entry) }
            return 143
        case .failure(let error) where error is CancellationError || flowTask.isCancelled:
            context.logger.warning("flow run cancelled")
            await end(.cancelled, "cancelled", sink: sink, deadline: endDeadline)
            return 1
        case .failure(let error):
            context.logger.error("flow run failed: \(error)")
            await end(.failed, "\(error)", sink: sink, deadline: endDeadline)
            return 1
        }
    }

    /// Records how much its workspace takes on each volume (the run page and the flow's 30-day sum show it).
    func recordWorkspaceUsage(workspaceID: FlowRunID, until deadline: ContinuousClock.Instant) async {
        let (usage, unmeasured) = WorkspaceUsage.measure(volumes: volumes, workspaceID: workspaceID)
        for volume in unmeasured {
            stderr("the workspace on \(volume) has more than \(WorkspaceUsage.maxEntries) entries or took over \(WorkspaceUsage.timeLimit) to walk: its size is not recorded")
        }
        guard !usage.isEmpty else { return }
        do {
            _ = try await withRetries(until: deadline) {
                try await client.setInfrastructure(runID, [String: String](facts: [.workspaceBytes: WorkspaceUsage.fact(usage)]))
            }
        } catch {
            stderr("cannot record the workspace's size (\(error))")
        }
    }

    /// Whether the run is being cancelled (so a SIGTERM is the cancel arriving); unknown counts as no.
    func cancelRequested() async -> Bool {
        do {
            return try await client.run(runID).state == .cancelling
        } catch {
            stderr("cannot read the run's state after SIGTERM (\(error)); leaving its end to the launcher")
            return false
        }
    }

    /// Cache keys for this run's tasks, with the finished tasks of the attempt it resumes, if it resumes one.
    func taskCache(for run: FlowRun) async -> TaskCache {
        var bundleVersion = ProcessInfo.processInfo.environment["FATHOM_BUNDLE_SHA256"] ?? ""
        if bundleVersion.isEmpty {
            do {
                bundleVersion = try await withRetries { try await client.version(ofRun: runID) }.bundleSHA256
            } catch {
                stderr("cannot read the run's flow version (\(error)); task cache keys use no bundle version")
            }
        }
        guard let earlier = run.resumeOf else { return TaskCache(bundleVersion: bundleVersion) }
        do {
            let taskRuns = try await withRetries { try await client.taskRuns(earlier) }
            return TaskCache(bundleVersion: bundleVersion, resuming: earlier, taskRuns: taskRuns)
        } catch {
            stderr("cannot read the task runs of run \(earlier), which this attempt resumes (\(error)); every task runs")
            return TaskCache(bundleVersion: bundleVersion)
        }
    }

    /// The run whose workspace this one uses: the first run of its resume chain (at most 100 links back).
    func workspaceID(for run: FlowRun) async -> FlowRunID {
        var current = run
        for _ in 0..<100 {
            guard let earlier = current.resumeOf else { break }
            do {
                current = try await withRetries { try await client.run(earlier) }
            } catch {
                stderr("cannot read run \(earlier) of the resume chain (\(error)); using its workspace")
                return earlier
            }
        }
        return current.id
    }

    /// Delivers the last records and the final state, giving up on the coordinator at `deadline` (the
    /// ``coordinatorGrace`` after the flow ended): the process ends either way, and records that could not be
    /// delivered go to standard error, where the launcher's logs (CloudWatch, the agent) keep them.
    func end(_ state: FlowRunState, _ message: String, sink: CoordinatorEventSink, deadline: ContinuousClock.Instant) async {
        let undelivered = await sink.close(giveUpAfter: max(deadline - ContinuousClock.now, .seconds(1)))
        if !undelivered.isEmpty {
            stderr("the coordinator did not take the last \(undelivered.count) log records; they follow")
            for entry in undelivered { Self.writeToStandardError(entry) }
        }
        await finish(state, message, deadline: deadline)
    }

    /// Sets the final state, retrying while the coordinator is unreachable (until `deadline`, if given).
    func finish(_ state: FlowRunState, _ message: String, deadline: ContinuousClock.Instant? = nil) async {
        do {
            _ = try await withRetries(until: deadline) {
                try await client.setState(runID, SetStateRequest(state: state, message: message))
            }
        } catch {
            stderr("cannot set flow run \(runID) to \(state): \(error)")
        }
    }

    /// Retries calls that failed to reach the coordinator, for up to about a minute, and until `deadline` at the
    /// latest (by default the ``coordinatorGrace`` from now).
    func withRetries<T>(until deadline: ContinuousClock.Instant? = nil, _ body: () async throws -> T) async throws -> T {
        let deadline = deadline ?? ContinuousClock.now + coordinatorGrace
        var delay = Duration.milliseconds(100)
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch let error as APIClientError {
                let pastDeadline = ContinuousClock.now + delay > deadline
                guard case .unreachable = error, attempt < 12, !pastDeadline else { throw error }
                attempt += 1
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
    }

    /// A log record the coordinator did not take, as one line for whoever keeps the process's output.
    static func writeToStandardError(_ entry: LogEntry) {
        FileHandle.standardError.write(Data("[\(entry.level)] \(entry.message)\n".utf8))
    }

    func stderr(_ message: String) {
        FileHandle.standardError.write(Data("fathom: \(message)\n".utf8))
    }
}
