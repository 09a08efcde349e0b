import AWS
import FathomAgent
import FathomStorage

/// The IAM policies of Fathom's roles, made from the AWS operations each part of Fathom sends
/// (``ECSLauncher/awsOperations``, ``ECSPreflight/awsOperations``, ``S3FlowStorage``'s lists). The template
/// (`fathom infra template`) and the docs (`fathom infra policies`, docs/shipping.md) both print these.
///
/// ARNs name the template's resources by their logical ids (`${Cluster}`, `${FileSystem}`, …), so each role reaches
/// only its own stack's cluster, file system, access point, bucket prefix, log group and secret.
public enum FathomPolicies {
    /// A role's trust and policy.
    public enum Role: String, Sendable, CaseIterable {
        /// The agent's task role: run and watch flow tasks, read their logs, the reads of `fathom ecs check`.
        case agent = "AgentTaskRole"
        /// The flow task's role: mount the volume through its access point, fetch bundles.
        case flow = "FlowTaskRole"
        /// The task execution role ECS itself uses: pull the image, write container logs, read the token.
        case taskExecution = "TaskExecutionRole"
        /// The coordinator's task role: store and serve bundles in S3.
        case coordinator = "CoordinatorTaskRole"
    }

    /// IAM permissions that are not API operations Fathom calls but that AWS checks on them: RunTask and
    /// RegisterTaskDefinition with tags need `ecs:TagResource` (ECS guide, "Grant permission to tag resources on
    /// creation"), and RunTask with a task role or an execution role needs `iam:PassRole` on them.
    public static let agentPermissionsOnOperations: Set<String> = ["ecs:TagResource", "iam:PassRole"]

    /// The permissions ECS needs to start a task (`AmazonECSTaskExecutionRolePolicy`, narrowed to the stack), plus
    /// reading the token secret.
    public static let taskExecutionActions: Set<String> = [
        "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
        "logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue",
    ]

