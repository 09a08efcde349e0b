import AWS
import FathomAPI
import FathomCore
import FathomECS
import Foundation
import Synchronization

/// One flow run's ECS task, watched until it stops or a deadline ends it. Nothing can make it wait
/// in silence: every poll, failed or not, wakes it, and each wait has a deadline of its own:
///
/// - start: not RUNNING `startTimeoutSeconds` after RunTask (each attempt anew);
/// - report: RUNNING, but the flow has not reported to the coordinator `reportTimeoutSeconds` later;
/// - AWS errors: DescribeTasks failing for `awsErrorTimeoutSeconds` without a break;
/// - MISSING: ECS still does not know the task `missingGraceSeconds` after RunTask.
///
/// Tasks that failed to start for a transient cause are started again; CloudWatch output is
/// streamed into the run's logs (``ECSLogStreamer``); cancel sends StopTask.
final class ECSLaunchedRun: LaunchedRun {
    private struct State {
        var taskArn: String
        var attempt = 1
        var attemptStartedAt = ContinuousClock.now
        var runningSince: ContinuousClock.Instant?
        var flowReported = false
        var cancelled = false
        var missingLogged = false
        var failingSince: ContinuousClock.Instant?
        var reportedErrorCodes: Set<String> = []
        /// The first failed start's summary and hint, carried into the final message.
        var firstStartFailure: String?
        /// The estimated cost of the tasks stopped so far, and how each was reached.
        var spentUSD = 0.0
        var costBases: [String] = []
    }

    let launcher: ECSLauncher
    let config: ECSRunConfig
    let ecs: ECSClient
    let region: String
    let runID: FlowRunID
    let definitionArn: String
    let relaunch: @Sendable (Int) async throws -> String
    let logs: ECSLogStreamer?
    private let state: Mutex<State>

    init(
        launcher: ECSLauncher, config: ECSRunConfig, ecs: ECSClient, logs: ECSLogStreamer?, region: String, runID: FlowRunID,
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
        var facts = [String: String](facts: [
            .launcher: LauncherKind.ecs.rawValue, .cluster: config.cluster, .region: region, .taskArn: arn, .taskDefinition: definitionArn,
            .console: "https://\(region).console.aws.amazon.com/ecs/v2/clusters/\(config.cluster)/tasks/\(Self.taskID(arn))",
        ])
        if let logs { facts[.logStream] = "\(logs.group) \(logs.streamName(arn))" }
        if !config.efs.isEmpty { facts[.efs] = config.efs.map { "\($0.name)=\($0.fileSystemID)\($0.accessPointID.map { "/" + $0 } ?? "")→\($0.containerPath)" }.joined(separator: ", ") }
        return facts
    }

    static func taskID(_ arn: String) -> String { String(arn.split(separator: "/").last ?? "") }

    /// Watches the task and follows its logs, from the read position in `infrastructure` (a re-attach).
    func start(resumeFrom infrastructure: [String: String] = [:]) async {
        await launcher.watcher.watch(taskArn: taskArn, cluster: config.cluster, region: region, ecs: ecs)
        logs?.start(taskArn: taskArn, resumeFrom: infrastructure)
    }

    /// Follows the task to its end. Cancelled (the agent stops), it stops following the logs too: the next agent
    /// resumes them from the stored position.
    func wait() async -> LaunchOutcome {
        await withTaskCancellationHandler {
            await follow()
        } onCancel: { [logs] in
            logs?.abandon()
        }
    }

    private func follow() async -> LaunchOutcome {
        while true {
            let arn = taskArn
            switch await launcher.watcher.next(arn, until: nextDeadline()) {
            case .status(let task):
                state.withLock { state in
                    state.failingSince = nil
                    if task.lastStatus == "RUNNING" && state.runningSince == nil { state.runningSince = .now }
                }
            case .missing:
                state.withLock { $0.failingSince = nil }
                if let outcome = await missing(arn) { return outcome }
            case .pollFailed(let error):
                if let outcome = await pollFailed(error) { return outcome }
            case .stopped(let task):
                await recordCost(of: task)
                let stopped = Self.stoppedTask(task, arn: arn)
                if ECSDiagnosis.failedToStart(stopped), await retryStart(after: stopped) { continue }
                return await ended(stopped)
            case .forgotten:
                return LaunchOutcome(summary: "the agent stopped watching ECS task \(arn)")
            case .tick:
                break
            }
            if let outcome = await deadlinePassed() { return outcome }
        }
    }

    // MARK: Deadlines

    private func nextDeadline() -> ContinuousClock.Instant {
        state.withLock { state in
            var deadlines = [ContinuousClock.now + launcher.pollInterval * 4]
            if state.runningSince == nil { deadlines.append(state.attemptStartedAt + .seconds(config.startTimeoutSeconds)) }
            if let running = state.runningSince, !state.flowReported { deadlines.append(running + .seconds(config.reportTimeoutSeconds)) }
            if let failing = state.failingSince { deadlines.append(failing + .seconds(config.awsErrorTimeoutSeconds)) }
            return deadlines.min()!
        }
    }

