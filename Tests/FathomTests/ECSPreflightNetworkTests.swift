import AWS
import FathomAgent
import FathomCore
import FathomECS
import Foundation
import Testing

/// `fathom ecs check` against moto: the false OKs it gave (mount targets by zone name, any CIDR rule,
/// denied calls read as "does not exist") and the checks it lacked (routes, endpoints, VPC DNS,
/// capacity providers, file system policy, egress, the runner URL).
@Suite(.serialized)
struct ECSPreflightNetworkTests {
    /// A moto account with a cluster, a VPC (two zones), and a file system with a mount target in each zone.
    struct World {
        let moto: MotoServer
        let aws: AWSClient
        let network: MotoNetwork
        let fileSystem: String

        var ec2: EC2Client { EC2Client(client: aws) }
        var efs: EFSClient { EFSClient(client: aws) }

        static func make(aws makeClient: ((MotoServer) async throws -> AWSClient)? = nil, environment: [String: String] = [:]) async throws -> World {
            let moto = try await MotoServer(environment: environment)
            let aws = try await makeClient?(moto) ?? moto.client()
            let ec2 = EC2Client(client: aws)
            let network = try await MotoNetwork.create(ec2)
            _ = try await ECSClient(client: aws).call("CreateCluster", ["clusterName": "fathom"])
            let efs = EFSClient(client: aws)
            let fileSystem = try #require(try await efs.call(.POST, "/file-systems", body: ["CreationToken": "t"])["FileSystemId"].stringValue)
            for subnet in network.subnetIDs {
                _ = try await efs.call(.POST, "/mount-targets", body: [
                    "FileSystemId": .string(fileSystem), "SubnetId": .string(subnet), "SecurityGroups": [.string(network.securityGroupID)],
                ])
            }
            return World(moto: moto, aws: aws, network: network, fileSystem: fileSystem)
        }

        /// A Fargate run config for this world, with `change` applied.
        func config(_ change: (inout [String: JSONValue]) -> Void = { _ in }) throws -> ECSRunConfig {
            var fields: [String: JSONValue] = [
                "cluster": "fathom", "region": "eu-west-1", "launchType": "FARGATE",
                "taskDefinition": [
                    "family": "fathom-check", "cpu": "256", "memory": "512",
                    "containerDefinitions": [["name": "flow", "image": "fathom-runner:1", "essential": true]],
                ],
                "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
                "efs": [["name": "scratch", "fileSystemId": .string(fileSystem), "containerPath": "/mnt/efs"]],
                "network": [
                    "subnets": .array(network.subnetIDs.map(JSONValue.string)), "securityGroups": [.string(network.securityGroupID)],
                    "assignPublicIp": "ENABLED",
                ],
            ]
            change(&fields)
            return try ECSRunConfig(.object(fields))
        }

        func check(_ config: ECSRunConfig, runnerURL: String? = nil) async -> [ECSPreflight.Check] {
            await ECSPreflight(client: aws, runnerAPIURL: runnerURL).run(config)
        }

        func stop() async { await moto.stop() }
    }

    static func lines(_ checks: [ECSPreflight.Check]) -> String { checks.map(\.description).joined(separator: "\n") }

    @Test func aFullyWiredPublicSubnetPasses() async throws {
        let world = try await World.make()
        defer { Task { await world.stop() } }
        try await MotoNetwork.addInternetRoute(world.ec2, vpcID: world.network.vpcID)
        try await world.moto.startRecording()
        let checks = await world.check(try world.config { $0["logs"] = ["group": "/fathom/flows", "createGroup": true] }, runnerURL: "http://10.0.3.3:4200")
        let validation = try await world.moto.validateRecording()
        #expect(validation.ok, "every call the check makes is valid against botocore's models: \(validation.report)")
        #expect(validation.checked >= 12)
        #expect(!checks.contains { $0.status == .fail }, "\(Self.lines(checks))")
        let text = Self.lines(checks)
        #expect(text.contains("reaches the internet through igw-"))
        #expect(text.contains("has enableDnsSupport on"))
        #expect(text.contains("allows TCP 2049 from the task's security groups"))
        #expect(text.contains("the task's security groups allow TCP 2049 out to mount target"))
        #expect(text.contains("has no file system policy"))
    }

