import FathomCore
import Foundation

/// One EFS volume a flow mounts: `efs:` in an ECS run config.
public struct EFSVolume: Sendable, Equatable {
    /// The volume name the flow asks for (`context.volume("scratch")`), also the task definition volume name.
    public var name: String
    public var fileSystemID: String
    public var accessPointID: String?
    public var rootDirectory: String?
    /// Where the flow container sees it.
    public var containerPath: String
    /// nil means: on when IAM or an access point needs it, else off.
    public var transitEncryption: Bool?
    public var iam: Bool
    public var readOnly: Bool

    /// Whether traffic to the file system is encrypted in transit.
    public var encryptsInTransit: Bool { transitEncryption ?? (iam || accessPointID != nil) }
}

/// `network:` in an ECS run config: the awsvpc configuration.
public struct ECSNetwork: Sendable, Equatable {
    public var subnets: [String]
    public var securityGroups: [String]
    /// `ENABLED` or `DISABLED`.
    public var assignPublicIp: String
}

/// `logs:` in an ECS run config: where the flow container's output goes (awslogs).
public struct ECSLogs: Sendable, Equatable {
    public var group: String
    public var streamPrefix: String
    public var createGroup: Bool
    /// The log group's region; the run config's region when absent.
    public var region: String?
}

/// How a flow runs as an ECS task: an `ecs:` run config, parsed and checked.
///
/// Every setting has the AWS spelling where AWS has one; `taskDefinition` is exactly what
/// `aws ecs register-task-definition --cli-input-json` takes, and `runTask` holds extra RunTask fields.
public struct ECSRunConfig: Sendable {
    public var cluster: String
    public var region: String?
    /// `FARGATE`, `EC2` or `EXTERNAL`; nil when a capacity provider strategy is used.
    public var launchType: String?
    public var capacityProviderStrategy: [JSONValue]?
    public var platformVersion: String?
    /// The base task definition, in AWS's RegisterTaskDefinition shape.
    public var taskDefinition: JSONValue
    /// The file it came from, for messages.
    public var taskDefinitionSource: String?
    /// The container that runs the flow.
    public var container: String
    public var image: String?
    public var cpu: String?
    public var memory: String?
    public var taskRoleArn: String?
    public var executionRoleArn: String?
    public var env: [String: String]
    public var efs: [EFSVolume]
    public var network: ECSNetwork?
    public var logs: ECSLogs?
    /// Extra RunTask fields, in AWS's RunTask shape.
    public var runTask: [String: JSONValue]
    /// A Secrets Manager or SSM parameter ARN holding the coordinator token.
    public var apiTokenSecret: String?
    /// Send the token as plaintext env instead (explicit opt-in).
    public var plaintextToken: Bool
    /// A task not RUNNING this long after RunTask (each start attempt anew) is stopped and the run Crashed.
    public var startTimeoutSeconds: Int
    /// How often a task that failed to start for a transient cause is tried again.
    public var startRetries: Int
    /// A RUNNING task whose flow has not reported to the coordinator after this long is stopped and the
    /// run Crashed: the container cannot reach the coordinator (runner URL, security group egress, DNS).
    public var reportTimeoutSeconds: Int = 300
    /// DescribeTasks failing this long without a break (denied, expired credentials, throttled, unreachable)
    /// ends the run Crashed, naming the error; the first failure is in the run's logs at once.
    public var awsErrorTimeoutSeconds: Int = 120
    /// How long after RunTask a task reported `MISSING` is taken for ECS's eventual consistency.
    public var missingGraceSeconds: Int = 60

    /// Whether the task runs on Fargate (launch type or capacity provider).
    public var isFargate: Bool {
        if let launchType { return launchType == "FARGATE" }
        return (capacityProviderStrategy ?? []).contains { ($0["capacityProvider"].stringValue ?? "").hasPrefix("FARGATE") }
    }

    /// Whether any volume is EFS: an `efs:` entry or an `efsVolumeConfiguration` in the task definition.
    public var mountsEFS: Bool {
        !efs.isEmpty || (taskDefinition["volumes"].arrayValue ?? []).contains { $0["efsVolumeConfiguration"] != .null }
    }

    /// The keys an `ecs:` section may have.
    public static let keys = [
        "cluster", "region", "launchType", "capacityProviderStrategy", "platformVersion", "taskDefinition", "container", "image",
        "cpu", "memory", "taskRoleArn", "executionRoleArn", "env", "efs", "network", "logs", "runTask", "apiTokenSecret",
        "plaintextToken", "startTimeoutSeconds", "startRetries", "reportTimeoutSeconds", "awsErrorTimeoutSeconds", "missingGraceSeconds",
    ]
    static let efsKeys = ["name", "fileSystemId", "accessPointId", "rootDirectory", "containerPath", "transitEncryption", "iam", "readOnly"]
    static let networkKeys = ["subnets", "securityGroups", "assignPublicIp"]
    static let logsKeys = ["group", "streamPrefix", "createGroup", "region"]
}
