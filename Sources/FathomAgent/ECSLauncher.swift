import AWS
import FathomAPI
import FathomCore
import FathomECS
import Foundation
import Logging

/// Runs each flow run as an ECS task: validates the run config again, registers the task
/// definition once per content hash, calls RunTask (idempotent by flow run id), and watches the
/// task with batched DescribeTasks until it stops.
public final class ECSLauncher: Launcher {
    public let name = "ecs"
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

    /// Refuses a loopback `runnerAPIURL`: a container cannot reach the agent's own 127.0.0.1.
    public init(
        api: APIClient, runnerAPIURL: String, token: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        pollInterval: Duration = .seconds(3), logger: Logger = Logger(label: "fathom.ecs")
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
        self.logger = logger
        self.watcher = ECSTaskWatcher(interval: pollInterval, logger: logger)
        self.registry = TaskDefinitionRegistry(logger: logger)
    }

    func ecs(for config: ECSRunConfig) throws -> (ECSClient, CloudWatchLogsClient, String) {
        let configuration = try AWSConfiguration(environment: environment, region: config.region)
        let client = AWSClient(configuration: configuration, credentials: credentials, logger: logger)
        return (ECSClient(client: client), CloudWatchLogsClient(client: client), configuration.region)
    }

    static func config(of version: FlowVersion) throws -> ECSRunConfig {
        guard version.runConfig.launcher == "ecs" else {
            throw LaunchError("flow \(version.flowName) v\(version.version) has a '\(version.runConfig.launcher)' run config; this agent launches ECS tasks")
        }
        do {
            return try ECSRunConfig(version.runConfig.settings)
        } catch {
            throw LaunchError("the ECS run config is invalid:\n" + error.errors.map { "  \($0)" }.joined(separator: "\n"))
        }
    }

    public func launch(_ claimed: ClaimedRun) async throws -> any LaunchedRun {
        let config = try Self.config(of: claimed.version)
        let (ecs, logs, region) = try ecs(for: config)
        let (request, hash) = ECSRender.registerTaskDefinition(config)
        let (definitionArn, registered) = try await registry.arn(for: request, hash: hash, ecs: ecs)
        if registered {
            _ = try? await api.sendLogs(claimed.run.id, [LogEntry(
                timestamp: Date(), level: "info", message: "registered task definition \(definitionArn)", source: "agent")])
        }
        if config.plaintextToken && token != nil {
            _ = try? await api.sendLogs(claimed.run.id, [LogEntry(
                timestamp: Date(), level: "warning",
                message: "plaintextToken is on: the API token travels as plaintext container environment, visible to anyone who can describe the task. Prefer apiTokenSecret.",
                source: "agent")])
        }
        let context = ECSLaunchContext(flowRunID: claimed.run.id, flowName: claimed.version.flowName, apiURL: runnerAPIURL, token: token)
        let taskArn = try await runTask(config, definitionArn: definitionArn, context: context, ecs: ecs, runID: claimed.run.id)
        return await watch(
            config: config, ecs: ecs, logs: logs, region: region, taskArn: taskArn, definitionArn: definitionArn, context: context)
    }

    /// Starts watching a task; a retried start runs the same request with the next attempt number.
    func watch(
        config: ECSRunConfig, ecs: ECSClient, logs: CloudWatchLogsClient, region: String, taskArn: String, definitionArn: String,
        context: ECSLaunchContext
    ) async -> ECSLaunchedRun {
        let run = ECSLaunchedRun(
            launcher: self, config: config, ecs: ecs, logs: logs, region: region, runID: context.flowRunID, taskArn: taskArn,
            definitionArn: definitionArn) { attempt in
                var retry = context
                retry.attempt = attempt
                return try await self.runTask(config, definitionArn: definitionArn, context: retry, ecs: ecs, runID: context.flowRunID)
            }
        await run.start()
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
            guard attempt < 6, failures.allSatisfy({ ECSDiagnosis.isTransientRunTaskFailure($0.reason ?? "") }), !failures.isEmpty else {
                throw LaunchError("RunTask failed: \(reasons.isEmpty ? "no task and no failure reported" : reasons)")
            }
            _ = try? await api.sendLogs(runID, [LogEntry(
                timestamp: Date(), level: "warning", message: "RunTask: \(reasons); retrying in \(delay)", source: "agent")])
            try await Task.sleep(for: delay)
            delay = delay * 2
        }
        throw LaunchError("RunTask failed")
    }

    public func reattach(_ run: FlowRun, version: FlowVersion) async throws -> (any LaunchedRun)? {
        let config = try Self.config(of: version)
        let (ecs, logs, region) = try ecs(for: config)
        guard let taskArn = run.infrastructure["taskArn"] else { return nil }
        let described = try await ecs.describeTasks(cluster: config.cluster, tasks: [taskArn])
        guard let task = described.tasks?.first else { return nil }
        let definitionArn = run.infrastructure["taskDefinition"] ?? task.taskDefinitionArn ?? ""
        let context = ECSLaunchContext(flowRunID: run.id, flowName: run.flowName, apiURL: runnerAPIURL, token: token)
        return await watch(
            config: config, ecs: ecs, logs: logs, region: region, taskArn: taskArn, definitionArn: definitionArn, context: context)
    }
}
