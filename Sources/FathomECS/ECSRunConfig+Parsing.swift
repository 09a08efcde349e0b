import FathomCore
import Foundation

extension ECSRunConfig {
    /// Reads and checks the `ecs:` section of a run config. A `taskDefinition` path is read relative
    /// to `baseDirectory` (the run config file's folder). Every problem is reported at once.
    public init(_ settings: JSONValue, baseDirectory: String? = nil) throws(ValidationErrors) {
        var reader = FieldReader(settings, path: "ecs", allowed: Self.keys)
        let cluster = reader.string("cluster", required: true) ?? ""
        let region = reader.string("region")
        var launchType = reader.string("launchType")
        var strategy = reader.fields["capacityProviderStrategy"].flatMap { $0 == .null ? nil : $0.arrayValue }
        if reader.fields["capacityProviderStrategy"].map({ $0 != .null && $0.arrayValue == nil }) == true {
            reader.problems.append(ValidationError(
                code: "invalid_type", field: "ecs.capacityProviderStrategy", problem: "expected a list of {capacityProvider, weight, base}",
                fix: "Write e.g. [{capacityProvider: FARGATE_SPOT, weight: 1}]."))
        }
        if launchType == "FARGATE_SPOT" {
            if strategy != nil {
                reader.problems.append(ValidationError(
                    code: "conflict", field: "ecs.launchType", problem: "launchType FARGATE_SPOT is shorthand for a capacity provider strategy, and one is given too",
                    fix: "Keep only capacityProviderStrategy."))
            }
            strategy = [["capacityProvider": "FARGATE_SPOT", "weight": 1]]
            launchType = nil
        } else if launchType != nil && strategy != nil {
            reader.problems.append(ValidationError(
                code: "conflict", field: "ecs.launchType", problem: "launchType and capacityProviderStrategy cannot both be set (RunTask refuses it)",
                fix: "Keep one of them."))
        }
        if launchType == nil && strategy == nil { launchType = "FARGATE" }
        let (taskDefinition, source) = Self.readTaskDefinition(reader.fields["taskDefinition"], baseDirectory: baseDirectory, problems: &reader.problems)
        let env = Self.readEnv(reader.fields["env"], problems: &reader.problems)
        let efs = Self.readEFS(reader.fields["efs"], problems: &reader.problems)
        let network = reader.fields["network"].flatMap { value -> ECSNetwork? in
            var sub = FieldReader(value, path: "ecs.network", allowed: Self.networkKeys)
            defer { reader.problems += sub.problems }
            return ECSNetwork(
                subnets: sub.strings("subnets") ?? [], securityGroups: sub.strings("securityGroups") ?? [],
                assignPublicIp: (sub.bool("assignPublicIp") ?? false) ? "ENABLED" : "DISABLED")
        }
        let logs = reader.fields["logs"].flatMap { value -> ECSLogs? in
            var sub = FieldReader(value, path: "ecs.logs", allowed: Self.logsKeys)
            defer { reader.problems += sub.problems }
            return ECSLogs(
                group: sub.string("group", required: true) ?? "", streamPrefix: sub.string("streamPrefix") ?? "fathom",
                createGroup: sub.bool("createGroup") ?? true, region: sub.string("region"))
        }
        var runTask: [String: JSONValue] = [:]
        if let value = reader.fields["runTask"], value != .null {
            if case .object(let fields) = value { runTask = fields } else {
                reader.problems.append(ValidationError(
                    code: "invalid_type", field: "ecs.runTask", problem: "expected a mapping of RunTask fields", fix: "Write e.g. runTask: {propagateTags: TASK_DEFINITION}."))
            }
        }
        self.init(
            cluster: cluster, region: region, launchType: launchType, capacityProviderStrategy: strategy,
            platformVersion: reader.string("platformVersion"), taskDefinition: taskDefinition, taskDefinitionSource: source,
            container: reader.string("container") ?? "", image: reader.string("image"), cpu: reader.string("cpu"),
            memory: reader.string("memory"), taskRoleArn: reader.string("taskRoleArn"), executionRoleArn: reader.string("executionRoleArn"),
            env: env, efs: efs, network: network, logs: logs, runTask: runTask, apiTokenSecret: reader.string("apiTokenSecret"),
            plaintextToken: reader.bool("plaintextToken") ?? false, startTimeoutSeconds: reader.int("startTimeoutSeconds") ?? 600,
            startRetries: reader.int("startRetries") ?? 2)
        reportTimeoutSeconds = reader.int("reportTimeoutSeconds") ?? reportTimeoutSeconds
        awsErrorTimeoutSeconds = reader.int("awsErrorTimeoutSeconds") ?? awsErrorTimeoutSeconds
        missingGraceSeconds = reader.int("missingGraceSeconds") ?? missingGraceSeconds
        if container.isEmpty { container = Self.defaultContainer(in: taskDefinition) ?? "" }
        let problems = reader.problems + ECSConfigRules.check(self)
        if !problems.isEmpty { throw ValidationErrors(problems) }
    }

