import FathomCore
import Foundation

/// ECS, JSON 1.1. Requests that carry user-written AWS JSON (task definitions, RunTask) take a
/// ``JSONValue`` in AWS's own shape; answers decode into tolerant structs.
public struct ECSClient: Sendable {
    let caller: JSONProtocolCaller

    public init(client: AWSClient) {
        caller = JSONProtocolCaller(client: client, service: .ecs, targetPrefix: "AmazonEC2ContainerServiceV20141113")
    }

    /// Any ECS action with AWS-shaped JSON in and out (for actions without a typed wrapper).
    public func call(_ action: String, _ input: JSONValue) async throws -> JSONValue {
        try await caller.call(AWSOperation(.ecs, action), input)
    }

    /// Not idempotent: each call makes a new revision, so it is repeated only when throttled.
    public func registerTaskDefinition(_ input: JSONValue) async throws -> ECSTaskDefinitionOutput {
        try await caller.call(AWSOperation.ECS.registerTaskDefinition, input, idempotent: false)
    }

    public func describeTaskDefinition(_ taskDefinition: String, includeTags: Bool = true) async throws -> ECSTaskDefinitionOutput {
        try await caller.call(AWSOperation.ECS.describeTaskDefinition, DescribeTaskDefinitionInput(
            taskDefinition: taskDefinition, include: includeTags ? ["TAGS"] : nil))
    }

    /// Every ARN, following `nextToken`.
    public func listTaskDefinitions(familyPrefix: String? = nil, status: String? = "ACTIVE", pageSize: Int = 100) async throws -> [String] {
        var arns: [String] = []
        var token: String?
        repeat {
            let page: ListTaskDefinitionsOutput = try await caller.call(AWSOperation.ECS.listTaskDefinitions, ListTaskDefinitionsInput(
                familyPrefix: familyPrefix, status: status, sort: "DESC", nextToken: token, maxResults: pageSize))
            arns += page.taskDefinitionArns ?? []
            token = page.nextToken
        } while token != nil
        return arns
    }

    public func deregisterTaskDefinition(_ taskDefinition: String) async throws -> ECSTaskDefinitionOutput {
        try await caller.call(AWSOperation.ECS.deregisterTaskDefinition, ["taskDefinition": taskDefinition])
    }

    public func runTask(_ input: JSONValue) async throws -> RunTaskOutput {
        try await caller.call(AWSOperation.ECS.runTask, input)
    }

    /// Describes any number of tasks, 100 per call.
    public func describeTasks(cluster: String, tasks: [String]) async throws -> DescribeTasksOutput {
        var result = DescribeTasksOutput(tasks: [], failures: [])
        for start in stride(from: 0, to: tasks.count, by: 100) {
            let batch = Array(tasks[start..<min(start + 100, tasks.count)])
            let page: DescribeTasksOutput = try await caller.call(
                AWSOperation.ECS.describeTasks, DescribeTasksInput(cluster: cluster, tasks: batch, include: ["TAGS"]))
            result.tasks = (result.tasks ?? []) + (page.tasks ?? [])
            result.failures = (result.failures ?? []) + (page.failures ?? [])
        }
        return result
    }

    public func stopTask(cluster: String, task: String, reason: String) async throws -> ECSTask? {
        let output: StopTaskOutput = try await caller.call(AWSOperation.ECS.stopTask, ["cluster": cluster, "task": task, "reason": reason])
        return output.task
    }

    /// Every task ARN, following `nextToken`.
    public func listTasks(cluster: String, startedBy: String? = nil, family: String? = nil, desiredStatus: String? = nil) async throws -> [String] {
        var arns: [String] = []
        var token: String?
        repeat {
            let page: ListTasksOutput = try await caller.call(AWSOperation.ECS.listTasks, ListTasksInput(
                cluster: cluster, startedBy: startedBy, family: family, desiredStatus: desiredStatus, nextToken: token))
            arns += page.taskArns ?? []
            token = page.nextToken
        } while token != nil
        return arns
    }

    public func describeClusters(_ clusters: [String]) async throws -> DescribeClustersOutput {
        try await caller.call(AWSOperation.ECS.describeClusters, ["clusters": clusters])
    }
}

struct DescribeTaskDefinitionInput: Encodable {
    var taskDefinition: String
    var include: [String]?
}

