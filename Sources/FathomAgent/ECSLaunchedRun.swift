import AWS
import FathomAPI
import FathomCore
import FathomECS
import Foundation
import Synchronization

/// One flow run's ECS task, watched until it stops: start timeout, retries of tasks that failed
/// to start, CloudWatch output streamed into the run's logs, StopTask on cancel.
final class ECSLaunchedRun: LaunchedRun {
    private struct State {
        var taskArn: String
        var attempt = 1
        var cancelled = false
        var seenRunning = false
        var logStreamer: Task<Void, Never>?
        /// Set when the task stopped: the streamer reads once more, then ends.
        var logsFinishing = false
    }

    let launcher: ECSLauncher
    let config: ECSRunConfig
    let ecs: ECSClient
    let logs: CloudWatchLogsClient
    let region: String
    let runID: FlowRunID
    let definitionArn: String
    let relaunch: @Sendable (Int) async throws -> String
    private let state: Mutex<State>
    private let launchedAt = ContinuousClock.now

    init(
        launcher: ECSLauncher, config: ECSRunConfig, ecs: ECSClient, logs: CloudWatchLogsClient, region: String, runID: FlowRunID,
        taskArn: String, definitionArn: String, relaunch: @escaping @Sendable (Int) async throws -> String
    ) {
        self.launcher = launcher
        self.config = config
        self.ecs = ecs
        self.logs = logs
        self.region = region
        self.runID = runID
        self.definitionArn = definitionArn
        self.relaunch = relaunch
        self.state = Mutex(State(taskArn: taskArn))
    }

    var taskArn: String { state.withLock { $0.taskArn } }

    var infrastructure: [String: String] {
        let arn = taskArn
        var facts = [
            "launcher": "ecs", "cluster": config.cluster, "region": region, "taskArn": arn, "taskDefinition": definitionArn,
            "console": "https://\(region).console.aws.amazon.com/ecs/v2/clusters/\(config.cluster)/tasks/\(Self.taskID(arn))",
        ]
        if let logs = config.logs { facts["logStream"] = "\(logs.group) \(streamName(arn))" }
        if !config.efs.isEmpty { facts["efs"] = config.efs.map { "\($0.name)=\($0.fileSystemID)\($0.accessPointID.map { "/" + $0 } ?? "")→\($0.containerPath)" }.joined(separator: ", ") }
        return facts
    }

    static func taskID(_ arn: String) -> String { String(arn.split(separator: "/").last ?? "") }

    func streamName(_ arn: String) -> String {
        "\(config.logs?.streamPrefix ?? "fathom")/\(config.container)/\(Self.taskID(arn))"
    }

    func start() async {
        await launcher.watcher.watch(taskArn: taskArn, cluster: config.cluster, ecs: ecs)
        startLogStream(for: taskArn)
    }

    func wait() async -> LaunchOutcome {
        while true {
            let arn = taskArn
            let event = await launcher.watcher.next(arn)
            switch event {
            case .status(let task):
                if task.lastStatus == "RUNNING" { state.withLock { $0.seenRunning = true } }
                if await startTimedOut() { continue }
            case .missing:
                await finishLogs()
                await launcher.watcher.forget(arn)
                return LaunchOutcome(summary: "ECS task \(arn) no longer exists (ECS keeps stopped tasks for about an hour)")
            case .stopped(let task):
                let stopped = Self.stoppedTask(task, arn: arn)
                if ECSDiagnosis.failedToStart(stopped), await retryStart(after: stopped) { continue }
                await finishLogs()
                await launcher.watcher.forget(arn)
                var details = [ECSDiagnosis.hint(stopped).map { "hint: \($0)" }].compactMap { $0 }
                if state.withLock({ $0.cancelled }) { details = [] }
                return LaunchOutcome(summary: ECSDiagnosis.summary(stopped), details: details)
            }
        }
    }