    /// The start and report deadlines, checked after every event: they run on their own clock.
    private func deadlinePassed() async -> LaunchOutcome? {
        let now = ContinuousClock.now
        let (startedAt, runningSince, reported, cancelled) = state.withLock {
            ($0.attemptStartedAt, $0.runningSince, $0.flowReported, $0.cancelled)
        }
        guard !cancelled else { return nil }
        if runningSince == nil, now - startedAt >= .seconds(config.startTimeoutSeconds) {
            let reason = "the task did not reach RUNNING within startTimeoutSeconds (\(config.startTimeoutSeconds) s)"
            return await stopAndEnd(reason, details: [
                "hint: tasks wait in PROVISIONING or PENDING for capacity, an image pull or a volume mount; raise startTimeoutSeconds if the image is large, and look at the task's events in the ECS console",
            ])
        }
        if let runningSince, !reported, now - runningSince >= .seconds(config.reportTimeoutSeconds) {
            do {
                if try await launcher.api.run(runID).state != .pending {
                    state.withLock { $0.flowReported = true }
                    return nil
                }
            } catch {
                // The agent cannot reach the coordinator either: whether the flow reported is unknown, so the
                // task is not stopped on it; the deadline is checked again at the next poll.
                return nil
            }
            let reason = "the flow in the task did not report to the coordinator within reportTimeoutSeconds (\(config.reportTimeoutSeconds) s) of RUNNING"
            let lastLines = logs?.lastLines(10) ?? []
            return await stopAndEnd(reason, details: [
                "hint: the container could not reach the coordinator at \(launcher.runnerAPIURL) (the --runner-api-url it was given). Check that the name resolves inside the VPC, that the task's security group allows egress to it and the coordinator's allows ingress from the task, and that the bundle fetch is not blocked (S3 endpoint or NAT). 'fathom ecs check' tries the URL's route.",
            ] + (lastLines.isEmpty ? ["the container wrote nothing to CloudWatch"] : ["the container's last lines:"] + lastLines.map { "  " + $0 }))
        }
        return nil
    }

    /// ECS is eventually consistent: right after RunTask, DescribeTasks may not know the task yet.
    private func missing(_ arn: String) async -> LaunchOutcome? {
        let (startedAt, logged) = state.withLock { state -> (ContinuousClock.Instant, Bool) in
            defer { state.missingLogged = true }
            return (state.attemptStartedAt, state.missingLogged)
        }
        let age = ContinuousClock.now - startedAt
        if age < .seconds(config.missingGraceSeconds) {
            if !logged {
                await note("ECS does not list task \(arn) yet (MISSING, which ECS reports for a while after RunTask); waiting up to \(config.missingGraceSeconds) s", level: .info)
            }
            return nil
        }
        return await stopAndEnd(
            "ECS still reports the task MISSING \(Int(saturating: age.inSeconds)) s after RunTask (missingGraceSeconds \(config.missingGraceSeconds))",
            details: ["hint: ECS keeps a stopped task for about an hour; a task missing sooner was never started in this cluster and region, or the agent's credentials see another account"])
    }

    /// A failed DescribeTasks: said in the run's logs at once (each new error code once), the run ended when it lasts.
    private func pollFailed(_ error: AWSError) async -> LaunchOutcome? {
        let code = error.serviceError?.code ?? "unreachable"
        let (since, isNew) = state.withLock { state -> (ContinuousClock.Instant, Bool) in
            if state.failingSince == nil { state.failingSince = .now }
            return (state.failingSince!, state.reportedErrorCodes.insert(code).inserted)
        }
        if isNew {
            await note("cannot see the ECS task: \(error.explained) Fathom keeps trying for \(config.awsErrorTimeoutSeconds) s (awsErrorTimeoutSeconds).", level: .error)
        }
        let elapsed = ContinuousClock.now - since
        guard elapsed >= .seconds(config.awsErrorTimeoutSeconds) else { return nil }
        return await stopAndEnd(
            "DescribeTasks kept failing for \(Int(saturating: elapsed.inSeconds)) s, so the task's state is unknown: \(error.explained)",
            details: [])
    }

    /// Stops the task (best effort: it may already be gone, or AWS may refuse) and ends the wait with `reason`.
    private func stopAndEnd(_ reason: String, details: [String]) async -> LaunchOutcome {
        let arn = taskArn
        await note(reason, level: .error)
        do {
            _ = try await ecs.stopTask(cluster: config.cluster, task: arn, reason: "Fathom: \(reason)".prefix(1000).description)
        } catch {
            await note("StopTask for \(arn) failed: \((error as? AWSError)?.explained ?? "\(error)")", level: .warning)
        }
        await logs?.finish()
        await launcher.watcher.forget(arn)
        return LaunchOutcome(summary: "ECS task \(arn): \(reason); Fathom stopped it", details: details)
    }

