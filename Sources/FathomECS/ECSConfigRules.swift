import FathomCore
import Foundation

/// The checks an ECS run config must pass before anything reaches AWS. Each names the field,
/// what is wrong, and the fix.
enum ECSConfigRules {
    /// RunTask fields that Fathom sets itself, and where the user's intent belongs instead.
    static let ownedRunTaskFields: [String: String] = [
        "volumes": "EFS volumes belong in 'efs:' (or in the task definition's volumes); RunTask cannot add volumes",
        "mountPoints": "mount points belong in 'efs:' (containerPath) or in the task definition's containerDefinitions",
        "taskDefinition": "the task definition belongs in 'taskDefinition:'; Fathom registers it and passes its ARN",
        "cluster": "use 'cluster:'", "launchType": "use 'launchType:'", "capacityProviderStrategy": "use 'capacityProviderStrategy:'",
        "platformVersion": "use 'platformVersion:'", "networkConfiguration": "use 'network:' (subnets, securityGroups, assignPublicIp)",
        "overrides": "use 'env:', 'cpu:' and 'memory:'; Fathom sets the container command", "count": "Fathom runs one task per flow run",
        "clientToken": "Fathom uses the flow run id", "startedBy": "Fathom sets it to 'fathom'",
    ]

    static func check(_ config: ECSRunConfig) -> [ValidationError] {
        var problems: [ValidationError] = []
        problems += ECSShapes.check(config.taskDefinition, against: ECSShapes.registerTaskDefinition, at: "ecs.taskDefinition")
        problems += runTaskProblems(config)
        problems += containerProblems(config)
        problems += efsProblems(config)
        problems += taskDefinitionEFSProblems(config)
        problems += placementProblems(config)
        problems += runnerProblems(config)
        if let secret = config.apiTokenSecret, !(secret.hasPrefix("arn:aws") && (secret.contains(":secretsmanager:") || secret.contains(":ssm:"))) {
            problems.append(ValidationError(
                code: "invalid_arn", field: "ecs.apiTokenSecret", problem: "'\(secret)' is not a Secrets Manager or SSM parameter ARN",
                fix: "Give e.g. arn:aws:secretsmanager:eu-west-1:123456789012:secret:fathom-token-AbCdEf."))
        }
        let executionRole = config.executionRoleArn ?? config.taskDefinition["executionRoleArn"].stringValue
        if executionRole == nil && config.apiTokenSecret != nil {
            problems.append(ValidationError(
                code: "execution_role_required", field: "ecs.executionRoleArn", problem: "apiTokenSecret needs a task execution role to read the secret",
                fix: "Set executionRoleArn: to a role allowed secretsmanager:GetSecretValue (or ssm:GetParameters) on it."))
        }
        if executionRole == nil && config.logs != nil && config.isFargate {
            problems.append(ValidationError(
                code: "execution_role_required", field: "ecs.executionRoleArn", problem: "awslogs on Fargate needs a task execution role",
                fix: "Set executionRoleArn: to a role with logs:CreateLogStream and logs:PutLogEvents (and logs:CreateLogGroup with createGroup)."))
        }
        for (field, value, fallback) in [
            ("startTimeoutSeconds", config.startTimeoutSeconds, 600), ("reportTimeoutSeconds", config.reportTimeoutSeconds, 300),
            ("awsErrorTimeoutSeconds", config.awsErrorTimeoutSeconds, 120), ("missingGraceSeconds", config.missingGraceSeconds, 60),
        ] where !(1...86_400).contains(value) {
            problems.append(ValidationError(
                code: "out_of_range", field: "ecs.\(field)", problem: "\(value) s is outside 1 s to 1 day", fix: "The default is \(fallback)."))
        }
        if !(0...10).contains(config.startRetries) {
            problems.append(ValidationError(code: "out_of_range", field: "ecs.startRetries", problem: "must be 0 to 10", fix: "The default is 2."))
        }
        if config.cluster.isEmpty == false && config.cluster.contains(" ") {
            problems.append(ValidationError(
                code: "invalid_value", field: "ecs.cluster", problem: "'\(config.cluster)' is not a cluster name or ARN", fix: "Use the name shown by 'aws ecs list-clusters'."))
        }
        return problems
    }

    static func runTaskProblems(_ config: ECSRunConfig) -> [ValidationError] {
        var problems: [ValidationError] = []
        var rest: [String: JSONValue] = [:]
        for (key, value) in config.runTask {
            if let reason = ownedRunTaskFields[key] {
                problems.append(ValidationError(
                    code: "reserved_key", field: "ecs.runTask.\(key)", problem: "'\(key)' cannot be given under runTask", fix: reason + "."))
            } else {
                rest[key] = value
            }
        }
        return problems + ECSShapes.check(.object(rest), against: ECSShapes.runTask, at: "ecs.runTask")
    }

