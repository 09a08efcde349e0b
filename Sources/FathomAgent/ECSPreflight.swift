import AWS
import FathomCore
import FathomECS
import Foundation

/// Checks an ECS run config against the account before any run: the things that otherwise
/// surface as a task that never starts, never mounts, or never reports.
///
/// Each check is `ok`, `FAIL` (with the fix), or `SKIP` (it could not be checked from here, and why:
/// a permission the checking identity lacks is reported as that, never as "does not exist").
public struct ECSPreflight: Sendable {
    /// One check's result.
    public struct Check: Sendable, CustomStringConvertible {
        /// Passed, failed (with a fix), or could not be checked from here.
        public enum Status: String, Sendable {
            case ok, fail = "FAIL", skipped = "SKIP"
        }

        /// How it came out.
        public var status: Status
        /// What was checked, in a line.
        public var what: String
        /// How to fix it (a failure), or how to check it by hand (a skip).
        public var fix: String?

        /// True unless it failed: a skip does not stop a launch.
        public var ok: Bool { status != .fail }

        /// A result; `fix` is the remedy for a failure or the manual check for a skip.
        public init(_ status: Status, _ what: String, fix: String? = nil) {
            self.status = status
            self.what = what
            self.fix = fix
        }

        /// The line `fathom ecs check` prints, with the fix under it.
        public var description: String {
            let label = status.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
            return "\(label)\(what)\(fix.map { "\n      \(status == .skipped ? "check" : "fix"): \($0)" } ?? "")"
        }
    }

    let client: AWSClient
    /// The coordinator URL tasks are given (`--runner-api-url`), whose route from the task's subnets is checked.
    public var runnerAPIURL: String?

    /// Checks through `client`; with `runnerAPIURL`, also the route from the task's subnets to the coordinator.
    public init(client: AWSClient, runnerAPIURL: String? = nil) {
        self.client = client
        self.runnerAPIURL = runnerAPIURL
    }

    /// Every check for `config`, in the order they depend on each other (cluster, network, EFS, roles, image).
    public func run(_ config: ECSRunConfig) async -> [Check] {
        var checks: [Check] = []
        await cluster(config, into: &checks)
        let network = await NetworkFacts.load(config, client: client, into: &checks)
        if let network {
            await dnsAttributes(config, network, into: &checks)
            await outboundRoutes(config, network, into: &checks)
        }
        for volume in config.efs {
            await fileSystem(volume, config: config, network: network, into: &checks)
        }
        if let logs = config.logs { await logGroup(logs, into: &checks) }
        if let runnerAPIURL { await runnerURL(runnerAPIURL, config: config, network: network, into: &checks) }
        return checks
    }

    /// Runs one AWS lookup for a check: nil when it failed, with the failure recorded. A denied call is
    /// a permission the checking identity lacks (`SKIP`); anything else is a `FAIL` with `fix`.
    func lookup<T: Sendable>(_ what: String, fix: String, into checks: inout [Check], _ body: () async throws -> T) async -> T? {
        do {
            return try await body()
        } catch let error as AWSError {
            if let service = error.serviceError, service.isAccessDenied {
                checks.append(Check(
                    .skipped, "cannot check \(what): this identity is not allowed \(service.iamAction)",
                    fix: "Allow \(service.iamAction) to whoever runs 'fathom ecs check' (docs/ecs-efs.md lists the read-only policy), or check by hand."))
            } else {
                checks.append(Check(.fail, "\(what): \(error.explained)", fix: fix))
            }
        } catch {
            checks.append(Check(.fail, "\(what): \(error)", fix: fix))
        }
        return nil
    }

    func cluster(_ config: ECSRunConfig, into checks: inout [Check]) async {
        guard let described = await lookup(
            "cluster \(config.cluster)", fix: "Check the region and the credentials ('fathom aws whoami').", into: &checks,
            { try await ECSClient(client: client).describeClusters([config.cluster]) })
        else { return }
        guard let cluster = described.clusters?.first, cluster.status == "ACTIVE" else {
            let status = described.clusters?.first?.status ?? described.failures?.first?.reason ?? "MISSING"
            checks.append(Check(
                .fail, "cluster \(config.cluster) is \(status)",
                fix: "Create it ('aws ecs create-cluster --cluster-name \(config.cluster)') or fix ecs.cluster."))
            return
        }
        checks.append(Check(.ok, "cluster \(config.cluster) is ACTIVE"))
        let associated = Set(cluster.capacityProviders ?? [])
        for provider in (config.capacityProviderStrategy ?? []).compactMap({ $0["capacityProvider"].stringValue }) {
            if associated.contains(provider) {
                checks.append(Check(.ok, "capacity provider \(provider) is associated with cluster \(config.cluster)"))
            } else {
                let all = (associated.sorted() + [provider]).joined(separator: " ")
                checks.append(Check(
                    .fail, "capacity provider \(provider) is not associated with cluster \(config.cluster) (it has: \(associated.isEmpty ? "none" : associated.sorted().joined(separator: ", "))); RunTask would fail",
                    fix: "aws ecs put-cluster-capacity-providers --cluster \(config.cluster) --capacity-providers \(all) --default-capacity-provider-strategy capacityProvider=\(associated.sorted().first ?? provider),weight=1"))
            }
        }
    }

    func logGroup(_ logs: ECSLogs, into checks: inout [Check]) async {
        let cloudWatch = CloudWatchLogsClient(client: client)
        guard let answer = await lookup(
            "log group \(logs.group)", fix: "Check logs.region and the credentials.", into: &checks,
            { try await cloudWatch.describeLogGroups(prefix: logs.group) })
        else { return }
        if answer.contains(logs.group) {
            checks.append(Check(.ok, "log group \(logs.group) exists"))
        } else if logs.createGroup {
            checks.append(Check(.ok, "log group \(logs.group) will be created by awslogs (the execution role needs logs:CreateLogGroup)"))
        } else {
            checks.append(Check(
                .fail, "log group \(logs.group) does not exist",
                fix: "Create it ('aws logs create-log-group --log-group-name \(logs.group)') or set logs.createGroup: true."))
        }
    }
}

extension ECSPreflight {
    /// Every AWS operation `fathom ecs check` sends (all reads). The agent's IAM policy includes them.
    public static let awsOperations: Set<AWSOperation> = [
        AWSOperation.ECS.describeClusters, AWSOperation.Logs.describeLogGroups,
        AWSOperation.EFS.describeFileSystems, AWSOperation.EFS.describeAccessPoints, AWSOperation.EFS.describeMountTargets,
        AWSOperation.EFS.describeMountTargetSecurityGroups, AWSOperation.EFS.describeFileSystemPolicy,
        AWSOperation.EC2.describeSubnets, AWSOperation.EC2.describeSecurityGroups, AWSOperation.EC2.describeRouteTables,
        AWSOperation.EC2.describeVpcEndpoints, AWSOperation.EC2.describeVpcAttribute, AWSOperation.EC2.describeVpcs,
    ]
}
