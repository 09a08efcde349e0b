import AWS
import FathomCore
import FathomECS
import Foundation
import Logging

/// Finds the ACTIVE task definition revision whose `fathom:config-sha256` tag matches, and
/// registers one only when none does: no registration per run, none after an agent restart.
///
/// Parallel first launches of one config share a single lookup (one in flight per content hash),
/// and registrations of one family go one at a time: ECS refuses parallel new revisions of a family
/// with `ClientException: Too many concurrent attempts to create a new revision of the specified
/// family`, which is retried here with backoff.
actor TaskDefinitionRegistry {
    private var known: [String: String] = [:]
    private var inFlight: [String: Task<(arn: String, registered: Bool), any Error>] = [:]
    /// The tail of each family's queue of registrations.
    private var familyQueue: [String: Task<Void, Never>] = [:]
    let logger: Logger
    /// How many recent revisions of a family are searched for a matching tag.
    let searchDepth = 20
    /// Tries of a registration that ECS refused as concurrent.
    let conflictAttempts: Int
    let conflictDelay: Duration

    init(logger: Logger, conflictAttempts: Int = 6, conflictDelay: Duration = .milliseconds(500)) {
        self.logger = logger
        self.conflictAttempts = conflictAttempts
        self.conflictDelay = conflictDelay
    }

    /// The ARN for `request`, and whether this call registered it.
    func arn(for request: JSONValue, hash: String, ecs: ECSClient) async throws -> (arn: String, registered: Bool) {
        if let arn = known[hash] { return (arn, false) }
        if let running = inFlight[hash] {
            let found = try await running.value
            return (found.arn, false)
        }
        let family = request["family"].stringValue ?? ""
        let previous = familyQueue[family]
        let lookup = Task { () throws -> (arn: String, registered: Bool) in
            await previous?.value
            return try await self.findOrRegister(request, hash: hash, family: family, ecs: ecs)
        }
        inFlight[hash] = lookup
        familyQueue[family] = Task { _ = try? await lookup.value }  // ordering only: the lookup's own caller gets its error
        defer { inFlight[hash] = nil }
        let found = try await lookup.value
        known[hash] = found.arn
        return found
    }

    private func findOrRegister(_ request: JSONValue, hash: String, family: String, ecs: ECSClient) async throws -> (arn: String, registered: Bool) {
        let candidates = try await ecs.listTaskDefinitions(familyPrefix: family, status: "ACTIVE")
        for arn in candidates.prefix(searchDepth) where arn.contains(":task-definition/\(family):") {
            let described = try await ecs.describeTaskDefinition(arn)
            if described.tags?.contains(ECSTag(key: ECSRender.hashTag, value: hash)) == true { return (arn, false) }
        }
        var delay = conflictDelay
        for attempt in 1...conflictAttempts {
            do {
                let registered = try await ecs.registerTaskDefinition(request)
                guard let arn = registered.taskDefinition?.taskDefinitionArn else {
                    throw LaunchError("RegisterTaskDefinition returned no ARN for family \(family)")
                }
                logger.info("registered task definition", metadata: ["arn": "\(arn)", "hash": "\(hash.prefix(12))"])
                return (arn, true)
            } catch let error as AWSError where Self.isConcurrentRevision(error) && attempt < conflictAttempts {
                logger.info("another registration of the family is in progress; retrying", metadata: ["family": "\(family)", "in": "\(delay)"])
                try await Task.sleep(for: .seconds(saturating: Double.random(in: 0.5...1.0) * delay.inSeconds))
                delay = min(delay * 2, .seconds(8))
            }
        }
        throw LaunchError("RegisterTaskDefinition of family \(family) kept failing")
    }

    /// ECS's answer to parallel new revisions of one family (another agent, another process).
    static func isConcurrentRevision(_ error: AWSError) -> Bool {
        guard let service = error.serviceError else { return false }
        return service.code == "ClientException" && service.message.lowercased().contains("too many concurrent attempts")
    }
}
