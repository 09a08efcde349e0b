import FathomCLI
import FathomCore
import FathomECS
import Foundation
import Testing

/// ECS run configs: every check before anything reaches AWS, and the rendered requests.
struct ECSConfigTests {
    static let taskDefinition: JSONValue = [
        "family": "fathom-hello", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "1024", "memory": "2048",
        "containerDefinitions": [["name": "flow", "image": "fathom-runner:1", "essential": true, "memory": 2048]],
    ]

    static let good: JSONValue = [
        "cluster": "fathom", "region": "eu-west-1", "launchType": "FARGATE", "taskDefinition": taskDefinition,
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "efs": [[
            "name": "scratch", "fileSystemId": "fs-12345678", "accessPointId": "fsap-0123456789abcdef0", "containerPath": "/mnt/efs",
            "transitEncryption": true, "iam": true,
        ]],
        "network": ["subnets": ["subnet-0123abcd"], "securityGroups": ["sg-0123abcd"], "assignPublicIp": false],
        "logs": ["group": "/fathom/flows", "streamPrefix": "hello"],
    ]

    /// `good` with `change` applied at a path of keys.
    static func variant(_ change: (inout [String: JSONValue]) -> Void) -> JSONValue {
        var fields = good.objectValue!
        change(&fields)
        return .object(fields)
    }

    static func withEFS(_ change: (inout [String: JSONValue]) -> Void) -> JSONValue {
        variant { fields in
            var volume = fields["efs"]![0].objectValue!
            change(&volume)
            fields["efs"] = [.object(volume)]
        }
    }

    static func withTaskDefinition(_ change: (inout [String: JSONValue]) -> Void) -> JSONValue {
        variant { fields in
            var definition = fields["taskDefinition"]!.objectValue!
            change(&definition)
            fields["taskDefinition"] = .object(definition)
        }
    }

