import FathomCore
import Foundation

/// Explains why an ECS task stopped, with a hint for the failures users hit with EFS and Fargate,
/// and tells a transient start failure (worth another try) from a deterministic one.
///
/// The texts matched here are the ones ECS, the Fargate agent and amazon-efs-utils put in
/// `stoppedReason` and container reasons; `docs/ecs-efs.md` has the table, and `ECSDiagnosisTests`
/// a test per row.
public enum ECSDiagnosis {
    /// What ECS said about a stopped task.
    public struct StoppedTask: Sendable {
        public var taskArn: String
        public var stopCode: String?
        public var stoppedReason: String?
        /// (name, exit code, reason) of each container.
        public var containers: [(name: String, exitCode: Int?, reason: String?)]

        public init(taskArn: String, stopCode: String?, stoppedReason: String?, containers: [(name: String, exitCode: Int?, reason: String?)]) {
            self.taskArn = taskArn
            self.stopCode = stopCode
            self.stoppedReason = stoppedReason
            self.containers = containers
        }

        /// Every text ECS gave, lowercased.
        var text: String {
            ([stoppedReason ?? ""] + containers.map { $0.reason ?? "" }).joined(separator: " ").lowercased()
        }
    }

    /// A known cause: how to recognise it, what to tell the user, and whether starting again can help.
    public struct Cause: Sendable {
        /// A short name, for tests and docs.
        public var name: String
        public var hint: String
        /// A start that failed this way may succeed on another try (capacity, provisioning).
        public var isTransient: Bool
        let matches: @Sendable (StoppedTask, String) -> Bool
    }

    /// One line of facts: stop code, reason, each container's exit code and reason.
    public static func summary(_ task: StoppedTask) -> String {
        var parts = ["ECS task \(task.taskArn) stopped"]
        if let code = task.stopCode, !code.isEmpty { parts.append("stopCode \(code)") }
        if let reason = task.stoppedReason, !reason.isEmpty { parts.append("stoppedReason \"\(reason)\"") }
        for container in task.containers {
            var text = "container \(container.name)"
            if let exit = container.exitCode { text += " exit code \(exit)" }
            if let reason = container.reason, !reason.isEmpty { text += " (\(reason))" }
            if container.exitCode != nil || !(container.reason ?? "").isEmpty { parts.append(text) }
        }
        return parts.joined(separator: "; ")
    }

    /// The first known cause that fits, or nil.
    public static func cause(_ task: StoppedTask) -> Cause? {
        let text = task.text
        return causes.first { $0.matches(task, text) }
    }

    /// A hint for a known failure, or nil.
    public static func hint(_ task: StoppedTask) -> String? {
        cause(task)?.hint
    }

    /// Why the run ended, for a retry policy's rules: out of memory, a Spot interruption, no capacity to start,
    /// or another start failure. Nil for anything else (the flow's own exit, a stop by someone).
    public static func endCause(_ task: StoppedTask) -> EndCause? {
        switch cause(task)?.name {
        case "out-of-memory": return .outOfMemory
        case "spot": return .spotInterruption
        default: break
        }
        // A Spot stop's reason, however ECS words it ("Your Spot Task was interrupted.", a termination notice).
        if task.text.contains("spot task was interrupted") || task.text.contains("terminationnotice") { return .spotInterruption }
        if failedToStart(task) { return isTransientStartFailure(task) ? .capacity : .startFailure }
        return nil
    }

    /// A task that stopped before its containers ran, which AWS Batch also retries.
    public static func failedToStart(_ task: StoppedTask) -> Bool {
        task.stopCode == "TaskFailedToStart"
    }

    /// Whether a task that failed to start should be started again: only for causes that go away by
    /// themselves. A misconfiguration (security group, permissions, image name) fails the same way
    /// every time, so it ends the run at once with its hint.
    public static func isTransientStartFailure(_ task: StoppedTask) -> Bool {
        failedToStart(task) && (cause(task)?.isTransient ?? false)
    }

