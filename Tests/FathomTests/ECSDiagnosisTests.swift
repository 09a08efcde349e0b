import FathomECS
import Testing

/// Real stoppedReason texts, as ECS, the Fargate agent and amazon-efs-utils write them, each with
/// the cause Fathom names, whether it starts the task again, and words its hint must have.
struct ECSDiagnosisTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var reason: String
        var containerReason: String? = nil
        var exitCode: Int? = nil
        var stopCode = "TaskFailedToStart"
        var cause: String
        var transient = false
        var words: [String]
        var testDescription: String { cause }
    }

    static let cases: [Case] = [
        Case(
            reason: "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request failed caused by: Post \"https://api.ecr.eu-west-1.amazonaws.com/\": dial tcp 52.95.1.1:443: i/o timeout",
            cause: "no-route-to-aws", words: ["NAT gateway", "VPC endpoints", "assignPublicIp", "not a permission problem"]),
        Case(
            reason: "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 5 time(s): failed to fetch secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:fathom-token-AbCdEf from secrets manager: RequestCanceled: request context canceled caused by: context deadline exceeded",
            cause: "no-route-to-aws", words: ["secretsmanager", "NAT gateway"]),
        Case(
            reason: "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/library/debian:bookworm: failed to do request: Head \"https://registry-1.docker.io/v2/library/debian/manifests/bookworm\": dial tcp 34.205.13.154:443: i/o timeout",
            cause: "no-route-to-aws", words: ["NAT gateway"]),
        Case(
            reason: "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: b'mount.nfs4: Connection reset by peer' : unsuccessful EFS utils command execution; code: 32",
            cause: "efs-connect", words: ["TCP 2049", "Availability Zone"]),
        Case(
            reason: "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: mount.nfs4: Connection timed out : unsuccessful EFS utils command execution; code: 32",
            cause: "efs-connect", words: ["TCP 2049"]),
        Case(
            reason: "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: b'mount.nfs4: mounting fs-0123456789abcdef0.efs.eu-west-1.amazonaws.com:/fathom failed, reason given by server: No such file or directory' : unsuccessful EFS utils command execution; code: 32",
            cause: "efs-path", words: ["rootDirectory", "access point's path"]),
        Case(
            reason: "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: Failed to resolve \"fs-0123456789abcdef0.efs.eu-west-1.amazonaws.com\" - check that your file system ID is correct, and ensure that the VPC has an EFS mount target for this file system ID. : unsuccessful EFS utils command execution; code: 1",
            cause: "efs-dns", words: ["mount target", "enableDnsHostnames"]),
        Case(
            reason: "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: b'mount.nfs4: access denied by server while mounting 127.0.0.1:/' : unsuccessful EFS utils command execution; code: 32",
            cause: "efs-denied", words: ["ClientMount", "access point"]),
        Case(
            reason: "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/fathom-task-execution/abc is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:eu-west-1:123456789012:secret:fathom-token-AbCdEf",
            cause: "secret-denied", words: ["secretsmanager:GetSecretValue", "-??????"]),
        Case(
            reason: "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref 123456789012.dkr.ecr.eu-west-1.amazonaws.com/fathom-runner:latst: not found",
            cause: "image-pull", words: ["image name and tag"]),
        Case(
            reason: "CannotPullContainerError: failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/debian/manifests/sha256:abc: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.",
            cause: "registry-throttled", transient: true, words: ["throttled"]),
        Case(
            reason: "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist.",
            cause: "awslogs", words: ["logs:CreateLogStream", "awslogs-region"]),
        Case(reason: "Timeout waiting for network interface provisioning to complete.", cause: "provisioning", transient: true, words: ["again"]),
        Case(
            reason: "Capacity is unavailable at this time. Please try again later or in a different availability zone", cause: "provisioning",
            transient: true, words: ["again"]),
        Case(
            reason: "Essential container in task exited", containerReason: "OutOfMemoryError: Container killed due to memory usage", exitCode: 137,
            stopCode: "EssentialContainerExited", cause: "out-of-memory", words: ["raise memory"]),
        Case(
            reason: "Essential container in task exited", containerReason: "OOMKilled", exitCode: 137, stopCode: "EssentialContainerExited",
            cause: "out-of-memory", words: ["raise memory"]),
        Case(
            reason: "Essential container in task exited", exitCode: 137, stopCode: "EssentialContainerExited", cause: "sigkill",
            words: ["exit code 137"]),
        Case(reason: "Your Spot Task was interrupted.", stopCode: "SpotInterruption", cause: "spot", words: ["Fargate Spot"]),
        // StopTask by a person or a deployment: even when the 30 s stop timeout ended in SIGKILL, it is not memory.
        Case(reason: "Stopped for a deployment", exitCode: 143, stopCode: "UserInitiated", cause: "stopped", words: ["StopTask", "--resume"]),
        Case(reason: "Task stopped by user", exitCode: 137, stopCode: "UserInitiated", cause: "stopped", words: ["SIGTERM"]),
    ]

    @Test(arguments: cases) func eachRealStopReasonGetsItsCauseAndHint(_ example: Case) {
        let task = ECSDiagnosis.StoppedTask(
            taskArn: "arn:aws:ecs:eu-west-1:123456789012:task/fathom/0123", stopCode: example.stopCode, stoppedReason: example.reason,
            containers: [("flow", example.exitCode, example.containerReason)])
        let cause = ECSDiagnosis.cause(task)
        #expect(cause?.name == example.cause, "\(example.reason)")
        #expect(cause?.isTransient == example.transient)
        for word in example.words { #expect(cause?.hint.contains(word) == true, "hint for \(example.cause) lacks '\(word)': \(cause?.hint ?? "none")") }
        #expect(ECSDiagnosis.isTransientStartFailure(task) == (example.transient && example.stopCode == "TaskFailedToStart"))
    }

    @Test func outOfMemoryIsMatchedAsAWholeWordOnly() {
        func cause(_ reason: String) -> String? {
            ECSDiagnosis.cause(ECSDiagnosis.StoppedTask(
                taskArn: "a", stopCode: "EssentialContainerExited", stoppedReason: reason, containers: [("flow", 1, nil)]))?.name
        }
        #expect(cause("no room left on the device") == nil, "'room' is not OOM")
        #expect(cause("Essential container in task exited: bloom filter failed") == nil)
        #expect(cause("killed: OOM") == "out-of-memory")
        #expect(cause("Essential container in task exited") == nil, "a plain exit has no hint")
        let fathomsOwnStop = ECSDiagnosis.StoppedTask(
            taskArn: "a", stopCode: "UserInitiated", stoppedReason: "Fathom: cancelled by the user", containers: [("flow", 143, nil)])
        #expect(ECSDiagnosis.cause(fathomsOwnStop) == nil, "Fathom's own StopTask (cancel, deadlines) says why itself")
    }
}
