import AWS
import FathomAPI
import FathomCore
import FathomProcess
import Foundation
import Testing

/// Plays ECS's part for tasks that moto only records: for each RUNNING task Fathom started, it runs
/// the container's command as Docker composes it (the task definition's entryPoint, else the runner
/// image's ENTRYPOINT from the Dockerfile; RunTask's command override, else CMD) as a local process
/// with the override's environment, the coordinator reached over loopback and `/mnt/efs` mapped to a local
/// directory; it copies the process output into the task's CloudWatch stream (as awslogs would),
/// and when the process exits it stops the task (as ECS does when the essential container exits).
///
/// With ``Engine/podman(image:coordinatorHost:)`` it runs each task's container for real instead
/// (see `ECSContainerHarness+Podman.swift`).
final class ECSContainerHarness: Sendable {
    /// What plays the container.
    enum Engine: Sendable {
        /// The container's command as a local process.
        case process
        /// A real container of `image`, reaching the coordinator as `coordinatorHost` (the runner URL's host).
        case podman(image: String, coordinatorHost: String)
    }

    let ecs: ECSClient
    let logs: CloudWatchLogsClient
    let cluster: String
    let coordinatorURL: String
    let efsDirectory: String
    let cacheDirectory: String
    let logGroup: String?
    let logPrefix: String
    let engine: Engine
    /// Told of each container's exit (task ARN, exit code, ECS's container reason), as ECS would report it.
    let onExit = Locked<(@Sendable (String, Int32, String?) -> Void)?>(nil)
    /// Containers run by podman, by task ARN, and those whose exit was handled.
    let containers = Locked<[String: String]>([:])
    let handled = Locked<Set<String>>([])
    /// The `podman` arguments each task's container was started with, by task ARN.
    let podmanRuns = Locked<[String: [String]]>([:])
    /// Tasks to leave alone (a test stops them itself).
    let ignored = Locked<Set<String>>([])
    private let started = Locked<[String: BackgroundProcess]>([:])
    private let commands = Locked<[String: [String]]>([:])
    private let loop = Locked<Task<Void, Never>?>(nil)

    init(
        client: AWSClient, cluster: String, coordinatorURL: String, efsDirectory: String, cacheDirectory: String,
        logGroup: String?, logPrefix: String = "hello", engine: Engine = .process
    ) {
        self.engine = engine
        ecs = ECSClient(client: client)
        logs = CloudWatchLogsClient(client: client)
        self.cluster = cluster
        self.coordinatorURL = coordinatorURL
        self.efsDirectory = efsDirectory
        self.cacheDirectory = cacheDirectory
        self.logGroup = logGroup
        self.logPrefix = logPrefix
    }

    func start() {
        let task = Task {
            while !Task.isCancelled {
                await self.step()
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        loop.withLock { $0 = task }
    }

    func stop() async {
        loop.withLock { $0?.cancel() }
        for process in started.value.values { await process.stop() }
        for name in containers.value.values { _ = try? await Podman.run(["rm", "--force", "--time", "1", name]) }
    }

    /// The processes started so far, by task ARN.
    var processes: [String: BackgroundProcess] { started.value }

    func step() async {
        guard let arns = try? await ecs.listTasks(cluster: cluster, startedBy: "fathom"), !arns.isEmpty,
              let described = try? await ecs.describeTasks(cluster: cluster, tasks: arns)
        else { return }
        for task in described.tasks ?? [] {
            guard let arn = task.taskArn else { continue }
            if case .podman(let image, let host) = engine {
                await podmanStep(task, arn: arn, image: image, coordinatorHost: host)
                continue
            }
            let process = started.value[arn]
            if task.lastStatus == "STOPPED" {
                if let process, process.pid != nil { await process.stop() }  // StopTask kills the container
                continue
            }
            if ignored.value.contains(arn) { continue }
            if let process {
                if process.isFinished {
                    await ship(process, arn: arn)
                    _ = try? await ecs.stopTask(cluster: cluster, task: arn, reason: "Essential container in task exited")
                }
                continue
            }
            await launch(task, arn: arn)
        }
    }

    /// The flow container's definition in the task's task definition, and RunTask's override of it.
    func definitionAndOverride(_ task: ECSTask) async -> (container: JSONValue, override: JSONValue, taskDefinition: JSONValue) {
        let override = task.overrides?["containerOverrides"][0] ?? .null
        let name = override["name"].stringValue ?? "flow"
        guard let definition = task.taskDefinitionArn, let described = try? await ecs.describeTaskDefinition(definition),
              let taskDefinition = described.taskDefinition
        else { return (.null, override, .null) }
        let container = (taskDefinition.containerDefinitions ?? []).first { $0["name"].stringValue == name } ?? .null
        return (container, override, ["volumes": .array(taskDefinition.volumes ?? []), "memory": taskDefinition.memory.map(JSONValue.string) ?? .null])
    }

    private func launch(_ task: ECSTask, arn: String) async {
        let override = task.overrides?["containerOverrides"][0] ?? .null
        let name = override["name"].stringValue ?? "flow"
        var container: JSONValue = .null
        if let definition = task.taskDefinitionArn, let described = try? await ecs.describeTaskDefinition(definition) {
            container = (described.taskDefinition?.containerDefinitions ?? []).first { $0["name"].stringValue == name } ?? .null
        }
        let argv = DockerImage.runner.argv(
            entryPoint: container["entryPoint"].arrayValue?.compactMap(\.stringValue),
            command: override["command"].arrayValue?.compactMap(\.stringValue) ?? container["command"].arrayValue?.compactMap(\.stringValue))
        var environment: [String: String] = [:]
        for variable in override["environment"].arrayValue ?? [] {
            if let name = variable["name"].stringValue, let value = variable["value"].stringValue { environment[name] = value }
        }
        environment["FATHOM_API_URL"] = coordinatorURL
        environment["FATHOM_BUNDLE_CACHE"] = cacheDirectory
        environment["FATHOM_VOLUMES"] = environment["FATHOM_VOLUMES"]?.replacingOccurrences(of: "/mnt/efs", with: efsDirectory)
        environment["FATHOM_HEARTBEAT_SECONDS"] = "1"
        commands.withLock { $0[arn] = argv }
        // The image has only fathom on its PATH: anything else fails as Docker's exec would.
        let executable = argv.first.map { $0 == "fathom" || $0.hasSuffix("/fathom") ? TestPaths.fathom : $0 } ?? "/nonexistent"
        started.withLock { $0[arn] = BackgroundProcess(executable, Array(argv.dropFirst()), environment: environment) }
    }

    /// The argv each task's container ran, by task ARN.
    var containerCommands: [String: [String]] { commands.value }

    /// Copies the process output into `<prefix>/flow/<task id>`, as the awslogs driver would.
    func ship(_ process: BackgroundProcess, arn: String) async {
        await putLogs(process.output, arn: arn)
    }

    func putLogs(_ lines: [String], arn: String) async {
        guard let logGroup, !lines.isEmpty else { return }
        let stream = "\(logPrefix)/flow/\(arn.split(separator: "/").last ?? "")"
        _ = try? await logs.call("CreateLogGroup", ["logGroupName": .string(logGroup)])
        _ = try? await logs.call("CreateLogStream", ["logGroupName": .string(logGroup), "logStreamName": .string(stream)])
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        _ = try? await logs.call("PutLogEvents", [
            "logGroupName": .string(logGroup), "logStreamName": .string(stream),
            "logEvents": .array(lines.enumerated().map { ["timestamp": .int(now + Int64($0.offset)), "message": .string($0.element)] }),
        ])
    }
}
