import AWS
import FathomAgent
import FathomCore
import FathomInfra
import FathomStorage
import Foundation
import Testing
import Yams

/// `fathom infra template` and the IAM policies: cfn-lint on every option combination, refusals, policies made from
/// the operations Fathom sends, and the docs showing the same policies.
@Suite struct InfraTemplateTests {
    /// Every combination of the options that change the template's shape.
    static var combinations: [(String, InfraOptions)] {
        var all: [(String, InfraOptions)] = []
        let networks: [(String, InfraOptions.ExistingNetwork?)] = [
            ("new-vpc", nil),
            ("two-subnets", .init(vpcID: "vpc-0123456789abcdef0", subnetIDs: ["subnet-0a1b2c3d", "subnet-4e5f6a7b"])),
            ("three-subnets", .init(vpcID: "vpc-0123456789abcdef0", subnetIDs: ["subnet-0a1b2c3d", "subnet-4e5f6a7b", "subnet-8c9d0e1f"])),
        ]
        for (networkName, network) in networks {
            for coordinator in ["none", "internal", "internet-http", "internet-https"] {
                for secret in [false, true] {
                    for publicIP in network == nil ? [false] : [false, true] {
                        var options = InfraOptions()
                        options.existingNetwork = network
                        options.assignPublicIP = publicIP
                        options.coordinator = coordinator != "none"
                        if network != nil && coordinator != "none" { options.loadBalancerCIDRs = ["10.20.0.0/16"] }
                        if coordinator == "internet-http" {
                            options.internetFacing = true
                            options.loadBalancerCIDRs = ["203.0.113.7/32"]
                        }
                        if coordinator == "internet-https" {
                            options.internetFacing = true
                            options.loadBalancerCIDRs = ["0.0.0.0/0"]
                            options.certificateARN = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
                        }
                        if secret { options.tokenSecretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:fathom-token-AbCdEf" }
                        options.prefix = "fathom"
                        all.append(("\(networkName)-\(coordinator)-\(secret ? "given-secret" : "new-secret")\(publicIP ? "-public-ip" : "")", options))
                    }
                }
            }
        }
        return all
    }

    @Test func cfnLintFindsNothingInAnyOptionCombination() async throws {
        let directory = TemporaryDirectory("fathom-infra-lint")
        var paths: [String] = []
        for (name, options) in Self.combinations {
            let path = directory.path + "/\(name).yaml"
            try Data(try InfraTemplate(options: options).yaml().utf8).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        #expect(paths.count == 40)
        let lint = try await runCommand("/usr/bin/env", ["cfn-lint", "--format", "parseable"] + paths)
        #expect(lint.exit.exitCode == 0, "\(lint.output.joined(separator: "\n"))")
        #expect(lint.output.isEmpty, "\(lint.output.joined(separator: "\n"))")
    }

    @Test func theTemplateHoldsWhatTheArchitectureNeeds() throws {
        var options = InfraOptions()
        options.coordinator = true
        let template = try InfraTemplate(options: options).template
        let resources = try #require(template["Resources"])
        func properties(_ id: String) throws -> CFNValue { try #require(resources[id]?["Properties"], "\(id)") }
        // EFS: encrypted, lifecycle, a mount target per subnet, the access point of the image's user rooted at /fathom.
        #expect(try properties("FileSystem")["Encrypted"] == true)
        #expect(try properties("FileSystem")["LifecyclePolicies"] == [["TransitionToIA": "AFTER_30_DAYS"], ["TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"]])
        #expect(resources["MountTarget1"] != nil && resources["MountTarget2"] != nil && resources["MountTarget3"] == nil)
        #expect(try properties("AccessPoint")["PosixUser"] == ["Uid": "1000", "Gid": "1000"])
        #expect(try properties("AccessPoint")["RootDirectory"]?["Path"] == "/fathom")
        #expect(try properties("AccessPoint")["RootDirectory"]?["CreationInfo"]?["Permissions"] == "0750")
        // NFS only from the tasks' group.
        let ingress = try #require(try properties("FileSystemSecurityGroup")["SecurityGroupIngress"])
        #expect(ingress == [["IpProtocol": "tcp", "FromPort": 2049, "ToPort": 2049, "SourceSecurityGroupId": .getAtt("TaskSecurityGroup", "GroupId"), "Description": "NFS from Fathom tasks"]])
        #expect(try properties("TaskSecurityGroup")["SecurityGroupIngress"] == nil, "nothing inbound to flow tasks")
        // The bucket: versioned, private, encrypted, old versions expire.
        let bucket = try properties("BundleBucket")
        #expect(bucket["VersioningConfiguration"] == ["Status": "Enabled"])
        #expect(bucket["PublicAccessBlockConfiguration"]?.pairs.allSatisfy { $0.1 == true } == true)
        #expect(bucket["LifecycleConfiguration"]?["Rules"].map { "\($0)".contains("NoncurrentVersionExpiration") } == true)
        #expect(resources["BundleBucket"]?["DeletionPolicy"] == "Retain" && resources["FileSystem"]?["DeletionPolicy"] == "Retain")
        // Cluster with Fargate and Spot; log retention; the generated token.
        #expect(try properties("Cluster")["CapacityProviders"] == ["FARGATE", "FARGATE_SPOT"])
        #expect(try properties("LogGroup")["RetentionInDays"] == 30)
        #expect(try properties("TokenSecret")["GenerateSecretString"]?["PasswordLength"] == 48)
        // The agent: one task at most, never two with its name.
        #expect(try properties("AgentService")["DeploymentConfiguration"] == ["MaximumPercent": 100, "MinimumHealthyPercent": 0])
        // The coordinator on PostgreSQL (never SQLite on EFS), its password from RDS's secret, the runner URL from Cloud Map.
        #expect(try properties("Database")["Engine"] == "postgres" && properties("Database")["ManageMasterUserPassword"] == true)
        let coordinator = try #require(try properties("CoordinatorTaskDefinition")["ContainerDefinitions"].flatMap { if case .list(let l) = $0 { l.first } else { nil } })
        #expect("\(coordinator)".contains("FATHOM_DATABASE_URL") && !"\(coordinator)".contains("sqlite"))
        #expect(try properties("LoadBalancer")["Scheme"] == "internal")
        #expect(template["Outputs"]?["RunnerURL"]?["Value"] == "http://coordinator.fathom.internal:4200")
        #expect(try properties("CoordinatorDiscovery")["Name"] == "coordinator")
        // Every output a run config needs is there.
        for key in StackRunConfig.requiredOutputs { #expect(template["Outputs"]?[key] != nil, "\(key)") }
    }

    @Test func badOptionsAreRefusedNamingTheOptionAndTheFix() {
        func refusal(_ change: (inout InfraOptions) -> Void) -> [ValidationError] {
            var options = InfraOptions()
            change(&options)
            do {
                _ = try InfraTemplate(options: options)
                return []
            } catch {
                return error.errors
            }
        }
        let cases: [(String, (inout InfraOptions) -> Void)] = [
            ("--prefix", { $0.prefix = "Fathom_Prod" }),
            ("--prefix", { $0.prefix = String(repeating: "a", count: 21) }),
            ("--vpc", { $0.existingNetwork = .init(vpcID: "vpc-xyz", subnetIDs: ["subnet-0a1b2c3d"]) }),
            ("--subnets", { $0.existingNetwork = .init(vpcID: "vpc-0123456789abcdef0", subnetIDs: ["sub-1"]) }),
            ("--subnets", { $0.existingNetwork = .init(vpcID: "vpc-0123456789abcdef0", subnetIDs: ["subnet-0a1b2c3d", "subnet-0a1b2c3d"]) }),
            ("--subnets", { $0.coordinator = true; $0.loadBalancerCIDRs = ["10.0.0.0/8"]; $0.existingNetwork = .init(vpcID: "vpc-0123456789abcdef0", subnetIDs: ["subnet-0a1b2c3d"]) }),
            ("--allow-from", { $0.internetFacing = true }),
            ("--allow-from", { $0.coordinator = true; $0.loadBalancerCIDRs = ["10.0.0.300/8"] }),
            ("--allow-from", { $0.coordinator = true; $0.internetFacing = true; $0.loadBalancerCIDRs = ["0.0.0.0/0"] }),
            ("--certificate-arn", { $0.coordinator = true; $0.certificateARN = "arn:aws:iam::123456789012:server-certificate/x" }),
            ("--token-secret", { $0.tokenSecretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:fathom-token" }),
            ("--ia-after-days", { $0.infrequentAccessDays = 10 }),
            ("--log-retention-days", { $0.logRetentionDays = 0 }),
            ("--old-versions-days", { $0.oldVersionDays = -1 }),
            ("--uid", { $0.posixUID = -5 }),
        ]
        for (field, change) in cases {
            let errors = refusal(change)
            #expect(errors.contains { $0.field == field && !$0.problem.isEmpty && !$0.fix.isEmpty }, "\(field): \(errors)")
        }
        #expect(refusal { _ in }.isEmpty)
    }

    /// The policies allow exactly what Fathom's code sends (the operation lists the clients send through), plus the
    /// permissions AWS checks on those calls, and nothing else.
    @Test func eachPolicyAllowsExactlyTheActionsFathomCalls() async throws {
        let agent = Set((ECSLauncher.awsOperations.union(ECSPreflight.awsOperations)).map(\.iamAction)).union(FathomPolicies.agentPermissionsOnOperations)
        #expect(FathomPolicies.policy(.agent).actions == agent)
        #expect(FathomPolicies.policy(.flow).actions == Set(S3FlowStorage.fetchingOperations.map(\.iamAction)).union(FathomPolicies.mountActions))
        #expect(FathomPolicies.policy(.coordinator).actions == Set(S3FlowStorage.storingOperations.map(\.iamAction)))
        #expect(FathomPolicies.policy(.taskExecution).actions == FathomPolicies.taskExecutionActions)
        #expect(FathomPolicies.policy(.coordinator).actions == ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"], "S3's action names, not operation names")
        // Every operation named is a real one in botocore's models.
        let all = ECSLauncher.awsOperations.union(ECSPreflight.awsOperations).union(S3FlowStorage.storingOperations)
            .union([AWSOperation.CloudFormation.describeStacks])
        let check = try await runCommand("/usr/bin/env", ["python3", PythonHelpers.path("botocore_operations.py")] + all.map { "\($0.service.rawValue):\($0.name)" })
        #expect(check.exit.exitCode == 0, "not in botocore: \(check.output)")
        // In the template: each role carries its policy; roles trust ECS tasks of this account only.
        var options = InfraOptions()
        options.coordinator = true
        let resources = try #require(try InfraTemplate(options: options).template["Resources"])
        for role in FathomPolicies.Role.allCases {
            let properties = try #require(resources[role.rawValue]?["Properties"])
            let document = properties["Policies"].flatMap { if case .list(let l) = $0 { l.first?["PolicyDocument"] } else { nil } }
            #expect(document == FathomPolicies.policy(role, databaseSecret: true).document, "\(role)")
            #expect("\(properties["AssumeRolePolicyDocument"]!)".contains("aws:SourceAccount"))
        }
    }

    @Test func theDocsShowThePoliciesTheTemplateUses() throws {
        let shipping = try String(contentsOfFile: TestPaths.repository + "/docs/shipping.md", encoding: .utf8)
        let begin = "<!-- fathom infra policies: begin -->\n", end = "<!-- fathom infra policies: end -->"
        let start = try #require(shipping.range(of: begin)), stop = try #require(shipping.range(of: end))
        let shown = String(shipping[start.upperBound..<stop.lowerBound])
        #expect(shown == "\n" + FathomPolicies.markdown() + "\n", "docs/shipping.md drifted from FathomPolicies: paste `fathom infra policies` between the markers")
        #expect(!shown.contains("${"), "every name has an example value")
    }

    @Test func stringsThatYAMLWouldReadAsSomethingElseAreQuoted() throws {
        let value: CFNValue = ["a": "0750", "b": "true", "c": "*", "d": "1.4.0", "e": "-1", "f": "", "g": "arn:aws:x", "h": "a: b", "i": "@x", "j": "no"]
        let parsed = try #require(try Yams.load(yaml: value.yaml()) as? [String: Any])
        for (key, expected) in value.pairs {
            guard case .string(let text) = expected else { continue }
            #expect(parsed[key] as? String == text, "\(key): \(String(describing: parsed[key]))")
        }
    }
}