    /// The EFS data-plane permissions a mount with `iam: true` checks (EFS guide, "Using IAM to control file system
    /// data access"): mount, and write unless read-only.
    public static let mountActions = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]

    static let account = "${AWS::Partition}:%@:${AWS::Region}:${AWS::AccountId}"
    static func arn(_ service: String, _ resource: String) -> String {
        "arn:" + account.replacingOccurrences(of: "%@", with: service) + ":" + resource
    }
    static let clusterARN = arn("ecs", "cluster/${Cluster}")
    static let fileSystemARN = arn("elasticfilesystem", "file-system/${FileSystem}")
    static let logGroupARN = arn("logs", "log-group:${LogGroup}:*")
    static let bundlesARN = "arn:${AWS::Partition}:s3:::${BundleBucket}/bundles/*"

    /// The policy of `role`; `databaseSecret` adds the coordinator's database password to what ECS may read.
    public static func policy(_ role: Role, databaseSecret: Bool = false) -> IAMPolicy {
        switch role {
        case .agent: return agent
        case .flow: return flow
        case .taskExecution: return taskExecution(databaseSecret: databaseSecret)
        case .coordinator: return coordinator
        }
    }

    static var agent: IAMPolicy {
        let ecs = ECSLauncher.awsOperations.filter { $0.service == .ecs }
        let onCluster = IAMStatement.Condition(test: "ArnEquals", key: "ecs:cluster", values: [clusterARN])
        let preflight = ECSPreflight.awsOperations
        return IAMPolicy(name: "fathom-agent", statements: [
            IAMStatement(
                sid: "TaskDefinitions", operations: ecs.filter { $0.name.hasSuffix("TaskDefinition") || $0.name.hasSuffix("TaskDefinitions") },
                resources: ["*"]),
            IAMStatement(
                sid: "RunFlowTasksOnTheCluster", operations: ecs.filter { $0.name == "RunTask" },
                resources: [arn("ecs", "task-definition/*:*")], conditions: [onCluster]),
            IAMStatement(
                sid: "WatchAndStopFlowTasks", operations: ecs.filter { ["DescribeTasks", "StopTask"].contains($0.name) },
                resources: [arn("ecs", "task/${Cluster}/*")]),
            IAMStatement(
                sid: "FindFlowTasksAfterARestart", operations: ecs.filter { $0.name == "ListTasks" }, resources: ["*"],
                conditions: [onCluster]),
            IAMStatement(
                sid: "TagWhatTheAgentCreates", actions: ["ecs:TagResource"],
                resources: [arn("ecs", "task/${Cluster}/*"), arn("ecs", "task-definition/*:*")],
                conditions: [.init(test: "StringEquals", key: "ecs:CreateAction", values: ["RunTask", "RegisterTaskDefinition"])]),
            IAMStatement(
                sid: "PassTheFlowRoles", actions: ["iam:PassRole"], resources: ["${FlowTaskRole.Arn}", "${TaskExecutionRole.Arn}"],
                conditions: [.init(test: "StringEquals", key: "iam:PassedToService", values: ["ecs-tasks.amazonaws.com"])]),
            IAMStatement(
                sid: "ReadFlowLogs", operations: ECSLauncher.awsOperations.filter { $0.service == .logs }, resources: [logGroupARN]),
            IAMStatement(sid: "CheckTheCluster", operations: preflight.filter { $0.service == .ecs }, resources: [clusterARN]),
            IAMStatement(
                sid: "CheckTheSetup", operations: preflight.filter { $0.service != .ecs }, resources: ["*"]),
        ])
    }

    static var flow: IAMPolicy {
        IAMPolicy(name: "fathom-flow", statements: [
            IAMStatement(
                sid: "MountTheVolumeThroughItsAccessPoint", actions: mountActions, resources: [fileSystemARN],
                conditions: [.init(
                    test: "StringEquals", key: "elasticfilesystem:AccessPointArn",
                    values: [arn("elasticfilesystem", "access-point/${AccessPoint}")])]),
            IAMStatement(sid: "FetchBundles", operations: S3FlowStorage.fetchingOperations, resources: [bundlesARN]),
        ])
    }

    static func taskExecution(databaseSecret: Bool) -> IAMPolicy {
        IAMPolicy(name: "fathom-task-execution", statements: [
            IAMStatement(sid: "SignInToECR", actions: ["ecr:GetAuthorizationToken"], resources: ["*"]),
            IAMStatement(
                sid: "PullImages", actions: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                resources: [arn("ecr", "repository/*")]),
            IAMStatement(sid: "WriteContainerLogs", actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [logGroupARN]),
            IAMStatement(
                sid: "ReadTheToken", actions: ["secretsmanager:GetSecretValue"],
                resources: ["${TokenSecret}"] + (databaseSecret ? ["${Database.MasterUserSecret.SecretArn}"] : [])),
        ])
    }

    static var coordinator: IAMPolicy {
        IAMPolicy(name: "fathom-coordinator", statements: [
            IAMStatement(sid: "StoreAndServeBundles", operations: S3FlowStorage.storingOperations, resources: [bundlesARN])
        ])
    }

    /// The example account the docs show the policies in.
    public static let exampleValues: [String: String] = [
        "AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "Cluster": "fathom",
        "FileSystem": "fs-12345678", "AccessPoint": "fsap-0123456789abcdef0", "BundleBucket": "fathom-bundles",
        "LogGroup": "/fathom/flows", "TokenSecret": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:fathom-token-AbCdEf",
        "FlowTaskRole.Arn": "arn:aws:iam::123456789012:role/fathom-flow",
        "TaskExecutionRole.Arn": "arn:aws:iam::123456789012:role/fathom-task-execution",
        "Database.MasterUserSecret.SecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0a1b2c3d-AbCdEf",
    ]

    /// Every role's policy as the docs show it (markdown: a heading and a JSON block per role).
    public static func markdown() -> String {
        Role.allCases.map { role in
            let policy = policy(role, databaseSecret: role == .taskExecution)
            return "### `\(policy.name)` (\(role.summary))\n\n```json\n\(policy.exampleJSON(exampleValues))\n```\n"
        }.joined(separator: "\n")
    }
}

extension FathomPolicies.Role {
    /// What the role is for, in a few words.
    public var summary: String {
        switch self {
        case .agent: return "the agent's task role"
        case .flow: return "the flow task's role"
        case .taskExecution: return "the task execution role of flows, the agent and the coordinator"
        case .coordinator: return "the coordinator's task role"
        }
    }
}
