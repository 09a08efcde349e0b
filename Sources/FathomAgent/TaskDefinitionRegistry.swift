import AWS
import FathomCore
import FathomECS
import Foundation
import Logging

/// Finds the ACTIVE task definition revision whose `fathom:config-sha256` tag matches, and
/// registers one only when none does: no registration per run, none after an agent restart.
actor TaskDefinitionRegistry {
    private var known: [String: String] = [:]
    let logger: Logger
    /// How many recent revisions of a family are searched for a matching tag.
    let searchDepth = 20

    init(logger: Logger) {
        self.logger = logger
    }

    func arn(for request: JSONValue, hash: String, ecs: ECSClient) async throws -> (arn: String, registered: Bool) {
        if let arn = known[hash] { return (arn, false) }
        let family = request["family"].stringValue ?? ""
        let candidates = try await ecs.listTaskDefinitions(familyPrefix: family, status: "ACTIVE")
        for arn in candidates.prefix(searchDepth) where arn.contains(":task-definition/\(family):") {
            let described = try await ecs.describeTaskDefinition(arn)
            if described.tags?.contains(ECSTag(key: ECSRender.hashTag, value: hash)) == true {
                known[hash] = arn
                return (arn, false)
            }
        }
        let registered = try await ecs.registerTaskDefinition(request)
        guard let arn = registered.taskDefinition?.taskDefinitionArn else {
            throw LaunchError("RegisterTaskDefinition returned no ARN for family \(family)")
        }
        logger.info("registered task definition", metadata: ["arn": "\(arn)", "hash": "\(hash.prefix(12))"])
        known[hash] = arn
        return (arn, true)
    }
}