    static func containerDefinitions(_ config: ECSRunConfig) -> [JSONValue] {
        config.taskDefinition["containerDefinitions"].arrayValue ?? []
    }

    static func containerProblems(_ config: ECSRunConfig) -> [ValidationError] {
        var problems: [ValidationError] = []
        let containers = containerDefinitions(config)
        let names = containers.compactMap { $0["name"].stringValue }
        if config.taskDefinition["family"].stringValue?.isEmpty ?? true {
            problems.append(ValidationError(
                code: "missing_key", field: "ecs.taskDefinition.family", problem: "the task definition needs a family",
                fix: "Add \"family\": \"hello\"; Fathom registers revisions of it."))
        }
        if containers.isEmpty {
            problems.append(ValidationError(
                code: "missing_key", field: "ecs.taskDefinition.containerDefinitions", problem: "the task definition has no containers",
                fix: "Add the flow container (its image must contain the fathom binary)."))
            return problems
        }
        if config.container.isEmpty {
            problems.append(ValidationError(
                code: "missing_key", field: "ecs.container", problem: "cannot tell which container runs the flow (none is named 'flow', and there are \(names.count))",
                fix: "Set container: to one of \(names.joined(separator: ", "))."))
        } else if !names.contains(config.container) {
            let hint = Spelling.closest(to: config.container, in: names).map { " Did you mean '\($0)'?" } ?? ""
            problems.append(ValidationError(
                code: "unknown_container", field: "ecs.container", problem: "the task definition has no container '\(config.container)'",
                fix: "Use one of: \(names.joined(separator: ", ")).\(hint)"))
        } else if config.image == nil, let flow = containers.first(where: { $0["name"].stringValue == config.container }),
                  flow["image"].stringValue?.isEmpty ?? true {
            problems.append(ValidationError(
                code: "missing_key", field: "ecs.image", problem: "the flow container '\(config.container)' has no image",
                fix: "Set image: (a runner image with the fathom binary), or the container's image in the task definition."))
        }
        let declared = Set((config.taskDefinition["volumes"].arrayValue ?? []).compactMap { $0["name"].stringValue } + config.efs.map(\.name))
        for (index, container) in containers.enumerated() {
            for (pointIndex, point) in (container["mountPoints"].arrayValue ?? []).enumerated() {
                guard let source = point["sourceVolume"].stringValue, !declared.contains(source) else { continue }
                problems.append(ValidationError(
                    code: "undeclared_volume", field: "ecs.taskDefinition.containerDefinitions[\(index)].mountPoints[\(pointIndex)].sourceVolume",
                    problem: "mount point names volume '\(source)', which is not declared",
                    fix: "Declare it in efs: (name: \(source)) or in the task definition's volumes\(declared.isEmpty ? "" : ", or use one of: \(declared.sorted().joined(separator: ", "))")."))
            }
        }
        if !config.isFargate {
            let taskMemory = config.memory ?? config.taskDefinition["memory"].stringValue
            for (index, container) in containers.enumerated() where taskMemory == nil {
                if container["memory"] == .null && container["memoryReservation"] == .null {
                    problems.append(ValidationError(
                        code: "missing_memory", field: "ecs.taskDefinition.containerDefinitions[\(index)].memory",
                        problem: "container '\(container["name"].stringValue ?? "?")' has no memory, and the task none, which EC2 requires",
                        fix: "Set memory (MiB) or memoryReservation on the container, or memory: on the run config."))
                }
            }
        }
        return problems
    }

