import FathomCore
import Foundation

/// The CloudFormation template of Fathom on AWS: EFS with an access point, the flows' and EFS's security groups, the
/// bundle bucket, the ECS cluster with Fargate and Fargate Spot, the log group, the API token secret, the IAM roles
/// (from ``FathomPolicies``), the agent as an ECS service, and, with ``InfraOptions/coordinator``, the coordinator
/// on RDS PostgreSQL behind a load balancer with a Cloud Map name for the runner URL. Its outputs are what a run
/// config needs (``StackRunConfig``).
public struct InfraTemplate: Sendable {
    public let options: InfraOptions

    /// The new VPC's address range.
    static let newVPCRange = "10.0.0.0/16"
    /// Where flows mount the volume, and its name in flows (`context.volume("scratch")`).
    public static let volumeName = "scratch"
    public static let containerPath = "/mnt/efs"
    /// The access point's root on the file system.
    public static let volumeRoot = "/fathom"
    /// The coordinator's port in its container.
    static let coordinatorPort = 4200

    /// Checks the options; throws every problem at once.
    public init(options: InfraOptions) throws(ValidationErrors) {
        let problems = options.problems()
        guard problems.isEmpty else { throw ValidationErrors(problems) }
        self.options = options
    }

    /// The whole template.
    public var template: CFNValue {
        var pairs: [(String, CFNValue)] = [
            ("AWSTemplateFormatVersion", "2010-09-09"),
            ("Description", .string(description)),
            ("Parameters", .map(parameters)),
        ]
        if !conditions.isEmpty { pairs.append(("Conditions", .map(conditions))) }
        let left = Set(resources.filter { options.leaveOut.contains($0.1["Type"].flatMap(\.strings.first) ?? "") }.map(\.0))
        let kept = resources.filter { !left.contains($0.0) }.compactMap { id, value in value.pruned(removing: left).map { (id, $0) } }
        let shown = outputs.compactMap { key, value in value["Value"]?.pruned(removing: left).map { _ in (key, value) } }
        pairs += [("Resources", .map(kept)), ("Outputs", .map(shown))]
        return .map(pairs)
    }

    /// The template as YAML.
    public func yaml() throws -> String {
        "# Fathom on AWS, made by `fathom infra template`. Review it, then deploy:\n"
            + "#   aws cloudformation deploy --template-file fathom.yaml --stack-name \(options.prefix) --capabilities CAPABILITY_IAM \\\n"
            + "#     --parameter-overrides Image=<the runner image>\(options.coordinator ? "" : " CoordinatorURL=<where tasks reach the coordinator>")\n"
            + (try template.yaml())
    }

    var description: String {
        "Fathom: an ECS cluster running flows as Fargate tasks with an EFS volume, the agent"
            + (options.coordinator ? ", the coordinator on RDS PostgreSQL" : "") + ", the bundle bucket, the token and least-privilege roles."
    }

    var parameters: [(String, CFNValue)] {
        var parameters: [(String, CFNValue)] = [
            ("Image", [
                "Type": "String", "MinLength": 1,
                "Description": "The Fathom runner image for flows, the agent and the coordinator (docs/shipping.md), e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/fathom-runner:1.0",
            ])
        ]
        if options.coordinator {
            parameters.append(("DatabaseInstanceClass", [
                "Type": "String", "Default": "db.t4g.micro", "AllowedPattern": #"^db\.[a-z0-9]+\.[a-z0-9]+$"#,
                "Description": "The RDS instance class of the coordinator's PostgreSQL database.",
            ]))
        } else {
            parameters.append(("CoordinatorURL", [
                "Type": "String", "AllowedPattern": #"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$"#,
                "ConstraintDescription": "an http(s) URL with a host and an optional port, e.g. http://fathom.internal:4200",
                "Description": "Where the agent and the flow tasks reach the Fathom coordinator (its runner URL).",
            ]))
        }
        return parameters
    }

    var conditions: [(String, CFNValue)] { [] }

    var resources: [(String, CFNValue)] {
        network + securityGroups + fileSystem + bundleBucket + logsAndToken + roles + cluster + agent + (options.coordinator ? coordinator : [])
    }

