import Crypto
import FathomCore
import Foundation

/// What a launch adds to the RunTask request.
public struct ECSLaunchContext: Sendable {
    public var flowRunID: String
    public var flowName: String
    /// The coordinator URL the container reaches.
    public var apiURL: String
    /// Sent as plaintext env only when the run config opts in with `plaintextToken: true`.
    public var token: String?
    /// A suffix for retried launches, so each attempt has its own idempotency token.
    public var attempt: Int = 1
    /// What a retry rule changed for this run: memory and cpu, the capacity provider.
    public var overrides: RunOverrides?

    public init(flowRunID: String, flowName: String, apiURL: String, token: String? = nil) {
        self.flowRunID = flowRunID
        self.flowName = flowName
        self.apiURL = apiURL
        self.token = token
    }
}

/// Turns an ``ECSRunConfig`` into the exact RegisterTaskDefinition and RunTask requests.
public enum ECSRender {
    /// The tag that carries the content hash of a rendered task definition.
    public static let hashTag = "fathom:config-sha256"

    /// What the flow container runs: the task's `entryPoint`, to which RunTask's `command` override
    /// (``runnerCommand(flowRunID:)``) is appended, as Docker joins ENTRYPOINT and CMD. Set in the
    /// task definition, it replaces whatever ENTRYPOINT the image has.
    public static let runnerEntryPoint = ["fathom"]

    /// RunTask's `command` override for a flow run: it replaces only the image's CMD.
    public static func runnerCommand(flowRunID: String) -> [String] {
        ["execute", "--flow-run", flowRunID]
    }

    /// The RegisterTaskDefinition request (with the `fathom:config-sha256` tag) and that hash.
    /// `region` is where the task runs: awslogs needs `awslogs-region` even when the run config names none.
    public static func registerTaskDefinition(_ config: ECSRunConfig, region: String? = nil) -> (request: JSONValue, hash: String) {
        var definition = config.taskDefinition.objectValue ?? [:]
        if config.isFargate {
            definition["networkMode"] = "awsvpc"
            var compatibilities = (definition["requiresCompatibilities"]?.arrayValue ?? []).compactMap(\.stringValue)
            if !compatibilities.contains("FARGATE") { compatibilities.append("FARGATE") }
            definition["requiresCompatibilities"] = .array(compatibilities.map(JSONValue.string))
        }
        if let cpu = config.cpu { definition["cpu"] = .string(cpu) }
        if let memory = config.memory { definition["memory"] = .string(memory) }
        if let role = config.taskRoleArn { definition["taskRoleArn"] = .string(role) }
        if let role = config.executionRoleArn { definition["executionRoleArn"] = .string(role) }
        if !config.efs.isEmpty {
            definition["volumes"] = .array((definition["volumes"]?.arrayValue ?? []) + config.efs.map(volume))
        }
        definition["containerDefinitions"] = .array((definition["containerDefinitions"]?.arrayValue ?? []).map { container in
            container["name"].stringValue == config.container ? flowContainer(container, config, region: region) : container
        })
        let userTags = (definition["tags"]?.arrayValue ?? []).filter { $0["key"].stringValue != hashTag }
        definition["tags"] = nil
        let hash = contentHash(.object(definition))
        definition["tags"] = .array(userTags + [["key": .string(hashTag), "value": .string(hash)]])
        return (.object(definition), hash)
    }

    /// sha256 of the canonical (sorted-key) JSON, hex.
    public static func contentHash(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data()  // cannot fail: Codable values of plain strings and numbers
        return Hex.lowercase(SHA256.hash(data: data))
    }

    static func volume(_ efs: EFSVolume) -> JSONValue {
        var configuration: [String: JSONValue] = [
            "fileSystemId": .string(efs.fileSystemID),
            "transitEncryption": efs.encryptsInTransit ? "ENABLED" : "DISABLED",
        ]
        if let root = efs.rootDirectory, efs.accessPointID == nil { configuration["rootDirectory"] = .string(root) }
        if efs.accessPointID != nil || efs.iam {
            var authorization: [String: JSONValue] = ["iam": efs.iam ? "ENABLED" : "DISABLED"]
            if let accessPoint = efs.accessPointID { authorization["accessPointId"] = .string(accessPoint) }
            configuration["authorizationConfig"] = .object(authorization)
        }
        return ["name": .string(efs.name), "efsVolumeConfiguration": .object(configuration)]
    }

