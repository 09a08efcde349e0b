import AWS
import FathomCore
import FathomECS
import Foundation

/// Checks an ECS run config against the account before any run: the things that otherwise
/// surface as a task that never starts.
public struct ECSPreflight: Sendable {
    /// One check's result.
    public struct Check: Sendable, CustomStringConvertible {
        public var ok: Bool
        public var what: String
        /// How to fix it, when it failed.
        public var fix: String?

        public var description: String {
            ok ? "ok    \(what)" : "FAIL  \(what)\(fix.map { "\n      fix: \($0)" } ?? "")"
        }
    }

    let client: AWSClient

    public init(client: AWSClient) {
        self.client = client
    }

    public func run(_ config: ECSRunConfig) async -> [Check] {
        var checks: [Check] = []
        checks.append(await cluster(config))
        let subnets = await self.subnets(config, into: &checks)
        for volume in config.efs {
            checks += await fileSystem(volume, config: config, subnets: subnets)
        }
        if let logs = config.logs { checks.append(await logGroup(logs)) }
        return checks
    }

    func cluster(_ config: ECSRunConfig) async -> Check {
        do {
            let described = try await ECSClient(client: client).describeClusters([config.cluster])
            if let cluster = described.clusters?.first, cluster.status == "ACTIVE" {
                return Check(ok: true, what: "cluster \(config.cluster) is ACTIVE")
            }
            let status = described.clusters?.first?.status ?? described.failures?.first?.reason ?? "MISSING"
            return Check(ok: false, what: "cluster \(config.cluster) is \(status)", fix: "Create it ('aws ecs create-cluster --cluster-name \(config.cluster)') or fix ecs.cluster.")
        } catch {
            return Check(ok: false, what: "cluster \(config.cluster): \(error)", fix: "Check the region and the credentials ('fathom aws whoami').")
        }
    }

    func subnets(_ config: ECSRunConfig, into checks: inout [Check]) async -> [EC2Subnet] {
        guard let ids = config.network?.subnets, !ids.isEmpty else { return [] }
        do {
            let subnets = try await EC2Client(client: client).describeSubnets(ids)
            for subnet in subnets {
                checks.append(Check(ok: true, what: "subnet \(subnet.subnetID) is in \(subnet.availabilityZone) (\(subnet.vpcID))"))
            }
            return subnets
        } catch {
            checks.append(Check(ok: false, what: "subnets \(ids.joined(separator: ", ")): \(error)", fix: "Use subnet ids of this region ('aws ec2 describe-subnets')."))
            return []
        }
    }

    func fileSystem(_ volume: EFSVolume, config: ECSRunConfig, subnets: [EC2Subnet]) async -> [Check] {
        let efs = EFSClient(client: client)
        var checks: [Check] = []
        do {
            guard let system = try await efs.describeFileSystems(fileSystemID: volume.fileSystemID).first, system.LifeCycleState == "available" else {
                return [Check(ok: false, what: "file system \(volume.fileSystemID) is not available", fix: "Wait for it, or fix ecs.efs fileSystemId.")]
            }
            checks.append(Check(ok: true, what: "file system \(volume.fileSystemID) is available"))
        } catch {
            return [Check(ok: false, what: "file system \(volume.fileSystemID): \(error)", fix: "Check the id and the region ('aws efs describe-file-systems').")]
        }
        if let accessPoint = volume.accessPointID {
            let points = (try? await efs.describeAccessPoints(accessPointID: accessPoint)) ?? []
            if let point = points.first, point.FileSystemId == volume.fileSystemID {
                checks.append(Check(ok: true, what: "access point \(accessPoint) belongs to \(volume.fileSystemID) (root \(point.RootDirectory?.Path ?? "/"))"))
            } else {
                checks.append(Check(
                    ok: false, what: "access point \(accessPoint) \(points.isEmpty ? "does not exist" : "belongs to \(points[0].FileSystemId ?? "?"), not \(volume.fileSystemID)")",
                    fix: "Use an access point of \(volume.fileSystemID) ('aws efs describe-access-points --file-system-id \(volume.fileSystemID)')."))
            }
        }
        let targets = ((try? await efs.describeMountTargets(fileSystemID: volume.fileSystemID)) ?? []).filter { $0.LifeCycleState == "available" }
        let taskGroups = Set(config.network?.securityGroups ?? [])
        for subnet in subnets {
            guard let target = targets.first(where: { $0.AvailabilityZoneName == subnet.availabilityZone }) else {
                checks.append(Check(
                    ok: false, what: "no mount target of \(volume.fileSystemID) in \(subnet.availabilityZone), where subnet \(subnet.subnetID) is",
                    fix: "Create one: aws efs create-mount-target --file-system-id \(volume.fileSystemID) --subnet-id \(subnet.subnetID) --security-groups <sg allowing TCP 2049>"))
                continue
            }
            checks.append(Check(ok: true, what: "mount target \(target.MountTargetId ?? "?") serves \(subnet.availabilityZone)"))
            checks.append(await nfsRule(target: target, taskGroups: taskGroups))
        }
        return checks
    }

    func nfsRule(target: EFSMountTarget, taskGroups: Set<String>) async -> Check {
        let id = target.MountTargetId ?? "?"
        do {
            let groupIDs = try await EFSClient(client: client).describeMountTargetSecurityGroups(mountTargetID: id)
            let groups = try await EC2Client(client: client).describeSecurityGroups(groupIDs)
            for group in groups {
                for rule in group.ingress where rule.allowsTCP(port: 2049) {
                    if !taskGroups.isDisjoint(with: rule.sourceGroupIDs) {
                        return Check(ok: true, what: "\(group.groupID) on mount target \(id) allows TCP 2049 from the task's security groups")
                    }
                    if !rule.cidrRanges.isEmpty {
                        return Check(ok: true, what: "\(group.groupID) on mount target \(id) allows TCP 2049 from \(rule.cidrRanges.joined(separator: ", "))")
                    }
                }
            }
            return Check(
                ok: false, what: "the security groups of mount target \(id) (\(groupIDs.joined(separator: ", "))) do not allow TCP 2049 from the task",
                fix: "aws ec2 authorize-security-group-ingress --group-id \(groupIDs.first ?? "<sg>") --protocol tcp --port 2049 --source-group \(taskGroups.sorted().first ?? "<task sg>")")
        } catch {
            return Check(ok: false, what: "security groups of mount target \(id): \(error)", fix: "Check ec2:DescribeSecurityGroups and elasticfilesystem:DescribeMountTargetSecurityGroups permissions.")
        }
    }

    func logGroup(_ logs: ECSLogs) async -> Check {
        let cloudWatch = CloudWatchLogsClient(client: client)
        let answer = try? await cloudWatch.call("DescribeLogGroups", ["logGroupNamePrefix": .string(logs.group)])
        let exists = (answer?["logGroups"].arrayValue ?? []).contains { $0["logGroupName"].stringValue == logs.group }
        if exists { return Check(ok: true, what: "log group \(logs.group) exists") }
        if logs.createGroup {
            return Check(ok: true, what: "log group \(logs.group) will be created by awslogs (the execution role needs logs:CreateLogGroup)")
        }
        return Check(ok: false, what: "log group \(logs.group) does not exist", fix: "Create it ('aws logs create-log-group --log-group-name \(logs.group)') or set logs.createGroup: true.")
    }
}