    /// `prefix` followed by lowercase hex of one of `lengths` (AWS resource ids: fs-, fsap-, subnet-, sg-).
    static func isID(_ text: String, prefix: String, lengths: ClosedRange<Int>...) -> Bool {
        guard text.hasPrefix(prefix) else { return false }
        let hex = text.utf8.dropFirst(prefix.utf8.count)
        return lengths.contains { $0.contains(hex.count) } && hex.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    static func efsProblems(_ config: ECSRunConfig) -> [ValidationError] {
        var problems: [ValidationError] = []
        var names: Set<String> = []
        var paths: Set<String> = []
        let flow = containerDefinitions(config).first { $0["name"].stringValue == config.container }
        for point in flow?["mountPoints"].arrayValue ?? [] {
            if let path = point["containerPath"].stringValue { paths.insert(path) }
        }
        let taskVolumes = Set((config.taskDefinition["volumes"].arrayValue ?? []).compactMap { $0["name"].stringValue })
        for (index, volume) in config.efs.enumerated() {
            let at = "ecs.efs[\(index)]"
            if !volume.name.isEmpty {
                if !Names.isValid(volume.name) {
                    problems.append(ValidationError(
                        code: "invalid_name", field: "\(at).name", problem: "'\(volume.name)' is not a valid volume name",
                        fix: "Use letters, digits, '-' and '_' (it is also the name flows ask for: context.volume(\"scratch\"))."))
                }
                if !names.insert(volume.name).inserted || taskVolumes.contains(volume.name) {
                    problems.append(ValidationError(
                        code: "duplicate", field: "\(at).name", problem: "volume '\(volume.name)' is declared twice", fix: "Give each volume its own name."))
                }
            }
            problems += volumeConfigurationProblems(
                at: at, fileSystemID: volume.fileSystemID, accessPointID: volume.accessPointID, rootDirectory: volume.rootDirectory,
                transitEncryption: volume.transitEncryption, iam: volume.iam, awsSpelling: false)
            if !volume.containerPath.isEmpty {
                if !volume.containerPath.hasPrefix("/") {
                    problems.append(ValidationError(
                        code: "relative_path", field: "\(at).containerPath", problem: "'\(volume.containerPath)' is relative",
                        fix: "Use an absolute path such as /mnt/efs."))
                } else if !paths.insert(volume.containerPath).inserted {
                    problems.append(ValidationError(
                        code: "duplicate", field: "\(at).containerPath", problem: "'\(volume.containerPath)' is already a mount point of the flow container",
                        fix: "Give each volume its own containerPath."))
                }
            }
        }
        return problems
    }

    /// The rules ECS applies to an `efsVolumeConfiguration`, for `efs:` entries and for volumes written
    /// straight into the task definition alike (the EFS volume configuration docs of the ECS developer guide).
    static func volumeConfigurationProblems(
        at: String, fileSystemID: String, accessPointID: String?, rootDirectory: String?, transitEncryption: Bool?, iam: Bool,
        awsSpelling: Bool
    ) -> [ValidationError] {
        var problems: [ValidationError] = []
        if !fileSystemID.isEmpty && !isID(fileSystemID, prefix: "fs-", lengths: 8...8, 17...17) {
            problems.append(ValidationError(
                code: "malformed_id", field: "\(at).fileSystemId", problem: "'\(fileSystemID)' is not a file system id",
                fix: "EFS ids look like fs-12345678 or fs-0123456789abcdef0 ('aws efs describe-file-systems')."))
        }
        if let accessPoint = accessPointID, !isID(accessPoint, prefix: "fsap-", lengths: 8...40) {
            problems.append(ValidationError(
                code: "malformed_id", field: "\(at).accessPointId", problem: "'\(accessPoint)' is not an access point id",
                fix: "Access point ids look like fsap-0123456789abcdef0 ('aws efs describe-access-points')."))
        }
        if transitEncryption == false && (iam || accessPointID != nil) {
            problems.append(ValidationError(
                code: "transit_encryption_required", field: "\(at).transitEncryption",
                problem: iam ? "IAM authorization needs transit encryption" : "an access point needs transit encryption",
                fix: awsSpelling ? "Set transitEncryption: ENABLED." : "Set transitEncryption: true (or remove it: Fathom turns it on when IAM or an access point is used)."))
        }
        if accessPointID != nil, let root = rootDirectory, root != "/" {
            problems.append(ValidationError(
                code: "root_with_access_point", field: "\(at).rootDirectory",
                problem: "with an access point the root directory comes from the access point; ECS refuses '\(root)' here",
                fix: "Remove rootDirectory (or set it to /), and set the path on the access point."))
        }
        if let root = rootDirectory, !root.hasPrefix("/") {
            problems.append(ValidationError(
                code: "relative_path", field: "\(at).rootDirectory", problem: "'\(root)' is relative", fix: "Use an absolute path such as /fathom."))
        }
        return problems
    }

    /// `efsVolumeConfiguration` written directly in the task definition's volumes.
    static func taskDefinitionEFSProblems(_ config: ECSRunConfig) -> [ValidationError] {
        var problems: [ValidationError] = []
        for (index, volume) in (config.taskDefinition["volumes"].arrayValue ?? []).enumerated() {
            let efs = volume["efsVolumeConfiguration"]
            guard efs != .null else { continue }
            let authorization = efs["authorizationConfig"]
            problems += volumeConfigurationProblems(
                at: "ecs.taskDefinition.volumes[\(index)].efsVolumeConfiguration", fileSystemID: efs["fileSystemId"].stringValue ?? "",
                accessPointID: authorization["accessPointId"].stringValue, rootDirectory: efs["rootDirectory"].stringValue,
                transitEncryption: efs["transitEncryption"].stringValue.map { $0 == "ENABLED" },
                iam: authorization["iam"].stringValue == "ENABLED", awsSpelling: true)
        }
        return problems
    }

    static func placementProblems(_ config: ECSRunConfig) -> [ValidationError] {
        var problems: [ValidationError] = []
        if let launchType = config.launchType, !["FARGATE", "EC2", "EXTERNAL"].contains(launchType) {
            problems.append(ValidationError(
                code: "invalid_enum", field: "ecs.launchType", problem: "'\(launchType)' is not a launch type",
                fix: "Use FARGATE, EC2 or EXTERNAL; FARGATE_SPOT is accepted as shorthand for its capacity provider."))
        }
        let networkMode = config.taskDefinition["networkMode"].stringValue
        if config.isFargate {
            if let mode = networkMode, mode != "awsvpc" {
                problems.append(ValidationError(
                    code: "fargate_network_mode", field: "ecs.taskDefinition.networkMode", problem: "Fargate needs networkMode awsvpc, not \(mode)",
                    fix: "Set \"networkMode\": \"awsvpc\" (or remove it; Fathom sets it for Fargate)."))
            }
            if config.network?.subnets.isEmpty ?? true {
                problems.append(ValidationError(
                    code: "fargate_subnets", field: "ecs.network.subnets", problem: "Fargate tasks need at least one subnet",
                    fix: "Add network: {subnets: [subnet-…], securityGroups: [sg-…]}; with EFS, use subnets that have a mount target."))
            }
            if config.mountsEFS, let version = config.platformVersion, version != "LATEST", Self.isBelow140(version) {
                problems.append(ValidationError(
                    code: "platform_version", field: "ecs.platformVersion", problem: "EFS volumes on Fargate need platform version 1.4.0 or later, got \(version)",
                    fix: "Set platformVersion: 1.4.0 (the default), or LATEST."))
            }
            problems += fargateSizeProblems(config)
        } else if let version = config.platformVersion {
            // RunTask's platformVersion: "only specify this parameter for tasks hosted on Fargate" (botocore's ECS model).
            problems.append(ValidationError(
                code: "platform_version_not_fargate", field: "ecs.platformVersion",
                problem: "platform version \(version) is for Fargate; ECS refuses it for \(config.launchType ?? "capacity provider") launches",
                fix: "Remove platformVersion, or run on Fargate (launchType: FARGATE)."))
        }
        if config.runTask["propagateTags"]?.stringValue == "SERVICE" {
            // RunTask's propagateTags: "An error will be received if you specify the SERVICE option when running a task."
            problems.append(ValidationError(
                code: "invalid_value", field: "ecs.runTask.propagateTags", problem: "SERVICE is for services; RunTask refuses it",
                fix: "Use TASK_DEFINITION (tags of the task definition) or NONE."))
        }
        for (index, subnet) in (config.network?.subnets ?? []).enumerated() where !isID(subnet, prefix: "subnet-", lengths: 8...8, 17...17) {
            problems.append(ValidationError(
                code: "malformed_id", field: "ecs.network.subnets[\(index)]", problem: "'\(subnet)' is not a subnet id",
                fix: "Subnet ids look like subnet-0123abcd ('aws ec2 describe-subnets')."))
        }
        for (index, group) in (config.network?.securityGroups ?? []).enumerated() where !isID(group, prefix: "sg-", lengths: 8...8, 17...17) {
            problems.append(ValidationError(
                code: "malformed_id", field: "ecs.network.securityGroups[\(index)]", problem: "'\(group)' is not a security group id",
                fix: "Security group ids look like sg-0123abcd ('aws ec2 describe-security-groups')."))
        }
        return problems
    }

    static func isBelow140(_ version: String) -> Bool {
        let parts = version.split(separator: ".").map { Int($0) ?? 0 }
        let padded = parts + Array(repeating: 0, count: max(0, 3 - parts.count))
        return padded.lexicographicallyPrecedes([1, 4, 0])
    }

    /// Fargate's cpu (units) → allowed memory (MiB).
    static let fargateSizes: [Int: [Int]] = [
        256: [512, 1024, 2048],
        512: Array(stride(from: 1024, through: 4096, by: 1024)),
        1024: Array(stride(from: 2048, through: 8192, by: 1024)),
        2048: Array(stride(from: 4096, through: 16384, by: 1024)),
        4096: Array(stride(from: 8192, through: 30720, by: 1024)),
        8192: Array(stride(from: 16384, through: 61440, by: 4096)),
        16384: Array(stride(from: 32768, through: 122_880, by: 8192)),
    ]

    /// "1024", "1 vCPU", "0.25 vcpu" → cpu units; "2048", "2 GB", "2GB" → MiB.
    static func units(_ text: String, unitWord: String) -> Int? {
        let lowered = text.lowercased().replacingOccurrences(of: " ", with: "")
        if let value = Int(lowered) { return value }
        guard lowered.hasSuffix(unitWord), let number = Double(lowered.dropLast(unitWord.count)),
              number.isFinite, (0...1_000_000).contains(number)  // "1e300 GB" is no size, not a trap
        else { return nil }
        return Int(number * 1024)
    }

    static func fargateSizeProblems(_ config: ECSRunConfig) -> [ValidationError] {
        let cpuText = config.cpu ?? config.taskDefinition["cpu"].stringValue
        let memoryText = config.memory ?? config.taskDefinition["memory"].stringValue
        guard let cpuText, let memoryText else {
            return [ValidationError(
                code: "fargate_size", field: cpuText == nil ? "ecs.cpu" : "ecs.memory",
                problem: "Fargate tasks need task-level cpu and memory", fix: "Set cpu: and memory:, e.g. cpu: 1024, memory: 2048.")]
        }
        guard let cpu = units(cpuText, unitWord: "vcpu"), let memory = units(memoryText, unitWord: "gb") else {
            return [ValidationError(
                code: "invalid_value", field: "ecs.cpu", problem: "cannot read cpu '\(cpuText)' and memory '\(memoryText)'",
                fix: "Write cpu in units (1024 = 1 vCPU) and memory in MiB, e.g. cpu: 1024, memory: 2048.")]
        }
        guard let allowed = fargateSizes[cpu] else {
            return [ValidationError(
                code: "fargate_size", field: "ecs.cpu", problem: "Fargate has no \(cpu) cpu size",
                fix: "Use one of: \(fargateSizes.keys.sorted().map(String.init).joined(separator: ", ")).")]
        }
        guard allowed.contains(memory) else {
            return [ValidationError(
                code: "fargate_size", field: "ecs.memory", problem: "Fargate does not offer \(memory) MiB with \(cpu) cpu",
                fix: "With cpu \(cpu) use memory \(allowed.first!)–\(allowed.last!) MiB in steps of \(allowed.count > 1 ? allowed[1] - allowed[0] : 0) (\(allowed.prefix(4).map(String.init).joined(separator: ", "))…).")]
        }
        return []
    }

    /// The flow container must run `fathom`: an entryPoint of its own must end in it.
    static func runnerProblems(_ config: ECSRunConfig) -> [ValidationError] {
        var problems: [ValidationError] = []
        let containers = containerDefinitions(config)
        if let index = containers.firstIndex(where: { $0["name"].stringValue == config.container }),
           let entryPoint = containers[index]["entryPoint"].arrayValue {
            let last = entryPoint.last?.stringValue ?? ""
            if last != "fathom" && !last.hasSuffix("/fathom") {
                problems.append(ValidationError(
                    code: "runner_entry_point", field: "ecs.taskDefinition.containerDefinitions[\(index)].entryPoint",
                    problem: "the flow container's entryPoint \(entryPoint.compactMap(\.stringValue)) does not end in fathom; ECS appends 'execute --flow-run ID' to it",
                    fix: "Remove entryPoint (Fathom sets [\"fathom\"]), or end it with the fathom binary, e.g. [\"/usr/bin/tini\", \"--\", \"fathom\"]."))
            }
        }
        if let secret = config.apiTokenSecret, secret.contains(":secretsmanager:"), !hasSecretSuffix(secret) {
            problems.append(ValidationError(
                code: "partial_secret_arn", field: "ecs.apiTokenSecret",
                problem: "'\(secret)' is a partial ARN: a Secrets Manager ARN ends in the 6 characters AWS adds to the name",
                fix: "Use the full ARN ('aws secretsmanager describe-secret --secret-id NAME --query ARN'), e.g. …:secret:fathom-token-AbCdEf; in IAM policies write …:secret:fathom-token-??????."))
        }
        return problems
    }

    /// `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf[:json-key:stage:version]`.
    static func hasSecretSuffix(_ arn: String) -> Bool {
        guard let range = arn.range(of: ":secret:") else { return false }
        let name = arn[range.upperBound...].split(separator: ":", omittingEmptySubsequences: false).first ?? ""
        guard let dash = name.lastIndex(of: "-") else { return false }
        let suffix = name[name.index(after: dash)...]
        return suffix.count == 6 && suffix.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }
}