    /// Failures of RunTask that go away by themselves (capacity), worth retrying with backoff.
    public static func isTransientRunTaskFailure(_ reason: String) -> Bool {
        let upper = reason.uppercased()
        return upper.hasPrefix("RESOURCE:") || upper.contains("CAPACITY") || upper == "AGENT" || upper.contains("THROTTL")
            || upper.contains("TIMEOUT")
    }

    /// Whether `text` has `word` with no letter or digit on either side ("oom" is not in "room").
    static func hasWord(_ text: String, _ word: String) -> Bool {
        var searchRange = text.startIndex..<text.endIndex
        while let found = text.range(of: word, range: searchRange) {
            let before = found.lowerBound == text.startIndex ? nil : text[text.index(before: found.lowerBound)]
            let after = found.upperBound == text.endIndex ? nil : text[found.upperBound]
            if !(before?.isLetter ?? false || before?.isNumber ?? false) && !(after?.isLetter ?? false || after?.isNumber ?? false) {
                return true
            }
            searchRange = found.upperBound..<text.endIndex
        }
        return false
    }

    static func any(_ text: String, _ needles: [String]) -> Bool { needles.contains { text.contains($0) } }

    static let routeHint = """
        The task could not reach an AWS service it needs before the container starts (a network timeout, not a permission problem): \
        in a private subnet add a NAT gateway or VPC endpoints (com.amazonaws.REGION.ecr.api, ecr.dkr, the s3 gateway, secretsmanager, \
        ssm, logs); in a public subnet set network.assignPublicIp: ENABLED. 'fathom ecs check' looks for a route.
        """