    @Test func mountTargetsInAnotherVPCAreNotTheTasks() async throws {
        // Zone names map to different physical zones per account, and a file system's mount targets live in one
        // VPC (docs.aws.amazon.com/efs/latest/ug/accessing-fs.html): a target in the same zone *name* but another
        // VPC serves nobody in this one. The old check matched on the zone name and said ok.
        let world = try await World.make()
        defer { Task { await world.stop() } }
        let other = try await MotoNetwork.create(world.ec2)
        let elsewhere = try #require(try await world.efs.call(.POST, "/file-systems", body: ["CreationToken": "other"])["FileSystemId"].stringValue)
        _ = try await world.efs.call(.POST, "/mount-targets", body: [
            "FileSystemId": .string(elsewhere), "SubnetId": .string(other.subnetIDs[0]), "SecurityGroups": [.string(other.securityGroupID)],
        ])
        let checks = await world.check(try world.config { $0["efs"] = [["name": "scratch", "fileSystemId": .string(elsewhere), "containerPath": "/mnt/efs"]] })
        let text = Self.lines(checks)
        #expect(text.contains("FAIL  the mount targets of \(elsewhere) are in \(other.vpcID), the task in \(world.network.vpcID)"), "\(text)")
        #expect(!text.contains("ok    mount target"), "\(text)")
    }

