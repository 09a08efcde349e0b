import AWS
import FathomCore

/// A ready ECS run config from the outputs of a stack `fathom infra template` made: the cluster, subnets and
/// security group, the volume through its access point (TLS and IAM on), the roles, the token secret, the logs.
public struct StackRunConfig: Sendable {
    public var stack: CloudFormationStack
    /// The flow task's size (a Fargate pair; `fathom ecs validate` checks it).
    public var cpu = 1024
    public var memory = 2048

    public init(stack: CloudFormationStack) {
        self.stack = stack
    }

    /// The outputs a run config is made from.
    public static let requiredOutputs = [
        "Cluster", "Region", "Subnets", "TaskSecurityGroup", "AssignPublicIp", "FileSystem", "AccessPoint", "LogGroup",
        "TaskExecutionRoleArn", "FlowTaskRoleArn", "TokenSecretArn", "Image", "Prefix",
    ]

    /// The run config as YAML; refuses a stack that is not usable or lacks an output, saying which and why.
    public func yaml() throws -> String {
        guard stack.isUsable else {
            throw ValidationError(
                code: "stack_not_ready", field: "STACK",
                problem: "stack \(stack.name) is \(stack.status)\(stack.statusReason.map { " (\($0))" } ?? "")",
                fix: "Wait for CREATE_COMPLETE or UPDATE_COMPLETE ('aws cloudformation wait stack-create-complete --stack-name \(stack.name)'), or read its events.")
        }
        let missing = Self.requiredOutputs.filter { (stack.outputs[$0] ?? "").isEmpty }
        guard missing.isEmpty else {
            throw ValidationError(
                code: "not_a_fathom_stack", field: "STACK",
                problem: "stack \(stack.name) has no output \(missing.joined(separator: ", "))",
                fix: "Name a stack deployed from 'fathom infra template' (its outputs are what a run config needs).")
        }
        let output = { (key: String) in self.stack.outputs[key] ?? "" }
        let subnets = output("Subnets").split(separator: ",").map { CFNValue.string(String($0)) }
        let config: CFNValue = ["ecs": [
            "cluster": .string(output("Cluster")),
            "region": .string(output("Region")),
            "launchType": "FARGATE",
            "taskDefinition": [
                "family": .string("\(output("Prefix"))-flow"),
                "containerDefinitions": [["name": "flow", "image": .string(output("Image")), "essential": true]],
            ],
            "image": .string(output("Image")),
            "cpu": .int(cpu), "memory": .int(memory),
            "taskRoleArn": .string(output("FlowTaskRoleArn")),
            "executionRoleArn": .string(output("TaskExecutionRoleArn")),
            "apiTokenSecret": .string(output("TokenSecretArn")),
            "efs": [[
                "name": .string(InfraTemplate.volumeName), "fileSystemId": .string(output("FileSystem")),
                "accessPointId": .string(output("AccessPoint")), "containerPath": .string(InfraTemplate.containerPath),
                "transitEncryption": true, "iam": true,
            ]],
            "network": [
                "subnets": .list(subnets), "securityGroups": [.string(output("TaskSecurityGroup"))],
                "assignPublicIp": .bool(output("AssignPublicIp") == "ENABLED"),
            ],
            "logs": ["group": .string(output("LogGroup")), "streamPrefix": "flows"],
        ]]
        return "# Made by `fathom infra run-config \(stack.name)` from the stack's outputs.\n"
            + "# fathom register <bundle> --run-config <this file>\(stack.outputs["BundleStorage"].map { " --storage \($0)" } ?? "")\n"
            + (try config.yaml())
    }
}
