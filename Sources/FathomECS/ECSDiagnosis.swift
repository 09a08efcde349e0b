import Foundation

/// Explains why an ECS task stopped, with a hint for the failures users hit with EFS and Fargate.
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

    /// A hint for a known failure, or nil.
    public static func hint(_ task: StoppedTask) -> String? {
        let texts = ([task.stoppedReason ?? ""] + task.containers.map { $0.reason ?? "" }).joined(separator: " ")
        let lowered = texts.lowercased()
        let mentionsEFS = lowered.contains("efs") || lowered.contains("mount") || lowered.contains("nfs") || lowered.contains("2049")
        if mentionsEFS && (lowered.contains("timeout") || lowered.contains("timed out") || lowered.contains("connection refused")
            || lowered.contains("no route") || lowered.contains("failed to resolve")) {
            return "EFS mount failed to connect: the mount targets' security group must allow inbound TCP 2049 from the task's security groups, and the file system needs a mount target in the Availability Zone of every task subnet ('fathom ecs check' tests both)."
        }
        if mentionsEFS && (lowered.contains("access denied") || lowered.contains("accessdenied") || lowered.contains("permission denied")
            || lowered.contains("not authorized") || lowered.contains("unauthorized")) {
            return "EFS refused the mount: check the access point (it must belong to the file system; its POSIX user needs rights on its root directory), the file system policy, the task role's elasticfilesystem:ClientMount and ClientWrite, and 'iam: true' on the volume when the policy requires IAM."
        }
        if lowered.contains("cannotpullcontainer") || lowered.contains("pull image") || lowered.contains("manifest unknown") {
            return "The image could not be pulled: check the image name and tag, that the execution role may pull it (ecr:GetAuthorizationToken, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer), and that the subnet reaches the registry (a NAT gateway, assignPublicIp: true, or VPC endpoints for ecr.api, ecr.dkr and s3)."
        }
        if lowered.contains("resourceinitializationerror") && (lowered.contains("secret") || lowered.contains("ssm")) {
            return "The execution role could not read a secret: allow secretsmanager:GetSecretValue (or ssm:GetParameters) on apiTokenSecret, and make sure the subnet reaches Secrets Manager or SSM (NAT or VPC endpoints)."
        }
        if lowered.contains("resourceinitializationerror") && lowered.contains("log") {
            return "awslogs could not be set up: the execution role needs logs:CreateLogStream and logs:PutLogEvents (and logs:CreateLogGroup with createGroup), and the subnet must reach CloudWatch Logs."
        }
        if lowered.contains("outofmemory") || lowered.contains("out of memory") || lowered.contains("oom") {
            return "The container ran out of memory: raise memory: in the run config (and the container's memory in the task definition); the sort toolkit's --memory budget must fit inside it."
        }
        if task.stopCode == "SpotInterruption" {
            return "Fargate Spot reclaimed the capacity: retry the run, or use FARGATE for runs that must not be interrupted."
        }
        if task.containers.contains(where: { $0.exitCode == 137 }) {
            return "The container was killed (exit code 137, SIGKILL): usually memory (raise memory:) or a stop after the start timeout."
        }
        return nil
    }

    /// Failures of RunTask that go away by themselves (capacity), worth retrying with backoff.
    public static func isTransientRunTaskFailure(_ reason: String) -> Bool {
        let upper = reason.uppercased()
        return upper.hasPrefix("RESOURCE:") || upper.contains("CAPACITY") || upper == "AGENT" || upper.contains("THROTTL")
            || upper.contains("TIMEOUT")
    }

    /// A task that stopped before its containers ran, which AWS Batch also retries.
    public static func failedToStart(_ task: StoppedTask) -> Bool {
        task.stopCode == "TaskFailedToStart"
    }
}