    @Test func anNFSRuleMustCoverTheTasksSubnetOrGroup() async throws {
        let world = try await World.make()
        defer { Task { await world.stop() } }
        // A second group for the mount targets that lets 2049 in only from an unrelated range.
        let group = try #require(try await world.ec2.call("CreateSecurityGroup", [
            ("GroupName", "elsewhere"), ("GroupDescription", "nfs from another range"), ("VpcId", world.network.vpcID),
        ]).find("groupId")?.text)
        _ = try await world.ec2.call("AuthorizeSecurityGroupIngress", [
            ("GroupId", group), ("IpPermissions.1.IpProtocol", "tcp"), ("IpPermissions.1.FromPort", "2049"),
            ("IpPermissions.1.ToPort", "2049"), ("IpPermissions.1.IpRanges.1.CidrIp", "192.168.0.0/24"),
        ])
        let targets = try await world.efs.describeMountTargets(fileSystemID: world.fileSystem)
        for target in targets {
            _ = try await world.efs.call(.PUT, "/mount-targets/\(target.MountTargetId!)/security-groups", body: ["SecurityGroups": [.string(group)]])
        }
        var checks = await world.check(try world.config())
        var text = Self.lines(checks)
        #expect(text.contains("FAIL  the security groups of mount target"), "\(text)")
        #expect(text.contains("allow no TCP 2049 from the task's security groups or from \(world.network.subnetIDs[0]) (10.0.0.0/24)"), "\(text)")
        // A range that holds the subnets is enough.
        _ = try await world.ec2.call("AuthorizeSecurityGroupIngress", [
            ("GroupId", group), ("IpPermissions.1.IpProtocol", "tcp"), ("IpPermissions.1.FromPort", "2049"),
            ("IpPermissions.1.ToPort", "2049"), ("IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/16"),
        ])
        checks = await world.check(try world.config())
        text = Self.lines(checks)
        #expect(text.contains("allows TCP 2049 from 10.0.0.0/16 (covers \(world.network.subnetIDs[1]))"), "\(text)")
        #expect(!text.contains("allow no TCP 2049 from"), "\(text)")
    }

    @Test func privateSubnetsNeedANATGatewayOrAnEndpointPerService() async throws {
        let world = try await World.make()
        defer { Task { await world.stop() } }
        try await MotoNetwork.addInternetRoute(world.ec2, vpcID: world.network.vpcID)
        let ecrImage = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/fathom-runner:1"
        let config = try world.config { fields in
            fields["network"] = [
                "subnets": [.string(world.network.subnetIDs[0])], "securityGroups": [.string(world.network.securityGroupID)],
                "assignPublicIp": "DISABLED",
            ]
            fields["image"] = .string(ecrImage)
            fields["apiTokenSecret"] = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:fathom-token-AbCdEf"
            fields["logs"] = ["group": "/fathom/flows", "createGroup": true]
        }
        var text = Self.lines(await world.check(config))
        for service in ["ecr.api", "ecr.dkr", "s3", "secretsmanager", "logs"] {
            #expect(text.contains("but the task gets no public IP (assignPublicIp is DISABLED), and there is no VPC endpoint for \(service) "), "\(service): \(text)")
        }
        #expect(text.contains("fix: Set network.assignPublicIp: ENABLED"))
        let table = try #require(try await world.ec2.describeRouteTables(vpcID: world.network.vpcID).first { $0.isMain })
        for service in ["ecr.api", "ecr.dkr", "secretsmanager", "logs"] {
            _ = try await world.ec2.call("CreateVpcEndpoint", [
                ("VpcId", world.network.vpcID), ("ServiceName", "com.amazonaws.eu-west-1.\(service)"), ("VpcEndpointType", "Interface"),
                ("SubnetId.1", world.network.subnetIDs[0]), ("PrivateDnsEnabled", "true"),
            ])
        }
        _ = try await world.ec2.call("CreateVpcEndpoint", [
            ("VpcId", world.network.vpcID), ("ServiceName", "com.amazonaws.eu-west-1.s3"), ("VpcEndpointType", "Gateway"),
            ("RouteTableId.1", table.routeTableID),
        ])
        let checks = await world.check(config)
        text = Self.lines(checks)
        for service in ["ecr.api", "ecr.dkr", "s3", "secretsmanager", "logs"] {
            #expect(text.contains("reaches \(service) through vpce-"), "\(service): \(text)")
        }
        #expect(!checks.contains { $0.status == .fail }, "\(text)")
    }

    @Test func fargateSpotMustBeAssociatedWithTheCluster() async throws {
        let world = try await World.make()
        defer { Task { await world.stop() } }
        let config = try world.config { fields in
            fields["launchType"] = nil
            fields["capacityProviderStrategy"] = [["capacityProvider": "FARGATE_SPOT", "weight": 1]]
        }
        var text = Self.lines(await world.check(config))
        #expect(text.contains("FAIL  capacity provider FARGATE_SPOT is not associated with cluster fathom (it has: none)"), "\(text)")
        #expect(text.contains("aws ecs put-cluster-capacity-providers --cluster fathom --capacity-providers FARGATE_SPOT"))
        _ = try await ECSClient(client: world.aws).call("PutClusterCapacityProviders", [
            "cluster": "fathom", "capacityProviders": ["FARGATE", "FARGATE_SPOT"], "defaultCapacityProviderStrategy": [["capacityProvider": "FARGATE", "weight": 1]],
        ])
        text = Self.lines(await world.check(config))
        #expect(text.contains("ok    capacity provider FARGATE_SPOT is associated with cluster fathom"), "\(text)")
    }

    @Test func theFileSystemPolicyDecidesTLSAndIAM() async throws {
        let world = try await World.make()
        defer { Task { await world.stop() } }
        // The policy the EFS console offers as "Enforce in-transit encryption" and "Prevent anonymous access".
        let policy = #"""
            {"Version":"2012-10-17","Statement":[
             {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/flow"},"Action":["elasticfilesystem:ClientMount","elasticfilesystem:ClientWrite"],"Resource":"*"},
             {"Effect":"Deny","Principal":{"AWS":"*"},"Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}
            """#
        _ = try await world.efs.call(.PUT, "/file-systems/\(world.fileSystem)/policy", body: ["Policy": .string(policy)])
        var text = Self.lines(await world.check(try world.config()))
        #expect(text.contains("FAIL  the policy of \(world.fileSystem) denies requests without aws:SecureTransport"), "\(text)")
        #expect(text.contains("grants ClientMount only to IAM principals, and volume scratch mounts anonymously"), "\(text)")
        let fixed = try world.config { fields in
            fields["taskRoleArn"] = "arn:aws:iam::123456789012:role/flow"
            fields["efs"] = [["name": "scratch", "fileSystemId": .string(world.fileSystem), "containerPath": "/mnt/efs", "transitEncryption": true, "iam": true]]
        }
        text = Self.lines(await world.check(fixed))
        #expect(text.contains("ok    the policy of \(world.fileSystem) lets volume scratch mount and write (with the task role's permissions)"), "\(text)")
        #expect(!text.contains("aws:SecureTransport"))
    }

    @Test func egressMustLetTheTaskOut() async throws {
        let world = try await World.make()
        defer { Task { await world.stop() } }
        try await MotoNetwork.addInternetRoute(world.ec2, vpcID: world.network.vpcID)
        _ = try await world.ec2.call("RevokeSecurityGroupEgress", [
            ("GroupId", world.network.securityGroupID), ("IpPermissions.1.IpProtocol", "-1"), ("IpPermissions.1.IpRanges.1.CidrIp", "0.0.0.0/0"),
        ])
        let text = Self.lines(await world.check(try world.config(), runnerURL: "http://10.0.9.9:4200"))
        #expect(text.contains("FAIL  the task's security groups (\(world.network.securityGroupID)) allow no outbound HTTPS (443)"), "\(text)")
        #expect(text.contains("FAIL  the task's security groups allow no TCP 2049 out to mount target"), "\(text)")
        #expect(text.contains("FAIL  the task's security groups allow no TCP 4200 out to 10.0.9.9"), "\(text)")
    }

    @Test func theRunnerURLIsTriedFromTheTasksSubnets() async throws {
        let world = try await World.make()
        defer { Task { await world.stop() } }
        let config = try world.config()
        var text = Self.lines(await world.check(config, runnerURL: "http://127.0.0.1:4200"))
        #expect(text.contains("FAIL  runner URL http://127.0.0.1:4200 names this machine's loopback"), "\(text)")
        text = Self.lines(await world.check(config, runnerURL: "http://10.0.7.20:4200"))
        #expect(text.contains("ok    10.0.7.20 is inside \(world.network.vpcID) (10.0.0.0/16): the local route reaches it"), "\(text)")
        #expect(text.contains("ok    the task's security groups allow TCP 4200 out to 10.0.7.20"), "\(text)")
        #expect(text.contains("SKIP  cannot check from here that 10.0.7.20:4200 lets the task in"), "\(text)")
        text = Self.lines(await world.check(config, runnerURL: "https://203.0.113.10:4200"))
        #expect(text.contains("FAIL  subnet \(world.network.subnetIDs[0]) has no route to 203.0.113.10, outside \(world.network.vpcID)"), "\(text)")
        text = Self.lines(await world.check(config, runnerURL: "https://fathom.internal.example"))
        #expect(text.contains("SKIP  subnet \(world.network.subnetIDs[0]) has no route out of \(world.network.vpcID): fathom.internal.example must resolve to an address inside it"), "\(text)")
        try await MotoNetwork.addInternetRoute(world.ec2, vpcID: world.network.vpcID)
        text = Self.lines(await world.check(config, runnerURL: "https://203.0.113.10:4200"))
        #expect(text.contains("ok    subnet \(world.network.subnetIDs[0]) has a route toward 203.0.113.10 (0.0.0.0/0 via igw-"), "\(text)")
    }

    @Test func aDeniedCallIsAMissingPermissionNotAMissingResource() async throws {
        // moto evaluates the user's IAM policy for real. (Its signature check of REST GETs with a query string
        // fails even for botocore's own signer, so EFS reads are left out of this account.)
        let denied = ["ec2:DescribeRouteTables", "ec2:DescribeVpcAttribute", "logs:DescribeLogGroups"]
        let deniedJSON = String(decoding: try JSONSerialization.data(withJSONObject: denied), as: UTF8.self)
        let world = try await World.make(aws: { moto in
            let made = try await runCommand("/usr/bin/env", ["python3", PythonHelpers.path("moto_iam_user.py"), moto.url, deniedJSON])
            let keys = try #require(try JSONSerialization.jsonObject(with: Data((made.output.last ?? "").utf8)) as? [String: String], "\(made.output)")
            let configuration = try AWSConfiguration(environment: ["AWS_ENDPOINT_URL": moto.url], region: "eu-west-1")
            var client = AWSClient(configuration: configuration, credentials: StaticCredentialProvider(AWSCredentials(
                accessKeyID: keys["key"]!, secretAccessKey: keys["secret"]!, source: "test")))
            client.retry.baseDelay = .milliseconds(10)
            return client
        }, environment: ["INITIAL_NO_AUTH_ACTION_COUNT": "3"])
        defer { Task { await world.stop() } }
        let checks = await world.check(try world.config { fields in
            fields["efs"] = nil
            fields["logs"] = ["group": "/fathom/flows"]
        })
        let text = Self.lines(checks)
        #expect(text.contains("SKIP  cannot check the route tables of \(world.network.vpcID): this identity is not allowed ec2:DescribeRouteTables"), "\(text)")
        #expect(text.contains("SKIP  cannot check enableDnsSupport of \(world.network.vpcID): this identity is not allowed ec2:DescribeVpcAttribute"), "\(text)")
        #expect(text.contains("SKIP  cannot check log group /fathom/flows: this identity is not allowed logs:DescribeLogGroups"), "\(text)")
        #expect(!text.contains("does not exist"), "\(text)")
        #expect(!checks.contains { $0.status == .fail }, "\(text)")
        #expect(text.contains("ok    cluster fathom is ACTIVE"), "allowed calls still check")
    }
}