    static func flowContainer(_ container: JSONValue, _ config: ECSRunConfig, region: String?) -> JSONValue {
        var fields = container.objectValue ?? [:]
        if let image = config.image { fields["image"] = .string(image) }
        // A base definition may wrap the runner (an init such as tini); the rules check it ends in fathom.
        if fields["entryPoint"] == nil { fields["entryPoint"] = .array(runnerEntryPoint.map(JSONValue.string)) }
        if !config.efs.isEmpty {
            fields["mountPoints"] = .array((fields["mountPoints"]?.arrayValue ?? []) + config.efs.map {
                ["sourceVolume": .string($0.name), "containerPath": .string($0.containerPath), "readOnly": .bool($0.readOnly)]
            })
        }
        if !config.env.isEmpty {
            let kept = (fields["environment"]?.arrayValue ?? []).filter { config.env[$0["name"].stringValue ?? ""] == nil }
            fields["environment"] = .array(kept + config.env.sorted { $0.key < $1.key }.map {
                ["name": .string($0.key), "value": .string($0.value)]
            })
        }
        if let logs = config.logs {
            var options: [String: JSONValue] = [
                "awslogs-group": .string(logs.group), "awslogs-stream-prefix": .string(logs.streamPrefix),
            ]
            if let region = logs.region ?? config.region ?? region { options["awslogs-region"] = .string(region) }
            if logs.createGroup { options["awslogs-create-group"] = "true" }
            fields["logConfiguration"] = ["logDriver": "awslogs", "options": .object(options)]
        }
        if let secret = config.apiTokenSecret {
            let kept = (fields["secrets"]?.arrayValue ?? []).filter { $0["name"].stringValue != "FATHOM_TOKEN" }
            fields["secrets"] = .array(kept + [["name": "FATHOM_TOKEN", "valueFrom": .string(secret)]])
        }
        return .object(fields)
    }

    /// The RunTask request for one flow run of a registered task definition.
    public static func runTask(_ config: ECSRunConfig, taskDefinition: String, context: ECSLaunchContext) -> JSONValue {
        var request = config.runTask
        request["cluster"] = .string(config.cluster)
        request["taskDefinition"] = .string(taskDefinition)
        request["count"] = 1
        request["startedBy"] = "fathom"
        request["clientToken"] = .string(context.attempt > 1 ? "\(context.flowRunID)-\(context.attempt)" : context.flowRunID)
        if let provider = context.overrides?.capacityProvider {
            // RunTask takes a launch type or a strategy, never both.
            request["capacityProviderStrategy"] = [["capacityProvider": .string(provider), "weight": 1]]
        } else {
            if let launchType = config.launchType { request["launchType"] = .string(launchType) }
            if let strategy = config.capacityProviderStrategy { request["capacityProviderStrategy"] = .array(strategy) }
        }
        if config.isFargate { request["platformVersion"] = .string(config.platformVersion ?? "1.4.0") }
        else if let version = config.platformVersion { request["platformVersion"] = .string(version) }
        if let network = config.network {
            var awsvpc: [String: JSONValue] = [
                "subnets": .array(network.subnets.map(JSONValue.string)), "assignPublicIp": .string(network.assignPublicIp),
            ]
            if !network.securityGroups.isEmpty { awsvpc["securityGroups"] = .array(network.securityGroups.map(JSONValue.string)) }
            request["networkConfiguration"] = ["awsvpcConfiguration": .object(awsvpc)]
        }
        let ours: [JSONValue] = [
            ["key": "fathom:flow-run-id", "value": .string(context.flowRunID)], ["key": "fathom:flow", "value": .string(context.flowName)],
        ]
        request["tags"] = .array((request["tags"]?.arrayValue ?? []).filter { !($0["key"].stringValue ?? "").hasPrefix("fathom:") } + ours)
        var environment: [JSONValue] = [
            ["name": "FATHOM_API_URL", "value": .string(context.apiURL)],
            ["name": "FATHOM_FLOW_RUN_ID", "value": .string(context.flowRunID)],
            ["name": "FATHOM_VOLUMES", "value": .string(volumesEnvironment(config))],
        ]
        if config.plaintextToken, let token = context.token { environment.append(["name": "FATHOM_TOKEN", "value": .string(token)]) }
        var container: [String: JSONValue] = [
            "name": .string(config.container),
            "command": .array(runnerCommand(flowRunID: context.flowRunID).map(JSONValue.string)),
            "environment": .array(environment),
        ]
        var overrides: [String: JSONValue] = [:]
        if let memory = context.overrides?.memoryMiB {
            // Task-level sizes are strings in RunTask's TaskOverride; a container's hard limit (if the task definition
            // sets one) is an integer in its ContainerOverride and must grow too, or it still kills at the old size.
            overrides["memory"] = .string(String(memory))
            if containerHasHardMemoryLimit(config) { container["memory"] = .int(Int64(memory)) }
        }
        if let cpu = context.overrides?.cpu { overrides["cpu"] = .string(String(cpu)) }
        overrides["containerOverrides"] = [.object(container)]
        request["overrides"] = .object(overrides)
        return .object(request)
    }

    /// Whether the run config's task definition gives Fathom's container its own hard memory limit.
    static func containerHasHardMemoryLimit(_ config: ECSRunConfig) -> Bool {
        (config.taskDefinition["containerDefinitions"].arrayValue ?? []).contains {
            $0["name"].stringValue == config.container && $0["memory"] != .null
        }
    }

    /// `{"scratch": "/mnt/efs"}`: the volumes the flow finds in the container.
    public static func volumesEnvironment(_ config: ECSRunConfig) -> String {
        let map = Dictionary(uniqueKeysWithValues: config.efs.map { ($0.name, $0.containerPath) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(map)) ?? Data("{}".utf8), as: UTF8.self)  // cannot fail: a dictionary of strings
    }
}