    static func stoppedTask(_ task: ECSTask, arn: String) -> ECSDiagnosis.StoppedTask {
        ECSDiagnosis.StoppedTask(
            taskArn: arn, stopCode: task.stopCode, stoppedReason: task.stoppedReason,
            containers: (task.containers ?? []).map { ($0.name ?? "?", $0.exitCode, $0.reason) })
    }

    /// Stops a task that has not reached RUNNING within the start timeout.
    func startTimedOut() async -> Bool {
        let (seenRunning, cancelled) = state.withLock { ($0.seenRunning, $0.cancelled) }
        guard !seenRunning, !cancelled, ContinuousClock.now - launchedAt > .seconds(config.startTimeoutSeconds) else { return false }
        let reason = "Fathom: the task did not reach RUNNING within startTimeoutSeconds (\(config.startTimeoutSeconds) s)"
        _ = try? await launcher.api.sendLogs(runID, [LogEntry(timestamp: Date(), level: "error", message: reason, source: "agent")])
        _ = try? await ecs.stopTask(cluster: config.cluster, task: taskArn, reason: reason)
        state.withLock { $0.seenRunning = true }  // stop once; the STOPPED that follows ends the wait
        return true
    }

    /// Runs the task again after "TaskFailedToStart", up to `startRetries` times, if the flow never started.
    func retryStart(after stopped: ECSDiagnosis.StoppedTask) async -> Bool {
        let attempt = state.withLock { $0.attempt }
        guard attempt <= config.startRetries, !state.withLock({ $0.cancelled }),
              let run = try? await launcher.api.run(runID), run.state == .pending
        else { return false }
        _ = try? await launcher.api.sendLogs(runID, [LogEntry(
            timestamp: Date(), level: "warning",
            message: "\(ECSDiagnosis.summary(stopped)); starting it again (attempt \(attempt + 1) of \(config.startRetries + 1))",
            source: "agent")])
        guard let newArn = try? await relaunch(attempt + 1) else { return false }
        await launcher.watcher.forget(stopped.taskArn)
        state.withLock { $0.taskArn = newArn; $0.attempt = attempt + 1 }
        _ = try? await launcher.api.setInfrastructure(runID, infrastructure)
        await launcher.watcher.watch(taskArn: newArn, cluster: config.cluster, ecs: ecs)
        startLogStream(for: newArn)
        return true
    }

    func stop(reason: String) async {
        state.withLock { $0.cancelled = true }
        _ = try? await ecs.stopTask(cluster: config.cluster, task: taskArn, reason: "Fathom: \(reason)")
    }

    // MARK: Container output

    private func startLogStream(for arn: String) {
        guard let logConfig = config.logs else { return }
        let stream = streamName(arn)
        let api = launcher.api
        let runID = self.runID
        let logs = self.logs
        let interval = launcher.pollInterval
        let task = Task { [self] in
            var token: String?
            var finalPass = false
            while true {
                if self.state.withLock({ $0.logsFinishing }) { finalPass = true }
                do {
                    let page = try await logs.getLogEvents(group: logConfig.group, stream: stream, nextToken: token)
                    if !page.events.isEmpty {
                        let entries = page.events.map {
                            LogEntry(
                                timestamp: Date(timeIntervalSince1970: Double($0.timestamp) / 1000), level: "info", message: $0.message,
                                source: "container")
                        }
                        _ = try? await api.sendLogs(runID, entries)
                    }
                    let advanced = page.nextToken != nil && page.nextToken != token
                    token = page.nextToken ?? token
                    if advanced && !page.events.isEmpty { continue }
                } catch {
                    // The stream appears only once the container has started.
                }
                if finalPass { return }
                try? await Task.sleep(for: interval)
            }
        }
        state.withLock { $0.logStreamer?.cancel(); $0.logStreamer = task; $0.logsFinishing = false }
    }

    /// One last read of the container's output, so a container that died early still leaves it.
    private func finishLogs() async {
        let streamer = state.withLock { state -> Task<Void, Never>? in
            state.logsFinishing = true
            return state.logStreamer
        }
        await streamer?.value
    }
}
