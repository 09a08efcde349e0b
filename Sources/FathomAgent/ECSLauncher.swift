import AWS
import FathomAPI
import FathomClient
import FathomCore
import FathomECS
import Foundation
import Logging

/// Runs each flow run as an ECS task: validates the run config again, registers the task
/// definition once per content hash, calls RunTask (idempotent by flow run id), and watches the
/// task with batched DescribeTasks until it stops.
public final class ECSLauncher: Launcher {
    public let kind = LauncherKind.ecs
    let api: APIClient
    /// The coordinator URL that containers reach (never loopback).
    let runnerAPIURL: String
    let token: String?
    let credentials: CredentialChain
    let environment: [String: String]
    let watcher: ECSTaskWatcher
    let registry: TaskDefinitionRegistry
    let pollInterval: Duration
    let logger: Logger
    /// The Fargate prices a run's cost is estimated at.
    let pricing: FargatePricing

    /// Refuses a loopback `runnerAPIURL`: a container cannot reach the agent's own 127.0.0.1.
    public init(
        api: APIClient, runnerAPIURL: String, token: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        pollInterval: Duration = .seconds(3), pricing: FargatePricing = .builtIn, logger: Logger = Logger(label: "fathom.ecs")
    ) throws {
        let host = URL(string: runnerAPIURL)?.host?.lowercased() ?? ""
        if host.isEmpty || host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]" || host == "0.0.0.0" {
            throw LaunchError(
                "--runner-api-url '\(runnerAPIURL)' is not reachable from an ECS task: containers have their own loopback. Pass the coordinator's address in the VPC, e.g. --runner-api-url http://fathom.internal:4200")
        }
        self.api = api
        self.runnerAPIURL = runnerAPIURL
        self.token = token
        self.environment = environment
        self.credentials = CredentialChain.standard(environment: environment)
        self.pollInterval = pollInterval
        self.pricing = pricing
        self.logger = logger
        self.watcher = ECSTaskWatcher(interval: pollInterval, logger: logger)
        self.registry = TaskDefinitionRegistry(logger: logger)
    }

    /// The clients for a config's region (CloudWatch Logs in `logs.region` when that differs).
    func clients(for config: ECSRunConfig) throws -> (ecs: ECSClient, logs: CloudWatchLogsClient, region: String) {
        let configuration = try AWSConfiguration(environment: environment, region: config.region)
        let client = AWSClient(configuration: configuration, credentials: credentials, logger: logger)
        var logsClient = client
        if let logsRegion = config.logs?.region, logsRegion != configuration.region {
            logsClient = AWSClient(
                configuration: try AWSConfiguration(environment: environment, region: logsRegion), credentials: credentials, logger: logger)
        }
        return (ECSClient(client: client), CloudWatchLogsClient(client: logsClient), configuration.region)
    }

    static func config(of version: FlowVersion) throws -> ECSRunConfig {
        guard version.runConfig.launcher == .ecs else {
            throw LaunchError("flow \(version.flowName) v\(version.version) has a '\(version.runConfig.launcher)' run config; this agent launches ECS tasks")
        }
        do {
            return try ECSRunConfig(version.runConfig.settings)
        } catch {
            throw LaunchError("the ECS run config is invalid:\n" + error.errors.map { "  \($0)" }.joined(separator: "\n"))
        }
    }

    /// A coordinator with a token answers a task without one with 401: refuse before anything starts.
    func checkToken(_ config: ECSRunConfig) throws {
        guard token != nil, config.apiTokenSecret == nil, !config.plaintextToken else { return }
        throw LaunchError(
            "the coordinator requires a token, and the run config gives the task none, so the flow would be refused (HTTP 401). Set ecs.apiTokenSecret: to the full ARN of a Secrets Manager secret holding the token (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf) and allow the execution role secretsmanager:GetSecretValue on it; or, knowing the token will be visible in the task's description, plaintextToken: true")
    }

    public func launch(_ claimed: ClaimedRun) async throws -> any LaunchedRun {
        let config = try Self.config(of: claimed.version)
        try checkToken(config)
        let (ecs, logs, region) = try clients(for: config)
        let (request, hash) = ECSRender.registerTaskDefinition(config, region: region)
        let (definitionArn, registered) = try await registry.arn(for: request, hash: hash, ecs: ecs)
        if registered { await note("registered task definition \(definitionArn)", level: .info, runID: claimed.run.id) }
        if config.plaintextToken && token != nil {
            await note(
                "plaintextToken is on: the API token travels as plaintext container environment, visible to anyone who can describe the task. Prefer apiTokenSecret.",
                level: .warning, runID: claimed.run.id)
        }
        var context = ECSLaunchContext(flowRunID: claimed.run.id, flowName: claimed.version.flowName, apiURL: runnerAPIURL, token: token)
        context.overrides = claimed.run.overrides
        let taskArn = try await runTask(config, definitionArn: definitionArn, context: context, ecs: ecs, runID: claimed.run.id)
        return await watch(
            config: config, ecs: ecs, logs: logs, region: region, taskArn: taskArn, definitionArn: definitionArn, context: context)
    }

    /// Starts watching a task; a retried start runs the same request with the next attempt number.
    func watch(
        config: ECSRunConfig, ecs: ECSClient, logs: CloudWatchLogsClient, region: String, taskArn: String, definitionArn: String,
        context: ECSLaunchContext, resumeFrom infrastructure: [String: String] = [:]
    ) async -> ECSLaunchedRun {
        let streamer = config.logs.map {
            ECSLogStreamer(config: $0, container: config.container, logs: logs, api: api, runID: context.flowRunID, interval: pollInterval)
        }
        let run = ECSLaunchedRun(
            launcher: self, config: config, ecs: ecs, logs: streamer, region: region, runID: context.flowRunID, taskArn: taskArn,
            definitionArn: definitionArn) { attempt in
                var retry = context
                retry.attempt = attempt
                return try await self.runTask(config, definitionArn: definitionArn, context: retry, ecs: ecs, runID: context.flowRunID)
            }
        await run.start(resumeFrom: infrastructure)
        return run
    }

    /// RunTask, retrying capacity failures with backoff; any other failure is thrown with ECS's reason.
    func runTask(_ config: ECSRunConfig, definitionArn: String, context: ECSLaunchContext, ecs: ECSClient, runID: FlowRunID) async throws -> String {
        let request = ECSRender.runTask(config, taskDefinition: definitionArn, context: context)
        var delay = Duration.seconds(1)
        for attempt in 1...6 {
            let output = try await ecs.runTask(request)
            if let arn = output.tasks?.first?.taskArn { return arn }
            let failures = output.failures ?? []
            let reasons = failures.map { "\($0.reason ?? "unknown")\($0.detail.map { " (\($0))" } ?? "")" }.joined(separator: "; ")
            let transient = !failures.isEmpty && failures.allSatisfy { ECSDiagnosis.isTransientRunTaskFailure($0.reason ?? "") }
            guard attempt < 6, transient else {
                throw LaunchError(
                    "RunTask failed: \(reasons.isEmpty ? "no task and no failure reported" : reasons)", cause: transient ? .capacity : nil)
            }
            await note("RunTask: \(reasons); retrying in \(delay)", level: .warning, runID: runID)
            try await Task.sleep(for: delay)
            delay = delay * 2
        }
        throw LaunchError("RunTask failed")
    }

    public func reattach(_ run: FlowRun, version: FlowVersion) async throws -> (any LaunchedRun)? {
        let config = try Self.config(of: version)
        let (ecs, logs, region) = try clients(for: config)
        var context = ECSLaunchContext(flowRunID: run.id, flowName: run.flowName, apiURL: runnerAPIURL, token: token)
        context.overrides = run.overrides
        let task: ECSTask
        if let taskArn = run.infrastructure[.taskArn] {
            guard let described = try await ecs.describeTasks(cluster: config.cluster, tasks: [taskArn]).tasks?.first else { return nil }
            task = described
        } else {
            // The agent stopped between RunTask and recording the task: find it by the run's tag.
            guard let found = try await taskTagged(runID: run.id, cluster: config.cluster, ecs: ecs) else { return nil }
            task = found
            await note("found the run's task \(found.taskArn ?? "?") by its fathom:flow-run-id tag after an agent restart", level: .info, runID: run.id)
        }
        guard let taskArn = task.taskArn else { return nil }
        let definitionArn = run.infrastructure[.taskDefinition] ?? task.taskDefinitionArn ?? ""
        let launched = await watch(
            config: config, ecs: ecs, logs: logs, region: region, taskArn: taskArn, definitionArn: definitionArn, context: context,
            resumeFrom: run.infrastructure)
        await record(launched.infrastructure, of: run.id)
        return launched
    }

    /// A task Fathom started for `runID` (ListTasks by `startedBy`, then its `fathom:flow-run-id` tag).
    func taskTagged(runID: FlowRunID, cluster: String, ecs: ECSClient) async throws -> ECSTask? {
        let arns = try await ecs.listTasks(cluster: cluster, startedBy: "fathom")
        guard !arns.isEmpty else { return nil }
        let tasks = try await ecs.describeTasks(cluster: cluster, tasks: arns).tasks ?? []
        return tasks.first { $0.tags?.contains(ECSTag(key: "fathom:flow-run-id", value: runID)) == true }
    }

    /// A line in the run's logs from the agent (best effort: the run's outcome does not depend on it).
    func note(_ message: String, level: LogLevel, runID: FlowRunID) async {
        let entry = LogEntry(timestamp: Date(), level: level, message: message, source: .agent)
        let batchID = Identifier.make()
        if await Retrying(attempts: 3).run({ try await api.sendLogs(runID, [entry], processOutput: true, batchID: batchID) }) != nil { return }
        logger.warning("could not log to the run", metadata: ["run": "\(runID)", "message": "\(message)"])
    }

    /// Records the run's infrastructure (a new task after a retried start), retrying a few times.
    func record(_ infrastructure: [String: String], of runID: FlowRunID) async {
        if await Retrying(attempts: 5).run({ try await api.setInfrastructure(runID, infrastructure) }) != nil { return }
        logger.error("could not record the run's infrastructure", metadata: ["run": "\(runID)"])
    }
}

extension ECSLauncher {
    /// Every AWS operation the ECS launcher sends: task definitions (reused by hash), tasks, re-attaching after a
    /// restart (ListTasks), and the flow container's CloudWatch logs. The agent's IAM policy (`fathom infra`) is
    /// made from this list, and a test checks it against what the agent sends to moto.
    public static let awsOperations: Set<AWSOperation> = [
        AWSOperation.ECS.registerTaskDefinition, AWSOperation.ECS.describeTaskDefinition, AWSOperation.ECS.listTaskDefinitions,
        AWSOperation.ECS.runTask, AWSOperation.ECS.describeTasks, AWSOperation.ECS.stopTask, AWSOperation.ECS.listTasks,
        AWSOperation.Logs.getLogEvents,
    ]
}