    /// (name, config, expected field, expected words in the message)
    static let badConfigs: [(String, JSONValue, String, String)] = [
        ("typo in a task definition key", withTaskDefinition { $0["efsVolumeConfig"] = [] }, "ecs.taskDefinition.efsVolumeConfig", "is not a field of RegisterTaskDefinitionRequest"),
        ("typo in a nested key suggests the name", withTaskDefinition { td in
            td["volumes"] = [["name": "x", "efsVolumeConfiguration": ["filesystemId": "fs-12345678"]]]
        }, "ecs.taskDefinition.volumes[0].efsVolumeConfiguration.filesystemId", "Did you mean 'fileSystemId'?"),
        ("volumes under runTask", variant { $0["runTask"] = ["volumes": []] }, "ecs.runTask.volumes", "belong in 'efs:'"),
        ("mountPoints under runTask", variant { $0["runTask"] = ["mountPoints": []] }, "ecs.runTask.mountPoints", "mount points belong in 'efs:'"),
        ("taskDefinition under runTask", variant { $0["runTask"] = ["taskDefinition": "x:1"] }, "ecs.runTask.taskDefinition", "belongs in 'taskDefinition:'"),
        ("unknown runTask key", variant { $0["runTask"] = ["propagateTag": "TASK_DEFINITION"] }, "ecs.runTask.propagateTag", "Did you mean 'propagateTags'?"),
        ("IAM without transit encryption", withEFS { $0["transitEncryption"] = false; $0["accessPointId"] = nil }, "ecs.efs[0].transitEncryption", "IAM authorization needs transit encryption"),
        ("access point without transit encryption", withEFS { $0["transitEncryption"] = false; $0["iam"] = false }, "ecs.efs[0].transitEncryption", "an access point needs transit encryption"),
        ("access point with a root directory", withEFS { $0["rootDirectory"] = "/data" }, "ecs.efs[0].rootDirectory", "comes from the access point"),
        ("mountPoint naming an undeclared volume", withTaskDefinition { td in
            td["containerDefinitions"] = [["name": "flow", "image": "i", "memory": 2048, "mountPoints": [["sourceVolume": "data", "containerPath": "/data"]]]]
        }, "ecs.taskDefinition.containerDefinitions[0].mountPoints[0].sourceVolume", "not declared"),
        ("relative containerPath", withEFS { $0["containerPath"] = "mnt/efs" }, "ecs.efs[0].containerPath", "is relative"),
        ("duplicate containerPath", variant { fields in
            let volume = fields["efs"]![0]
            var second = volume.objectValue!
            second["name"] = "archive"
            fields["efs"] = [volume, .object(second)]
        }, "ecs.efs[1].containerPath", "already a mount point"),
        ("Fargate platform 1.3.0 with EFS", variant { $0["platformVersion"] = "1.3.0" }, "ecs.platformVersion", "1.4.0 or later"),
        ("Fargate without awsvpc", withTaskDefinition { $0["networkMode"] = "bridge" }, "ecs.taskDefinition.networkMode", "Fargate needs networkMode awsvpc"),
        ("Fargate without subnets", variant { $0["network"] = nil }, "ecs.network.subnets", "at least one subnet"),
        ("invalid Fargate cpu/memory", variant { $0["cpu"] = "256"; $0["memory"] = "4096" }, "ecs.memory", "does not offer 4096 MiB with 256 cpu"),
        ("EC2 container without memory", variant { fields in
            fields["launchType"] = "EC2"
            var td = fields["taskDefinition"]!.objectValue!
            td["memory"] = nil
            td["containerDefinitions"] = [["name": "flow", "image": "i"]]
            fields["taskDefinition"] = .object(td)
        }, "ecs.taskDefinition.containerDefinitions[0].memory", "which EC2 requires"),
        ("unknown container", variant { $0["container"] = "flwo" }, "ecs.container", "Did you mean 'flow'?"),
        ("malformed file system id", withEFS { $0["fileSystemId"] = "fs-XYZ" }, "ecs.efs[0].fileSystemId", "is not a file system id"),
        ("malformed access point id", withEFS { $0["accessPointId"] = "ap-123" }, "ecs.efs[0].accessPointId", "is not an access point id"),
        ("malformed subnet id", variant { $0["network"] = ["subnets": ["subnet_1"]] }, "ecs.network.subnets[0]", "is not a subnet id"),
        ("malformed security group id", variant { $0["network"] = ["subnets": ["subnet-0123abcd"], "securityGroups": ["default"]] }, "ecs.network.securityGroups[0]", "is not a security group id"),
        ("enum value outside the model", variant { $0["runTask"] = ["propagateTags": "EVERYTHING"] }, "ecs.runTask.propagateTags", "is not a valid value"),
        ("enum in the task definition", withTaskDefinition { $0["pidMode"] = "hostt" }, "ecs.taskDefinition.pidMode", "Did you mean 'host'?"),
        ("wrong type in the task definition", withTaskDefinition { td in
            td["containerDefinitions"] = [["name": "flow", "image": "i", "memory": "2048"]]
        }, "ecs.taskDefinition.containerDefinitions[0].memory", "expected a whole number"),
        ("unknown top-level key", variant { $0["efs_volumes"] = [] }, "ecs.efs_volumes", "unknown key"),
        ("launch type and strategy together", variant { $0["capacityProviderStrategy"] = [["capacityProvider": "FARGATE", "weight": 1]] }, "ecs.launchType", "cannot both be set"),
        ("token secret that is not an ARN", variant { $0["apiTokenSecret"] = "fathom-token" }, "ecs.apiTokenSecret", "not a Secrets Manager or SSM parameter ARN"),
        ("no family", withTaskDefinition { $0["family"] = nil }, "ecs.taskDefinition.family", "needs a family"),
        ("awslogs on Fargate without an execution role", variant { $0["executionRoleArn"] = nil }, "ecs.executionRoleArn", "awslogs on Fargate needs a task execution role"),
        // RunTask's propagateTags: "An error will be received if you specify the SERVICE option when running a task." (botocore's ECS model)
        ("propagateTags SERVICE on RunTask", variant { $0["runTask"] = ["propagateTags": "SERVICE"] }, "ecs.runTask.propagateTags", "RunTask refuses it"),
        // RunTask's platformVersion: "only specify this parameter for tasks hosted on Fargate" (botocore's ECS model)
        ("platformVersion on an EC2 launch", variant { fields in
            fields["launchType"] = "EC2"
            fields["platformVersion"] = "1.4.0"
            fields["taskDefinition"] = .object(taskDefinition.objectValue!.merging(["requiresCompatibilities": ["EC2"]]) { _, new in new })
        }, "ecs.platformVersion", "ECS refuses it for EC2 launches"),
        // The EFS rules hold for efsVolumeConfiguration written directly in the task definition, in AWS's spelling.
        ("task definition EFS with IAM and no transit encryption", withTaskDefinition { td in
            td["volumes"] = [["name": "raw", "efsVolumeConfiguration": [
                "fileSystemId": "fs-12345678", "transitEncryption": "DISABLED", "authorizationConfig": ["iam": "ENABLED"],
            ]]]
        }, "ecs.taskDefinition.volumes[0].efsVolumeConfiguration.transitEncryption", "Set transitEncryption: ENABLED"),
        ("task definition EFS access point with a root directory", withTaskDefinition { td in
            td["volumes"] = [["name": "raw", "efsVolumeConfiguration": [
                "fileSystemId": "fs-12345678", "rootDirectory": "/data", "transitEncryption": "ENABLED",
                "authorizationConfig": ["accessPointId": "fsap-0123456789abcdef0"],
            ]]]
        }, "ecs.taskDefinition.volumes[0].efsVolumeConfiguration.rootDirectory", "comes from the access point"),
        // Docker appends RunTask's command to the task's entryPoint: it must run fathom.
        ("an entryPoint that does not end in fathom", withTaskDefinition { td in
            td["containerDefinitions"] = [["name": "flow", "image": "fathom-runner:1", "essential": true, "memory": 2048, "entryPoint": ["/bin/sh", "-c"]]]
        }, "ecs.taskDefinition.containerDefinitions[0].entryPoint", "does not end in fathom"),
        ("a partial Secrets Manager ARN", variant { $0["apiTokenSecret"] = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:fathom-token" },
         "ecs.apiTokenSecret", "is a partial ARN"),
        ("a report deadline over a day", variant { $0["reportTimeoutSeconds"] = 100_000 }, "ecs.reportTimeoutSeconds", "outside 1 s to 1 day"),
        ("a zero AWS-error deadline", variant { $0["awsErrorTimeoutSeconds"] = 0 }, "ecs.awsErrorTimeoutSeconds", "outside 1 s to 1 day"),
        ("too many start retries", variant { $0["startRetries"] = 11 }, "ecs.startRetries", "must be 0 to 10"),
        ("a memory size no number holds", variant { $0["memory"] = "1e300 GB" }, "ecs.cpu", "cannot read cpu"),
    ]

    @Test func everyBadConfigIsRejectedWithItsFieldAndFix() {
        #expect(Self.badConfigs.count >= 20)
        for (name, config, field, words) in Self.badConfigs {
            do {
                _ = try ECSRunConfig(config)
                Issue.record("\(name): accepted")
            } catch {
                let match = error.errors.first { $0.field == field }
                #expect(match != nil, "\(name): no error at \(field); got: \(error.errors.map(\.description))")
                #expect(match?.description.contains(words) == true, "\(name): '\(match?.description ?? "")' lacks '\(words)'")
                #expect(!(match?.fix.isEmpty ?? true), "\(name): the error says how to fix it")
            }
        }
    }

    @Test func aGoodConfigRendersRequestsValidAgainstTheAWSModels() async throws {
        let config = try ECSRunConfig(Self.good)
        let (register, hash) = ECSRender.registerTaskDefinition(config)
        #expect(register["volumes"][0]["efsVolumeConfiguration"]["authorizationConfig"]["iam"] == "ENABLED")
        #expect(register["containerDefinitions"][0]["mountPoints"][0] == ["sourceVolume": "scratch", "containerPath": "/mnt/efs", "readOnly": false])
        #expect(register["tags"][0] == ["key": "fathom:config-sha256", "value": .string(hash)])
        #expect(ECSRender.registerTaskDefinition(config).hash == hash, "the hash is stable")
        let runTask = ECSRender.runTask(
            config, taskDefinition: "arn:aws:ecs:eu-west-1:123456789012:task-definition/fathom-hello:1",
            context: ECSLaunchContext(flowRunID: "6bb8b23e-7058-4ba2-b1e8-d15709aa09b0", flowName: "hello", apiURL: "http://fathom.internal:4200", token: "secret-token"))
        #expect(runTask["platformVersion"] == "1.4.0")
        #expect(runTask["clientToken"] == "6bb8b23e-7058-4ba2-b1e8-d15709aa09b0")
        // Docker joins the task's entryPoint (which replaces the image's ENTRYPOINT) with RunTask's command (which replaces CMD).
        #expect(register["containerDefinitions"][0]["entryPoint"] == ["fathom"])
        #expect(runTask["overrides"]["containerOverrides"][0]["command"] == ["execute", "--flow-run", "6bb8b23e-7058-4ba2-b1e8-d15709aa09b0"])
        #expect(!"\(runTask)".contains("secret-token"), "the token does not travel as plaintext without the opt-in")
        for (operation, request) in [("RegisterTaskDefinition", register), ("RunTask", runTask)] {
            let directory = TemporaryDirectory()
            try JSONEncoder().encode(request).write(to: URL(fileURLWithPath: directory.file("params.json")))
            let result = try await runCommand("/bin/sh", ["-c", "python3 '\(PythonHelpers.path("validate_params.py"))' ecs \(operation) < '\(directory.file("params.json"))'"])
            #expect(result.exit.exitCode == 0, "\(operation): \(result.output)")
        }
    }

    @Test func fargateSpotIsRenderedAsACapacityProviderStrategy() throws {
        let config = try ECSRunConfig(Self.variant { $0["launchType"] = "FARGATE_SPOT" })
        let runTask = ECSRender.runTask(config, taskDefinition: "td:1", context: ECSLaunchContext(flowRunID: "r", flowName: "f", apiURL: "http://x.internal"))
        #expect(runTask["launchType"] == .null)
        #expect(runTask["capacityProviderStrategy"] == [["capacityProvider": "FARGATE_SPOT", "weight": 1]])
        #expect(runTask["platformVersion"] == "1.4.0")
    }

    @Test func theExampleRunConfigIsValidAndItsPathIsResolvedAgainstItsFolder() async throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Examples/ecs/ecs.yaml").path
        let config = try RunConfigFile.load(example)
        #expect(config.launcher == .ecs)
        #expect(config.settings["taskDefinition"]["family"] == "fathom-hello", "the file was read and inlined")
        let validate = try await runCommand(TestPaths.fathom, ["ecs", "validate", example])
        #expect(validate.output == ["ok"])
        #expect(validate.exit.exitCode == 0)
        let directory = TemporaryDirectory()
        try "ecs:\n  cluster: fathom\n  taskDefinition: missing.json\n".write(toFile: directory.file("bad.yaml"), atomically: true, encoding: .utf8)
        let bad = try await runCommand(TestPaths.fathom, ["ecs", "validate", directory.file("bad.yaml")])
        #expect(bad.exit.exitCode == 1)
        #expect(bad.output.contains { $0.contains("ecs.taskDefinition: cannot read '\(directory.file("missing.json"))'") })
        let render = try await runCommand(TestPaths.fathom, ["ecs", "render", example, "--flow-run-id", "6bb8b23e-7058-4ba2-b1e8-d15709aa09b0"])
        #expect(render.exit.exitCode == 0)
        let rendered = try JSONDecoder().decode(JSONValue.self, from: Data(render.output.joined(separator: "\n").utf8))
        #expect(rendered["registerTaskDefinition"]["family"] == "fathom-hello")
        #expect(rendered["runTask"]["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == ["subnet-0123abcd"])
    }

