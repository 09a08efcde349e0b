import AWS
import ArgumentParser
import FathomCore
import FathomECS
import FathomInfra
import Foundation

/// `fathom infra`: Fathom's whole AWS architecture as one CloudFormation template, and run configs from its stacks.
struct InfraCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infra", abstract: "Fathom on AWS from one CloudFormation template: print it, its IAM policies, and run configs from a stack.",
        subcommands: [InfraTemplateCommand.self, InfraRunConfigCommand.self, InfraPoliciesCommand.self])
}

/// `fathom infra template`.
struct InfraTemplateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "Print the CloudFormation template (YAML): EFS with an access point, security groups, the bundle bucket, the ECS cluster (Fargate, Fargate Spot), the log group, the token secret, least-privilege roles, the agent service, and optionally the coordinator on RDS PostgreSQL.",
        discussion: """
            Deploy it with: aws cloudformation deploy --template-file fathom.yaml --stack-name fathom --capabilities CAPABILITY_IAM \
            --parameter-overrides Image=<runner image> [CoordinatorURL=<url>]. Then: fathom infra run-config fathom --output ecs.yaml.
            """)

    @Option(help: "Names start with it (cluster, log group /fathom/<prefix>, agent, coordinator): 1-20 lowercase letters, digits, dashes.")
    var prefix = "fathom"

    @Option(help: "Use this existing VPC (with --subnets) instead of making a new one across two zones.")
    var vpc: String?

    @Option(help: "The existing VPC's subnets, comma-separated, at most one per Availability Zone (each gets an EFS mount target).")
    var subnets: String?

    @Flag(name: .customLong("assign-public-ip"), help: "Give tasks in existing subnets a public IP (subnets with an internet gateway and no NAT). Always on in a new VPC.")
    var assignPublicIP = false

    @Flag(help: "Run the coordinator in the stack too: ECS service behind a load balancer, RDS PostgreSQL, a Cloud Map name for the runner URL.")
    var coordinator = false

    @Flag(name: .customLong("internet-facing"), help: "With --coordinator: the load balancer faces the internet (open to --allow-from only).")
    var internetFacing = false

    @Option(name: .customLong("allow-from"), help: "With --coordinator: a CIDR range that may reach the load balancer; repeat for more (default: the new VPC's range).")
    var allowFrom: [String] = []

    @Option(name: .customLong("certificate-arn"), help: "With --coordinator: an ACM certificate for an HTTPS listener on 443 (else HTTP on 80).")
    var certificateARN: String?

    @Option(name: .customLong("token-secret"), help: "Use this Secrets Manager secret (full ARN) as the API token instead of generating one in the stack.")
    var tokenSecret: String?

    @Option(name: .customLong("ia-after-days"), help: "EFS moves files not read for this many days to Infrequent Access (1, 7, 14, 30, 60, 90, 180, 270, 365).")
    var infrequentAccessDays = 30

    @Option(name: .customLong("old-versions-days"), help: "Days a replaced bundle version stays in the bucket.")
    var oldVersionDays = 30

    @Option(name: .customLong("log-retention-days"), help: "CloudWatch Logs retention of the log group.")
    var logRetentionDays = 30

    @Option(help: "The runner image's numeric user: the access point's POSIX user and owner of /fathom.")
    var uid = 1000

    @Option(help: "The runner image's numeric group.")
    var gid = 1000

    @Option(name: .shortAndLong, help: "Write the template to this file (atomically) instead of standard output.")
    var output: String?

    func run() throws {
        var options = InfraOptions()
        options.prefix = prefix
        if vpc != nil || subnets != nil {
            guard let vpc, let subnets else { throw CLIError("--vpc and --subnets go together: give both, or neither for a new VPC") }
            options.existingNetwork = .init(vpcID: vpc, subnetIDs: subnets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        options.assignPublicIP = assignPublicIP
        options.coordinator = coordinator
        options.internetFacing = internetFacing
        options.loadBalancerCIDRs = allowFrom
        options.certificateARN = certificateARN
        options.tokenSecretARN = tokenSecret
        options.infrequentAccessDays = infrequentAccessDays
        options.oldVersionDays = oldVersionDays
        options.logRetentionDays = logRetentionDays
        options.posixUID = uid
        options.posixGID = gid
        let template: InfraTemplate
        do {
            template = try InfraTemplate(options: options)
        } catch {
            throw CLIError(error.description)
        }
        if internetFacing && certificateARN == nil {
            FileHandle.standardError.write(Data("""
                warning: the coordinator's load balancer faces the internet over plain HTTP: the token crosses the internet in \
                clear to \(allowFrom.joined(separator: ", ")). Give --certificate-arn for HTTPS, or leave out --internet-facing.

                """.utf8))
        }
        try InfraOutput.write(try template.yaml(), to: output)
    }
}

/// `fathom infra run-config STACK`.
struct InfraRunConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-config",
        abstract: "Write a ready ECS run config from a deployed stack's outputs (DescribeStacks); 'fathom ecs validate' accepts it.")

    @Argument(help: "The stack's name or id.")
    var stack: String

    @Option(help: "The region (default: AWS_REGION, AWS_DEFAULT_REGION, or the profile's).")
    var region: String?

    @Option(help: "The flow task's vCPU units (a Fargate pair with --memory).")
    var cpu = 1024

    @Option(help: "The flow task's memory in MiB.")
    var memory = 2048

    @Option(name: .shortAndLong, help: "Write the run config to this file (atomically) instead of standard output.")
    var output: String?

    @Flag(help: """
        With --output: print 'export FATHOM_API_URL=… FATHOM_TOKEN=…' for the stack's coordinator (the token read from its \
        secret: secretsmanager:GetSecretValue), for eval "$(fathom infra run-config STACK --output ecs.yaml --env)".
        """)
    var env = false

    func run() async throws {
        if env && output == nil { throw CLIError("--env prints shell exports on standard output: give --output FILE for the run config") }
        let client = AWSClient(configuration: try AWSConfiguration(region: region), credentials: CredentialChain.standard())
        guard let found = try await CloudFormationClient(client: client).describeStack(stack) else {
            throw CLIError("stack \(stack) does not exist in \(client.configuration.region); check the name and --region")
        }
        var runConfig = StackRunConfig(stack: found)
        runConfig.cpu = cpu
        runConfig.memory = memory
        let text: String
        do {
            text = try runConfig.yaml()
            // The same checks as `fathom ecs validate`, before anything is written.
            let config = try RunConfig(document: try RunConfigFile.parse(text))
            _ = try ECSRunConfig(config.settings)
        } catch {
            throw CLIError("\(error)")
        }
        let exports = env ? try await Self.exports(found, client: client) : ""
        try InfraOutput.write(text, to: output)
        if let output {
            FileHandle.standardError.write(Data("wrote \(output) from stack \(found.name); the coordinator: \(found.outputs["CoordinatorURL"] ?? "?")\n".utf8))
        }
        if env { print(exports, terminator: "") }
    }

    /// `export` lines for the stack's coordinator URL and its token, single-quoted for any shell.
    static func exports(_ stack: CloudFormationStack, client: AWSClient) async throws -> String {
        guard let url = stack.outputs["CoordinatorURL"], let secret = stack.outputs["TokenSecretArn"] else {
            throw CLIError("stack \(stack.name) has no CoordinatorURL or TokenSecretArn output; name a stack from 'fathom infra template'")
        }
        guard let token = try await SecretsManagerClient(client: client).secretString(secret), !token.isEmpty else {
            throw CLIError("the token secret \(secret) holds no string value")
        }
        func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        return "export FATHOM_API_URL=\(quoted(url))\nexport FATHOM_TOKEN=\(quoted(token))\n"
    }
}

/// `fathom infra policies`.
struct InfraPoliciesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policies",
        abstract: "Print the IAM policies of Fathom's roles (agent, flow, task execution, coordinator) for an example account, as docs/shipping.md shows them.")

    func run() throws {
        print(FathomPolicies.markdown(), terminator: "")
    }
}

enum InfraOutput {
    /// Standard output, or the file through a temporary name (never half-written).
    static func write(_ text: String, to path: String?) throws {
        guard let path else {
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
            return
        }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CLIError("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