    /// `flow`, or the only container.
    static func defaultContainer(in taskDefinition: JSONValue) -> String? {
        let names = (taskDefinition["containerDefinitions"].arrayValue ?? []).compactMap { $0["name"].stringValue }
        if names.contains("flow") { return "flow" }
        return names.count == 1 ? names[0] : nil
    }

    static func readTaskDefinition(_ value: JSONValue?, baseDirectory: String?, problems: inout [ValidationError]) -> (JSONValue, String?) {
        switch value {
        case .object?:
            return (value!, nil)
        case .string(let path)?:
            let resolved = path.hasPrefix("/") || baseDirectory == nil ? path : (baseDirectory! as NSString).appendingPathComponent(path)
            guard let data = FileManager.default.contents(atPath: resolved) else {
                problems.append(ValidationError(
                    code: "file_not_found", field: "ecs.taskDefinition", problem: "cannot read '\(resolved)'",
                    fix: "Give a path relative to the run config file, or write the task definition inline."))
                return (.object([:]), resolved)
            }
            guard let json = try? JSONDecoder().decode(JSONValue.self, from: data), json.objectValue != nil else {  // the problem appended below names the field
                problems.append(ValidationError(
                    code: "invalid_json", field: "ecs.taskDefinition", problem: "'\(resolved)' is not a JSON object",
                    fix: "Use the file 'aws ecs register-task-definition --cli-input-json' takes."))
                return (.object([:]), resolved)
            }
            return (json, resolved)
        default:
            problems.append(ValidationError(
                code: "missing_key", field: "ecs.taskDefinition", problem: "a base task definition is required",
                fix: "Give a path to a RegisterTaskDefinition JSON file (e.g. hello_flow.json), or an inline mapping."))
            return (.object([:]), nil)
        }
    }

    static func readEnv(_ value: JSONValue?, problems: inout [ValidationError]) -> [String: String] {
        guard let value, value != .null else { return [:] }
        guard case .object(let fields) = value else {
            problems.append(ValidationError(
                code: "invalid_type", field: "ecs.env", problem: "expected a mapping of names to values", fix: "Write e.g. env: {LEVEL: \"9\"}."))
            return [:]
        }
        return fields.mapValues { $0.stringValue ?? $0.description }
    }

    static func readEFS(_ value: JSONValue?, problems: inout [ValidationError]) -> [EFSVolume] {
        guard let value, value != .null else { return [] }
        guard case .array(let items) = value else {
            problems.append(ValidationError(
                code: "invalid_type", field: "ecs.efs", problem: "expected a list of volumes", fix: "Write efs: followed by '- name: scratch ...' items."))
            return []
        }
        return items.enumerated().map { index, item in
            var sub = FieldReader(item, path: "ecs.efs[\(index)]", allowed: efsKeys)
            defer { problems += sub.problems }
            return EFSVolume(
                name: sub.string("name", required: true) ?? "", fileSystemID: sub.string("fileSystemId", required: true) ?? "",
                accessPointID: sub.string("accessPointId"), rootDirectory: sub.string("rootDirectory"),
                containerPath: sub.string("containerPath", required: true) ?? "", transitEncryption: sub.bool("transitEncryption"),
                iam: sub.bool("iam") ?? false, readOnly: sub.bool("readOnly") ?? false)
        }
    }
}
