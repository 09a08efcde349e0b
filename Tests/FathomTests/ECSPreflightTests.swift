import AWS
import FathomCore
import Foundation
import Testing

/// `fathom ecs check` against a real moto_server.
@Suite(.serialized)
struct ECSPreflightTests {
    @Test func checkFindsAMissingMountTargetAndAClosedNFSPort() async throws {
        let moto = try await MotoServer()
        defer { Task { await moto.stop() } }
        let aws = try moto.client()
        let ec2 = EC2Client(client: aws)
        let network = try await MotoNetwork.create(ec2)
        _ = try await ECSClient(client: aws).call("CreateCluster", ["clusterName": "fathom"])
        let efs = EFSClient(client: aws)
        let fileSystem = try #require(try await efs.call(.POST, "/file-systems", body: ["CreationToken": "t"])["FileSystemId"].stringValue)
        _ = try await efs.call(.POST, "/mount-targets", body: [
            "FileSystemId": .string(fileSystem), "SubnetId": .string(network.subnetIDs[0]), "SecurityGroups": [.string(network.securityGroupID)],
        ])
        let directory = TemporaryDirectory()
        try """
            {"family": "fathom-check", "cpu": "256", "memory": "512",
             "containerDefinitions": [{"name": "flow", "image": "fathom-runner:1", "memory": 512}]}
            """.write(toFile: directory.file("td.json"), atomically: true, encoding: .utf8)
        try """
            ecs:
              cluster: fathom
              region: eu-west-1
              launchType: FARGATE
              taskDefinition: td.json
              executionRoleArn: arn:aws:iam::123456789012:role/exec
              efs:
                - name: scratch
                  fileSystemId: \(fileSystem)
                  containerPath: /mnt/efs
              network:
                subnets: [\(network.subnetIDs.joined(separator: ", "))]
                securityGroups: [\(network.securityGroupID)]
                assignPublicIp: ENABLED
              logs:
                group: /fathom/flows
                createGroup: false
            """.write(toFile: directory.file("ecs.yaml"), atomically: true, encoding: .utf8)
        let environment = [
            "AWS_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_EC2_METADATA_DISABLED": "true", "HOME": directory.path,
        ]
        let first = try await runCommand(TestPaths.fathom, ["ecs", "check", directory.file("ecs.yaml")], environment: environment)
        let text = first.output.joined(separator: "\n")
        #expect(first.exit.exitCode == 1, "\(text)")
        #expect(text.contains("ok    cluster fathom is ACTIVE"))
        #expect(text.contains("ok    file system \(fileSystem) is available"))
        #expect(text.contains("allows TCP 2049 from the task's security groups"))
        #expect(text.contains("FAIL  no mount target of \(fileSystem) in eu-west-1b"))
        #expect(text.contains("fix: Create one: aws efs create-mount-target --file-system-id \(fileSystem) --subnet-id \(network.subnetIDs[1])"))
        #expect(text.contains("FAIL  log group /fathom/flows does not exist"))
        #expect(text.contains("has no route to the internet"), "a new VPC's main table has only the local route")
        try await MotoNetwork.addInternetRoute(ec2, vpcID: network.vpcID)

        let closed = try await ec2.call("CreateSecurityGroup", [("GroupName", "closed"), ("GroupDescription", "no nfs"), ("VpcId", network.vpcID)])
        let closedID = try #require(closed.find("groupId")?.text)
        _ = try await efs.call(.POST, "/mount-targets", body: [
            "FileSystemId": .string(fileSystem), "SubnetId": .string(network.subnetIDs[1]), "SecurityGroups": [.string(closedID)],
        ])
        _ = try await CloudWatchLogsClient(client: aws).call("CreateLogGroup", ["logGroupName": "/fathom/flows"])
        let second = try await runCommand(TestPaths.fathom, ["ecs", "check", directory.file("ecs.yaml")], environment: environment)
        let secondText = second.output.joined(separator: "\n")
        #expect(second.exit.exitCode == 1)
        #expect(secondText.contains("allow no TCP 2049 from the task's security groups or from \(network.subnetIDs[1])"))
        #expect(secondText.contains("fix: aws ec2 authorize-security-group-ingress --group-id \(closedID) --protocol tcp --port 2049 --source-group \(network.securityGroupID)"))
        #expect(secondText.contains("ok    log group /fathom/flows exists"))

        _ = try await ec2.call("AuthorizeSecurityGroupIngress", [
            ("GroupId", closedID), ("IpPermissions.1.IpProtocol", "tcp"), ("IpPermissions.1.FromPort", "2049"),
            ("IpPermissions.1.ToPort", "2049"), ("IpPermissions.1.Groups.1.GroupId", network.securityGroupID),
        ])
        let third = try await runCommand(TestPaths.fathom, ["ecs", "check", directory.file("ecs.yaml")], environment: environment)
        #expect(third.exit.exitCode == 0, "\(third.output)")
        #expect(third.output.last?.hasPrefix("ok: ") == true)
    }
}
