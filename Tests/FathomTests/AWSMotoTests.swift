import AWS
import FathomCore
import FathomStorage
import Foundation
import Testing

/// Every AWS operation Fathom uses, against a real moto_server, with every request checked against botocore's models.
@Suite(.serialized)
struct AWSMotoTests {
    @Test func stsAndEveryECSOperation() async throws {
        let moto = try await MotoServer()
        defer { Task { await moto.stop() } }
        try await moto.startRecording()
        let client = try moto.client()
        let identity = try await STSClient(client: client).getCallerIdentity()
        #expect(identity.account == "123456789012")
        #expect(identity.arn.hasPrefix("arn:aws:"))

        let network = try await MotoNetwork.create(EC2Client(client: client))
        let ecs = ECSClient(client: client)
        _ = try await ecs.call("CreateCluster", ["clusterName": "fathom"])
        let clusters = try await ecs.describeClusters(["fathom", "missing"])
        #expect(clusters.clusters?.first?.status == "ACTIVE")
        #expect(clusters.failures?.first?.reason == "MISSING")

        let definition: JSONValue = [
            "family": "hello", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
            "containerDefinitions": [[
                "name": "flow", "image": "fathom/runner:1", "memory": 512, "essential": true,
                "mountPoints": [["sourceVolume": "scratch", "containerPath": "/mnt/efs", "readOnly": false]],
            ]],
            "volumes": [[
                "name": "scratch",
                "efsVolumeConfiguration": [
                    "fileSystemId": "fs-12345678", "rootDirectory": "/", "transitEncryption": "ENABLED",
                    "authorizationConfig": ["accessPointId": "fsap-0123456789abcdef0", "iam": "ENABLED"],
                ],
            ]],
            "tags": [["key": "fathom:config-sha256", "value": "abc"]],
        ]
        var revisions: [String] = []
        for _ in 0..<3 {
            let registered = try await ecs.registerTaskDefinition(definition)
            revisions.append(try #require(registered.taskDefinition?.taskDefinitionArn))
        }
        let described = try await ecs.describeTaskDefinition(revisions[2])
        #expect(described.taskDefinition?.revision == 3)
        #expect(described.taskDefinition?.volumes?.first?["efsVolumeConfiguration"]["fileSystemId"] == "fs-12345678")
        #expect(described.tags?.contains(ECSTag(key: "fathom:config-sha256", value: "abc")) == true)
        let listed = try await ecs.listTaskDefinitions(familyPrefix: "hello", pageSize: 1)
        #expect(Set(listed) == Set(revisions), "three pages of one")

        var taskARNs: [String] = []
        for index in 0..<15 {
            let output = try await ecs.runTask([
                "cluster": "fathom", "taskDefinition": .string(revisions[2]), "count": 10, "launchType": "FARGATE",
                "platformVersion": "1.4.0", "startedBy": "fathom", "clientToken": .string("run-\(index)"),
                "networkConfiguration": ["awsvpcConfiguration": [
                    "subnets": [.string(network.subnetIDs[0])], "securityGroups": [.string(network.securityGroupID)], "assignPublicIp": "DISABLED",
                ]],
                "overrides": ["containerOverrides": [["name": "flow", "command": ["fathom", "execute", "--flow-run", "x"]]]],
                "tags": [["key": "fathom:flow-run-id", "value": "x"]],
            ])
            #expect(output.failures?.isEmpty ?? true)
            taskARNs += (output.tasks ?? []).compactMap(\.taskArn)
        }
        #expect(taskARNs.count == 150)
        let tasks = try await ecs.describeTasks(cluster: "fathom", tasks: taskARNs)
        #expect(tasks.tasks?.count == 150, "two DescribeTasks calls of 100 and 50")
        let stopped = try await ecs.stopTask(cluster: "fathom", task: taskARNs[0], reason: "cancelled by user")
        #expect(stopped?.desiredStatus == "STOPPED")
        let mine = try await ecs.listTasks(cluster: "fathom", startedBy: "fathom")
        #expect(mine.count >= 149)
        _ = try await ecs.deregisterTaskDefinition(revisions[0])
        #expect(try await ecs.listTaskDefinitions(familyPrefix: "hello").count == 2)

        await #expect(throws: AWSError.self) { _ = try await ecs.describeTasks(cluster: "nope", tasks: ["t"]) }
        do {
            _ = try await ecs.describeTasks(cluster: "nope", tasks: ["t"])
        } catch let error as AWSError {
            #expect(error.serviceError?.code == "ClusterNotFoundException")
            #expect(error.serviceError?.httpStatus == 400)
        }
        do {
            _ = try await ecs.describeTaskDefinition("does-not-exist:9")
            Issue.record("expected an error")
        } catch let error as AWSError {
            #expect(error.serviceError?.code == "ClientException", "\(error)")
        }

        let validation = try await moto.validateRecording()
        #expect(validation.ok, "\(validation.report)")
        #expect(validation.checked >= 35)
        for operation in [
            "sts:GetCallerIdentity", "ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions",
            "ecs:DeregisterTaskDefinition", "ecs:RunTask", "ecs:DescribeTasks", "ecs:StopTask", "ecs:ListTasks", "ecs:DescribeClusters",
        ] {
            #expect(validation.report.contains("\"\(operation)\""), "\(operation) was sent and checked")
        }
    }

    @Test func efsEC2AndCloudWatchLogs() async throws {
        let moto = try await MotoServer()
        defer { Task { await moto.stop() } }
        try await moto.startRecording()
        let client = try moto.client()
        let ec2 = EC2Client(client: client)
        let network = try await MotoNetwork.create(ec2)
        let subnetIDs = network.subnetIDs
        let groupID = network.securityGroupID
        let subnets = try await ec2.describeSubnets(subnetIDs)
        #expect(Set(subnets.map(\.availabilityZone)) == ["eu-west-1a", "eu-west-1b"])
        let groups = try await ec2.describeSecurityGroups([groupID])
        #expect(groups.first?.ingress.contains { $0.allowsTCP(port: 2049) && $0.sourceGroupIDs == [groupID] } == true)

        let efs = EFSClient(client: client)
        var fileSystemIDs: [String] = []
        for index in 0..<3 {
            let created = try await efs.call(.POST, "/file-systems", body: ["CreationToken": .string("fathom-\(index)")])
            fileSystemIDs.append(try #require(created["FileSystemId"].stringValue))
        }
        let all = try await efs.describeFileSystems(pageSize: 1)
        #expect(Set(all.compactMap(\.FileSystemId)) == Set(fileSystemIDs), "three pages of one")
        let target = try await efs.call(
            .POST, "/mount-targets", body: ["FileSystemId": .string(fileSystemIDs[0]), "SubnetId": .string(subnetIDs[0]), "SecurityGroups": [.string(groupID)]])
        let targets = try await efs.describeMountTargets(fileSystemID: fileSystemIDs[0])
        #expect(targets.first?.SubnetId == subnetIDs[0])
        let targetID = try #require(target["MountTargetId"].stringValue)
        #expect(try await efs.describeMountTargetSecurityGroups(mountTargetID: targetID) == [groupID])
        let point = try await efs.call(.POST, "/access-points", body: [
            "ClientToken": "ap-1", "FileSystemId": .string(fileSystemIDs[0]), "RootDirectory": ["Path": "/fathom"],
        ])
        let points = try await efs.describeAccessPoints(fileSystemID: fileSystemIDs[0])
        #expect(points.first?.AccessPointId == point["AccessPointId"].stringValue)
        #expect(points.first?.RootDirectory?.Path == "/fathom")
        do {
            _ = try await efs.describeFileSystems(fileSystemID: "fs-00000000")
            Issue.record("expected FileSystemNotFound")
        } catch let error as AWSError {
            #expect(error.serviceError?.code == "FileSystemNotFound", "\(error)")
            #expect(error.serviceError?.httpStatus == 404)
        }

        let logs = CloudWatchLogsClient(client: client)
        _ = try await logs.call("CreateLogGroup", ["logGroupName": "/fathom/flows"])
        _ = try await logs.call("CreateLogStream", ["logGroupName": "/fathom/flows", "logStreamName": "hello/flow/1"])
        let start = Int64(Date().timeIntervalSince1970 * 1000)
        _ = try await logs.call("PutLogEvents", [
            "logGroupName": "/fathom/flows", "logStreamName": "hello/flow/1",
            "logEvents": .array((0..<25).map { ["timestamp": .int(start + Int64($0)), "message": .string("line \($0)")] }),
        ])
        let events = try await logs.allLogEvents(group: "/fathom/flows", stream: "hello/flow/1")
        #expect(events.map(\.message) == (0..<25).map { "line \($0)" })
        let filtered = try await logs.filterLogEvents(group: "/fathom/flows", streamPrefix: "hello/", pageSize: 10)
        #expect(filtered.count == 25, "three pages of up to ten")
        do {
            _ = try await logs.getLogEvents(group: "/nope", stream: "x")
            Issue.record("expected ResourceNotFoundException")
        } catch let error as AWSError {
            #expect(error.serviceError?.code == "ResourceNotFoundException")
        }

        let validation = try await moto.validateRecording()
        #expect(validation.ok, "\(validation.report)")
        for operation in [
            "efs:DescribeFileSystems", "efs:DescribeMountTargets", "efs:DescribeMountTargetSecurityGroups", "efs:DescribeAccessPoints",
            "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "logs:GetLogEvents", "logs:FilterLogEvents",
        ] {
            #expect(validation.report.contains("\"\(operation)\""), "\(operation) was sent and checked")
        }
    }

    @Test func s3ObjectsRoundTrip() async throws {
        let moto = try await MotoServer()
        defer { Task { await moto.stop() } }
        try await moto.startRecording()
        let s3 = S3Client(client: try moto.client())
        try await s3.createBucket("fathom-bundles")
        let directory = TemporaryDirectory()
        let keys = ["bundles/plain.bin", "bundles/with space.bin", "bundles/a+b=c.bin", "bundles/données/日本.bin", "other/x.bin"]
        for (index, key) in keys.enumerated() {
            let path = directory.file("in-\(index)")
            try Data("content of \(key)".utf8).write(to: URL(fileURLWithPath: path))
            try await s3.putObject(bucket: "fathom-bundles", key: key, fromFile: path, metadata: ["flows": "hello", "index": "\(index)"])
        }
        let head = try #require(try await s3.headObject(bucket: "fathom-bundles", key: keys[1]))
        #expect(head.size == Int64("content of \(keys[1])".utf8.count))
        #expect(head.metadata["flows"] == "hello")
        for key in keys {
            let out = directory.file("out")
            try await s3.getObject(bucket: "fathom-bundles", key: key, toFile: out)
            #expect(try String(contentsOfFile: out, encoding: .utf8) == "content of \(key)")
        }
        let listed = try await s3.listObjects(bucket: "fathom-bundles", prefix: "bundles/", pageSize: 2)
        #expect(listed.map(\.key).sorted() == keys.filter { $0.hasPrefix("bundles/") }.sorted(), "two pages of two and one of none")
        try await s3.deleteObject(bucket: "fathom-bundles", key: keys[0])
        #expect(try await s3.headObject(bucket: "fathom-bundles", key: keys[0]) == nil)
        let missing = directory.file("missing")
        do {
            try await s3.getObject(bucket: "fathom-bundles", key: "nope", toFile: missing)
            Issue.record("expected NoSuchKey")
        } catch let error as AWSError {
            #expect(error.serviceError?.code == "NoSuchKey")
            #expect(error.serviceError?.httpStatus == 404)
        }
        #expect(!FileManager.default.fileExists(atPath: missing), "a failed download leaves nothing behind")
        var multipart = s3
        multipart.multipartThreshold = 6 << 20
        multipart.partSize = 5 << 20
        multipart.partConcurrency = 1  // moto's recorder interleaves lines of concurrent requests
        let twelve = directory.file("twelve.bin")
        try Data((0..<(12 << 20)).map { UInt8(truncatingIfNeeded: $0 >> 7) }).write(to: URL(fileURLWithPath: twelve))
        try await multipart.putObject(bucket: "fathom-bundles", key: "bundles/twelve.bin", fromFile: twelve)
        try await s3.getObject(bucket: "fathom-bundles", key: "bundles/twelve.bin", toFile: directory.file("twelve.out"))
        #expect(try FileHashing.sha256(ofFileAt: directory.file("twelve.out")).sha256 == FileHashing.sha256(ofFileAt: twelve).sha256)

        let validation = try await moto.validateRecording()
        #expect(validation.ok, "\(validation.report)")
        #expect(validation.checked >= 15)
        for operation in ["s3:CreateMultipartUpload", "s3:UploadPart", "s3:CompleteMultipartUpload", "s3:CreateBucket"] {
            #expect(validation.report.contains("\"\(operation)\""), "\(operation) was sent and checked")
        }
        for operation in ["s3:PutObject", "s3:GetObject", "s3:HeadObject", "s3:ListObjectsV2", "s3:DeleteObject"] {
            #expect(validation.report.contains("\"\(operation)\""), "\(operation) was sent and checked")
        }
    }

    @Test func theRecordingValidatorCatchesInvalidRequests() async throws {
        let moto = try await MotoServer()
        defer { Task { await moto.stop() } }
        try await moto.startRecording()
        let ecs = ECSClient(client: try moto.client())
        _ = try? await ecs.call("RunTask", ["cluster": "c", "launchType": "FARGATE_SPOT", "count": 1])
        let validation = try await moto.validateRecording()
        #expect(!validation.ok)
        #expect(validation.report.contains("taskDefinition"), "a missing required member is reported")
        #expect(validation.report.contains("'FARGATE_SPOT' is not one of"), "an enum value outside the model is reported")
    }

    @Test(.timeLimit(.minutes(5))) func multipartUploadOf200MiBAndStreamedDownload() async throws {
        let moto = try await MotoServer()
        defer { Task { await moto.stop() } }
        var s3 = S3Client(client: try moto.client())
        s3.partSize = 32 << 20
        try await s3.createBucket("big")
        let directory = TemporaryDirectory()
        let source = directory.file("big.bin")
        FileManager.default.createFile(atPath: source, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: source))
        var block = Data(count: 1 << 20)
        for index in 0..<200 {
            block.withUnsafeMutableBytes { raw in
                for offset in stride(from: 0, to: raw.count, by: 8) { raw.storeBytes(of: UInt64(index &* 0x9E37_79B9 &+ offset), toByteOffset: offset, as: UInt64.self) }
            }
            try handle.write(contentsOf: block)
        }
        try handle.close()
        let (sourceSHA, size) = try FileHashing.sha256(ofFileAt: source)
        #expect(size == 200 << 20)
        try await moto.startRecording()
        try await s3.putObject(bucket: "big", key: "bundles/big.bin", fromFile: source)
        try await moto.stopRecording()
        let recording = try String(contentsOfFile: moto.recordingPath, encoding: .utf8)
        #expect(recording.components(separatedBy: "uploadId=").count - 1 >= 8, "seven parts and a completion")
        let copy = directory.file("copy.bin")
        let written = try await s3.getObject(bucket: "big", key: "bundles/big.bin", toFile: copy)
        #expect(written == 200 << 20)
        #expect(try FileHashing.sha256(ofFileAt: copy).sha256 == sourceSHA)
    }
}