    var outputs: [(String, CFNValue)] {
        func output(_ name: String, _ value: CFNValue, _ description: String) -> (String, CFNValue) {
            (name, ["Description": .string(description), "Value": value])
        }
        return [
            output("Cluster", .ref("Cluster"), "The ECS cluster flows run on (run config: cluster)."),
            output("Region", .ref("AWS::Region"), "The region (run config: region)."),
            output("Subnets", .join(",", .list(subnets)), "The subnets of flow tasks (run config: network.subnets)."),
            output("TaskSecurityGroup", .getAtt("TaskSecurityGroup", "GroupId"), "The flow tasks' security group (run config: network.securityGroups)."),
            output("AssignPublicIp", options.publicIP ? "ENABLED" : "DISABLED", "Whether flow tasks get a public IP (run config: network.assignPublicIp)."),
            output("FileSystem", .ref("FileSystem"), "The EFS file system (run config: efs[].fileSystemId)."),
            output("AccessPoint", .ref("AccessPoint"), "The access point flows mount (run config: efs[].accessPointId)."),
            output("LogGroup", .ref("LogGroup"), "The log group of flows, the agent and the coordinator (run config: logs.group)."),
            output("TaskExecutionRoleArn", .getAtt("TaskExecutionRole", "Arn"), "The task execution role (run config: executionRoleArn)."),
            output("FlowTaskRoleArn", .getAtt("FlowTaskRole", "Arn"), "The flow tasks' role (run config: taskRoleArn)."),
            output("TokenSecretArn", tokenSecret, "The API token's secret (run config: apiTokenSecret)."),
            output("BundleStorage", .sub("s3://${BundleBucket}"), "Where bundles go (fathom register --storage, fathom server --storage)."),
            output("RunnerURL", runnerURL, "Where the agent and flow tasks reach the coordinator."),
            output("CoordinatorURL", coordinatorURL, "Where users reach the coordinator (FATHOM_API_URL)."),
            output("Image", .ref("Image"), "The runner image (run config: image)."),
            output("Prefix", .string(options.prefix), "The names' prefix (run config: the task definition family)."),
        ]
    }

    /// The subnets tasks, mount targets, the database and the load balancer use.
    var subnets: [CFNValue] {
        if let network = options.existingNetwork { return network.subnetIDs.map { .string($0) } }
        return (1...2).map { .ref("Subnet\($0)") }
    }

    var vpc: CFNValue { options.existingNetwork.map { .string($0.vpcID) } ?? .ref("VPC") }

    /// The API token's secret: the one given, else the one the stack generates.
    var tokenSecret: CFNValue { options.tokenSecretARN.map { .string($0) } ?? .ref("TokenSecret") }

    /// Where the agent and flows reach the coordinator: its Cloud Map name in the stack, else the parameter.
    var runnerURL: CFNValue {
        options.coordinator ? .string("http://coordinator.\(options.prefix).internal:\(Self.coordinatorPort)") : .ref("CoordinatorURL")
    }

    var coordinatorURL: CFNValue {
        options.coordinator ? .sub("\(options.certificateARN == nil ? "http" : "https")://${LoadBalancer.DNSName}") : .ref("CoordinatorURL")
    }

    /// A resource with its properties; `retain` keeps it (and its data) when the stack is deleted or replaces it.
    static func resource(
        _ type: String, _ properties: [(String, CFNValue)], dependsOn: [String] = [], retain: String? = nil
    ) -> CFNValue {
        var pairs: [(String, CFNValue)] = [("Type", .string(type))]
        if !dependsOn.isEmpty { pairs.append(("DependsOn", .list(dependsOn.map { .string($0) }))) }
        if let retain { pairs += [("DeletionPolicy", .string(retain)), ("UpdateReplacePolicy", .string(retain))] }
        pairs.append(("Properties", .map(properties)))
        return .map(pairs)
    }

    /// `[{Key: Name, Value: <stack>-<suffix>}]`.
    static func nameTag(_ suffix: String) -> CFNValue { [["Key": "Name", "Value": .sub("${AWS::StackName}-\(suffix)")]] }
}