    @Test func diagnosisHintsNameTheFix() {
        func hint(_ reason: String, exit: Int? = nil, containerReason: String? = nil, stopCode: String? = "TaskFailedToStart") -> String {
            ECSDiagnosis.hint(ECSDiagnosis.StoppedTask(
                taskArn: "arn", stopCode: stopCode, stoppedReason: reason, containers: [("flow", exit, containerReason)])) ?? ""
        }
        #expect(hint("ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: mount.nfs4: Connection timed out").contains("TCP 2049"))
        #expect(hint("ResourceInitializationError: failed to invoke EFS utils commands: b'mount.nfs4: access denied by server'").contains("access point"))
        #expect(hint("CannotPullContainerError: pull image manifest has been retried 1 time(s)").contains("NAT gateway"))
        #expect(hint("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm").contains("secretsmanager:GetSecretValue"))
        #expect(hint("ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream").contains("logs:CreateLogStream"))
        #expect(hint("Essential container in task exited", exit: 137, containerReason: "OutOfMemoryError: Container killed due to memory usage", stopCode: "EssentialContainerExited").contains("raise memory"))
        #expect(ECSDiagnosis.hint(ECSDiagnosis.StoppedTask(taskArn: "a", stopCode: "EssentialContainerExited", stoppedReason: "Essential container in task exited", containers: [("flow", 0, nil)])) == nil)
    }
}