    /// The known causes, most specific first.
    public static let causes: [Cause] = [
        Cause(
            name: "no-route-to-aws",
            hint: routeHint, isTransient: false,
            matches: { _, text in
                any(text, ["i/o timeout", "context deadline exceeded", "requestcanceled"])
                    && any(text, ["ecr", "secret", "asm", "ssm", "registry", "pull image", "cannotpullcontainer", "logs."])
            }),
        Cause(
            name: "efs-dns",
            hint: """
                The EFS name did not resolve: the file system needs a mount target in the task's VPC and in the Availability Zone \
                of every task subnet, and the VPC needs enableDnsSupport and enableDnsHostnames ('fathom ecs check' tests both).
                """,
            isTransient: false,
            matches: { _, text in text.contains("failed to resolve") && any(text, [".efs.", "efs"]) }),
        Cause(
            name: "efs-connect",
            hint: """
                The NFS connection to the mount target failed: the mount target's security group must allow inbound TCP 2049 from the \
                task's security groups (and their egress allow it out), and the file system needs a mount target in the Availability \
                Zone of every task subnet ('fathom ecs check' tests both).
                """,
            isTransient: false,
            matches: { _, text in
                any(text, ["mount.nfs", "efs", "nfs4"])
                    && any(text, ["connection reset by peer", "connection timed out", "connection refused", "no route to host", "timed out"])
            }),
        Cause(
            name: "efs-path",
            hint: """
                The EFS server has no such directory: rootDirectory (without an access point) or the access point's path must exist \
                on the file system; an access point creates its path only when it has creation info (owner and permissions).
                """,
            isTransient: false,
            matches: { _, text in any(text, ["mount.nfs", "efs"]) && text.contains("no such file or directory") }),
        Cause(
            name: "efs-denied",
            hint: """
                EFS refused the mount: check the access point (it must belong to the file system; its POSIX user needs rights on its \
                root directory), the file system policy, the task role's elasticfilesystem:ClientMount and ClientWrite, and iam: true \
                on the volume when the policy requires IAM.
                """,
            isTransient: false,
            matches: { _, text in
                any(text, ["mount.nfs", "efs"])
                    && any(text, ["access denied", "accessdenied", "permission denied", "not authorized", "unauthorized"])
            }),
        Cause(
            name: "secret-denied",
            hint: """
                The task execution role may not read a secret: allow secretsmanager:GetSecretValue (or ssm:GetParameters) on it, \
                naming the secret's full ARN with its 6-character suffix (or -?????? in the policy), plus kms:Decrypt for a \
                customer-managed key.
                """,
            isTransient: false,
            matches: { _, text in
                any(text, ["secret", "asm", "ssm"]) && any(text, ["accessdenied", "not authorized", "access denied"])
            }),
        Cause(
            name: "secret-missing",
            hint: "A secret the task names does not exist: give apiTokenSecret (and the task's secrets) as full ARNs of existing secrets in the task's region.",
            isTransient: false,
            matches: { _, text in any(text, ["secret", "asm", "ssm"]) && any(text, ["resourcenotfound", "parameternotfound", "not found"]) }),
        Cause(
            name: "secret-unreadable",
            hint: """
                The task could not read a secret: the execution role needs secretsmanager:GetSecretValue (or ssm:GetParameters) on \
                it, by its full ARN, and the subnet must reach Secrets Manager or SSM (NAT gateway or VPC endpoints).
                """,
            isTransient: false,
            matches: { _, text in text.contains("resourceinitializationerror") && any(text, ["secret", "asm", "ssm"]) }),
        Cause(
            name: "registry-throttled",
            hint: "The image registry throttled the pull; Fathom starts the task again.",
            isTransient: true,
            matches: { _, text in text.contains("cannotpullcontainer") && any(text, ["toomanyrequests", "rate limit", "429"]) }),
        Cause(
            name: "image-pull",
            hint: """
                The image could not be pulled: check the image name and tag, that the execution role may pull it \
                (ecr:GetAuthorizationToken, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer), and that the subnet reaches the \
                registry (a NAT gateway, assignPublicIp, or VPC endpoints for ecr.api, ecr.dkr and s3).
                """,
            isTransient: false,
            matches: { _, text in any(text, ["cannotpullcontainer", "pull image", "manifest unknown"]) }),
        Cause(
            name: "awslogs",
            hint: """
                awslogs could not be set up: the execution role needs logs:CreateLogStream and logs:PutLogEvents (and \
                logs:CreateLogGroup with createGroup), the log group must exist in awslogs-region, and the subnet must reach CloudWatch Logs.
                """,
            isTransient: false,
            matches: { _, text in
                text.contains("resourceinitializationerror") && any(text, ["logger", "log stream", "log group", "cloudwatch"])
            }),
        Cause(
            name: "provisioning",
            hint: "ECS could not provision the task this time (network interface, capacity or host); Fathom starts it again.",
            isTransient: true,
            matches: { _, text in
                any(text, [
                    "timeout waiting for network interface provisioning", "capacity is unavailable", "insufficient capacity",
                    "unexpected ec2 error", "requestlimitexceeded", "host ec2", "agent disconnected", "internal error",
                ])
            }),
        Cause(
            name: "out-of-memory",
            hint: """
                The container ran out of memory: raise memory: in the run config (and the container's memory in the task definition); \
                the sort toolkit's --memory budget must fit inside it.
                """,
            isTransient: false,
            matches: { _, text in
                hasWord(text, "outofmemoryerror") || hasWord(text, "outofmemory") || hasWord(text, "oom") || text.contains("out of memory")
                    || text.contains("killed due to memory usage") || hasWord(text, "oomkilled")
            }),
        Cause(
            name: "spot",
            hint: "Fargate Spot reclaimed the capacity: retry the run, or use FARGATE for runs that must not be interrupted.",
            isTransient: false,
            matches: { task, _ in task.stopCode == "SpotInterruption" }),
        Cause(
            name: "stopped",
            hint: """
                Someone stopped the task with StopTask (the console, the AWS CLI, a deployment; stoppedReason says who, when they \
                said so). ECS sent SIGTERM first, so the toolkit's sort and bzip2 wrote their checkpoints: \
                'fathom retry RUN --resume' continues from them.
                """,
            isTransient: false,
            matches: { task, _ in task.stopCode == "UserInitiated" && !(task.stoppedReason ?? "").hasPrefix("Fathom:") }),
        Cause(
            name: "sigkill",
            hint: "The container was killed (exit code 137, SIGKILL): usually memory (raise memory:), or a stop after a Fathom deadline.",
            isTransient: false,
            matches: { task, _ in task.containers.contains { $0.exitCode == 137 } }),
    ]
}