    // MARK: A stopped task

    /// Adds the stopped task's estimated cost to the run's (a retried start is a task billed too) and records the sum.
    private func recordCost(of task: ECSTask) async {
        let facts: [String: String] = state.withLock { state in
            switch ECSCostEstimate.estimate(Self.billedTask(task, region: region), pricing: launcher.pricing) {
            case .success(let estimate):
                state.spentUSD += estimate.usd
                state.costBases.append(estimate.basis)
            case .failure(let none):
                state.costBases.append(none.description)
            }
            let estimated = state.costBases.count > 0 && state.spentUSD > 0
            var facts = [String: String](facts: [.costBasis: state.costBases.suffix(5).joined(separator: "; ")])
            if estimated { facts[.costUSD] = String(format: "%.6f", state.spentUSD) }
            return facts
        }
        await launcher.record(facts, of: runID)
    }

    /// A described task in the terms of ``ECSCostEstimate``.
    static func billedTask(_ task: ECSTask, region: String) -> ECSCostEstimate.BilledTask {
        ECSCostEstimate.BilledTask(
            region: region, capacity: task.capacityProviderName ?? task.launchType ?? "an unknown",
            architecture: task.attributes?.first { $0.name == "ecs.cpu-architecture" }?.value ?? "x86_64",
            cpuUnits: task.cpu.flatMap { Int($0) }, memoryMiB: task.memory.flatMap { Int($0) },
            ephemeralGiB: task.ephemeralStorage?.sizeInGiB,
            billedFrom: task.pullStartedAt ?? task.startedAt, billedUntil: task.stoppedAt ?? task.executionStoppedAt)
    }

    static func stoppedTask(_ task: ECSTask, arn: String) -> ECSDiagnosis.StoppedTask {
        ECSDiagnosis.StoppedTask(
            taskArn: arn, stopCode: task.stopCode, stoppedReason: task.stoppedReason,
            containers: (task.containers ?? []).map { ($0.name ?? "?", $0.exitCode, $0.reason) })
    }

    private func ended(_ stopped: ECSDiagnosis.StoppedTask) async -> LaunchOutcome {
        await logs?.finish()
        await launcher.watcher.forget(stopped.taskArn)
        let (cancelled, first) = state.withLock { ($0.cancelled, $0.firstStartFailure) }
        if cancelled { return LaunchOutcome(summary: ECSDiagnosis.summary(stopped)) }
        var details: [String] = []
        if let cause = ECSDiagnosis.cause(stopped) {
            details.append("hint: \(cause.hint)")
            if ECSDiagnosis.failedToStart(stopped) && !cause.isTransient {
                details.append("not started again: this cause fails the same way every time until the configuration changes")
            }
        }
        if let first { details.append("the first start failed too: \(first)") }
        return LaunchOutcome(summary: ECSDiagnosis.summary(stopped), details: details, cause: ECSDiagnosis.endCause(stopped))
    }

    /// Runs the task again after a transient "TaskFailedToStart", up to `startRetries` times, if the flow never started.
    func retryStart(after stopped: ECSDiagnosis.StoppedTask) async -> Bool {
        let attempt = state.withLock { $0.attempt }
        guard ECSDiagnosis.isTransientStartFailure(stopped), attempt <= config.startRetries, !state.withLock({ $0.cancelled }),
              let run = try? await launcher.api.run(runID), run.state == .pending  // unknown whether the flow started: no second task is risked
        else { return false }
        let summary = ECSDiagnosis.summary(stopped)
        await note("\(summary); a transient cause, so starting it again (attempt \(attempt + 1) of \(config.startRetries + 1))", level: .warning)
        await logs?.finish()
        let newArn: String
        do {
            newArn = try await relaunch(attempt + 1)
        } catch {
            await note("starting the task again failed: \(error)", level: .error)
            return false
        }
        await launcher.watcher.forget(stopped.taskArn)
        state.withLock { state in
            state.taskArn = newArn
            state.attempt = attempt + 1
            state.attemptStartedAt = .now
            state.runningSince = nil
            state.missingLogged = false
            if state.firstStartFailure == nil {
                state.firstStartFailure = summary + (ECSDiagnosis.hint(stopped).map { " (hint: \($0))" } ?? "")
            }
        }
        await launcher.record(infrastructure, of: runID)
        await launcher.watcher.watch(taskArn: newArn, cluster: config.cluster, region: region, ecs: ecs)
        logs?.start(taskArn: newArn)
        return true
    }

    func stop(reason: String) async {
        state.withLock { $0.cancelled = true }
        do {
            _ = try await ecs.stopTask(cluster: config.cluster, task: taskArn, reason: "Fathom: \(reason)")
        } catch {
            await note("StopTask failed: \((error as? AWSError)?.explained ?? "\(error)")", level: .warning)
        }
    }

    private func note(_ message: String, level: LogLevel) async {
        await launcher.note(message, level: level, runID: runID)
    }
}