struct ListTaskDefinitionsInput: Encodable {
    var familyPrefix: String?
    var status: String?
    var sort: String?
    var nextToken: String?
    var maxResults: Int?
}

struct ListTaskDefinitionsOutput: Decodable {
    var taskDefinitionArns: [String]?
    var nextToken: String?
}

struct DescribeTasksInput: Encodable {
    var cluster: String
    var tasks: [String]
    var include: [String]?
}

struct ListTasksInput: Encodable {
    var cluster: String
    var startedBy: String?
    var family: String?
    var desiredStatus: String?
    var nextToken: String?
}

struct ListTasksOutput: Decodable {
    var taskArns: [String]?
    var nextToken: String?
}

struct StopTaskOutput: Decodable {
    var task: ECSTask?
}

/// `{key, value}` as ECS spells tags.
public struct ECSTag: Codable, Sendable, Equatable {
    public var key: String?
    public var value: String?

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// A registered task definition (the fields Fathom reads; the rest is kept raw).
public struct ECSTaskDefinition: Decodable, Sendable {
    public var taskDefinitionArn: String?
    public var family: String?
    public var revision: Int?
    public var status: String?
    public var networkMode: String?
    public var requiresCompatibilities: [String]?
    public var cpu: String?
    public var memory: String?
    public var containerDefinitions: [JSONValue]?
    public var volumes: [JSONValue]?
}

public struct ECSTaskDefinitionOutput: Decodable, Sendable {
    public var taskDefinition: ECSTaskDefinition?
    public var tags: [ECSTag]?
}

/// A failure entry of RunTask, DescribeTasks, DescribeClusters.
public struct ECSFailure: Decodable, Sendable, Equatable {
    public var arn: String?
    public var reason: String?
    public var detail: String?
}

public struct ECSContainer: Decodable, Sendable {
    public var name: String?
    public var containerArn: String?
    public var lastStatus: String?
    public var exitCode: Int?
    public var reason: String?
}

/// `{sizeInGiB}` of a task's ephemeral storage.
public struct ECSEphemeralStorage: Decodable, Sendable {
    public var sizeInGiB: Int?
}

/// `{name, value}` of a task attribute.
public struct ECSAttribute: Decodable, Sendable {
    public var name: String?
    public var value: String?
}

/// A task as DescribeTasks reports it.
public struct ECSTask: Decodable, Sendable {
    public var taskArn: String?
    public var clusterArn: String?
    public var taskDefinitionArn: String?
    public var lastStatus: String?
    public var desiredStatus: String?
    public var stopCode: String?
    public var stoppedReason: String?
    public var startedBy: String?
    public var launchType: String?
    /// `FARGATE`, `FARGATE_SPOT` or an Auto Scaling group provider, when a capacity provider placed it.
    public var capacityProviderName: String?
    public var platformVersion: String?
    /// The task's size: cpu units (1024 = 1 vCPU) and memory MiB, as strings.
    public var cpu: String?
    public var memory: String?
    /// Fargate's ephemeral storage, when more than the 20 GiB every task has was asked for.
    public var ephemeralStorage: ECSEphemeralStorage?
    /// Facts such as `ecs.cpu-architecture` (`x86_64`, `arm64`).
    public var attributes: [ECSAttribute]?
    public var createdAt: Double?
    /// When the image pull began: Fargate bills from here.
    public var pullStartedAt: Double?
    public var pullStoppedAt: Double?
    public var startedAt: Double?
    public var executionStoppedAt: Double?
    public var stoppedAt: Double?
    public var containers: [ECSContainer]?
    public var tags: [ECSTag]?
    public var overrides: JSONValue?
}

public struct RunTaskOutput: Decodable, Sendable {
    public var tasks: [ECSTask]?
    public var failures: [ECSFailure]?
}

public struct DescribeTasksOutput: Decodable, Sendable {
    public var tasks: [ECSTask]?
    public var failures: [ECSFailure]?
}

public struct ECSCluster: Decodable, Sendable {
    public var clusterArn: String?
    public var clusterName: String?
    public var status: String?
    /// The capacity providers associated with it (`FARGATE`, `FARGATE_SPOT`, Auto Scaling group providers).
    public var capacityProviders: [String]?
}

public struct DescribeClustersOutput: Decodable, Sendable {
    public var clusters: [ECSCluster]?
    public var failures: [ECSFailure]?
}
