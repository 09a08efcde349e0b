import AWS
import FathomCore
import FathomECS
import Foundation

extension ECSPreflight {
    func fileSystem(_ volume: EFSVolume, config: ECSRunConfig, network: NetworkFacts?, into checks: inout [Check]) async {
        let efs = EFSClient(client: client)
        let id = volume.fileSystemID
        guard let systems = await lookup(
            "file system \(id)", fix: "Check the id and the region ('aws efs describe-file-systems').", into: &checks,
            { try await efs.describeFileSystems(fileSystemID: id) })
        else { return }
        guard let system = systems.first, system.LifeCycleState == "available" else {
            checks.append(Check(.fail, "file system \(id) is \(systems.first?.LifeCycleState ?? "missing")", fix: "Wait for it, or fix ecs.efs fileSystemId."))
            return
        }
        checks.append(Check(.ok, "file system \(id) is available"))
        if let accessPoint = volume.accessPointID {
            if let points = await lookup(
                "access point \(accessPoint)", fix: "Check the id ('aws efs describe-access-points --file-system-id \(id)').", into: &checks,
                { try await efs.describeAccessPoints(accessPointID: accessPoint) })
            {
                if let point = points.first, point.FileSystemId == id {
                    checks.append(Check(.ok, "access point \(accessPoint) belongs to \(id) (root \(point.RootDirectory?.Path ?? "/"))"))
                } else {
                    checks.append(Check(
                        .fail, "access point \(accessPoint) \(points.isEmpty ? "does not exist" : "belongs to \(points[0].FileSystemId ?? "?"), not \(id)")",
                        fix: "Use an access point of \(id) ('aws efs describe-access-points --file-system-id \(id)')."))
                }
            }
        }
        await fileSystemPolicy(volume, config: config, into: &checks)
        guard let network else { return }
        guard let all = await lookup(
            "mount targets of \(id)", fix: "Check elasticfilesystem:DescribeMountTargets.", into: &checks,
            { try await efs.describeMountTargets(fileSystemID: id) })
        else { return }
        let targets = all.filter { $0.LifeCycleState == "available" }
        if !targets.isEmpty, !targets.contains(where: { $0.VpcId == nil || $0.VpcId == network.vpcID }) {
            checks.append(Check(
                .fail, "the mount targets of \(id) are in \(Set(targets.compactMap(\.VpcId)).sorted().joined(separator: ", ")), the task in \(network.vpcID): a file system has mount targets in one VPC only",
                fix: "Run the task in that VPC, or move the mount targets to \(network.vpcID) (delete and create them there)."))
            return
        }
        for subnet in network.subnets {
            guard let target = targets.first(where: { Self.serves($0, subnet) }) else {
                checks.append(Check(
                    .fail, "no mount target of \(id) in \(subnet.availabilityZone) (\(subnet.availabilityZoneID ?? "?")), where subnet \(subnet.subnetID) is; the mount would fail with 'Failed to resolve'",
                    fix: "Create one: aws efs create-mount-target --file-system-id \(id) --subnet-id \(subnet.subnetID) --security-groups <sg allowing TCP 2049 from the task>"))
                continue
            }
            checks.append(Check(.ok, "mount target \(target.MountTargetId ?? "?") serves \(subnet.availabilityZone) (\(target.AvailabilityZoneId ?? subnet.availabilityZoneID ?? "?"))"))
            await nfsPath(target: target, subnet: subnet, network: network, into: &checks)
        }
    }

    /// A mount target serves a subnet in the same VPC and physical zone: zone ids, as zone names differ by account.
    static func serves(_ target: EFSMountTarget, _ subnet: EC2Subnet) -> Bool {
        if let vpc = target.VpcId, vpc != subnet.vpcID { return false }
        if let targetZone = target.AvailabilityZoneId, let subnetZone = subnet.availabilityZoneID { return targetZone == subnetZone }
        return target.AvailabilityZoneName == subnet.availabilityZone
    }

    /// TCP 2049 from the task to the mount target: the target's ingress must name the task's security group
    /// or a range holding the subnet, and the task's egress must allow it out.
    func nfsPath(target: EFSMountTarget, subnet: EC2Subnet, network: NetworkFacts, into checks: inout [Check]) async {
        let id = target.MountTargetId ?? "?"
        guard let groupIDs = await lookup(
            "security groups of mount target \(id)", fix: "Check elasticfilesystem:DescribeMountTargetSecurityGroups.", into: &checks,
            { try await EFSClient(client: client).describeMountTargetSecurityGroups(mountTargetID: id) }),
            let groups = await lookup(
                "security groups \(groupIDs.joined(separator: ", "))", fix: "Check ec2:DescribeSecurityGroups.", into: &checks,
                { try await EC2Client(client: client).describeSecurityGroups(groupIDs) })
        else { return }
        let taskGroups = Set(network.taskGroups.map(\.groupID))
        let subnetRange = subnet.cidrBlock.flatMap(IPv4CIDR.init)
        let covering = groups.lazy.flatMap { group in group.ingress.lazy.map { (group, $0) } }.first { _, rule in
            rule.allowsTCP(port: 2049)
                && (!taskGroups.isDisjoint(with: rule.sourceGroupIDs)
                    || rule.cidrRanges.contains { range in subnetRange.map { IPv4CIDR(range)?.contains($0) == true } ?? false })
        }
        if let (group, rule) = covering {
            let ranges = rule.cidrRanges.filter { range in subnetRange.map { IPv4CIDR(range)?.contains($0) == true } ?? false }
            let from = taskGroups.isDisjoint(with: rule.sourceGroupIDs) ? ranges.joined(separator: ", ") : "the task's security groups"
            checks.append(Check(.ok, "\(group.groupID) on mount target \(id) allows TCP 2049 from \(from) (covers \(subnet.subnetID))"))
        } else {
            checks.append(Check(
                .fail, "the security groups of mount target \(id) (\(groupIDs.joined(separator: ", "))) allow no TCP 2049 from the task's security groups or from \(subnet.subnetID) (\(subnet.cidrBlock ?? "?")); the mount would time out",
                fix: "aws ec2 authorize-security-group-ingress --group-id \(groupIDs.first ?? "<sg>") --protocol tcp --port 2049 --source-group \(taskGroups.sorted().first ?? "<task sg>")"))
        }
        guard !network.taskGroups.isEmpty else { return }
        let targetAddress = target.IpAddress.flatMap(IPv4CIDR.init) ?? subnetRange ?? IPv4CIDR("0.0.0.0/0")!
        if network.egressAllows(port: 2049, to: targetAddress, orGroups: Set(groupIDs)) {
            checks.append(Check(.ok, "the task's security groups allow TCP 2049 out to mount target \(id)"))
        } else {
            checks.append(Check(
                .fail, "the task's security groups allow no TCP 2049 out to mount target \(id) (\(target.IpAddress ?? "?")); the mount would time out",
                fix: "aws ec2 authorize-security-group-egress --group-id \(network.taskGroups[0].groupID) --ip-permissions IpProtocol=tcp,FromPort=2049,ToPort=2049,UserIdGroupPairs=[{GroupId=\(groupIDs.first ?? "<mount target sg>")}]"))
        }
    }

    /// The file system's resource policy against the volume's settings: a `aws:SecureTransport` deny needs
    /// transit encryption, a policy that grants only to principals needs IAM authorization, a read-only grant
    /// cannot serve a writable volume.
    func fileSystemPolicy(_ volume: EFSVolume, config: ECSRunConfig, into checks: inout [Check]) async {
        let id = volume.fileSystemID
        guard let text = await lookup(
            "the file system policy of \(id)", fix: "Check elasticfilesystem:DescribeFileSystemPolicy.", into: &checks,
            { try await EFSClient(client: client).describeFileSystemPolicy(fileSystemID: id) })
        else { return }
        guard let text else {
            checks.append(Check(.ok, "\(id) has no file system policy (any client that reaches a mount target may mount it)"))
            return
        }
        guard let policy = EFSPolicy(text) else {
            checks.append(Check(.skipped, "the file system policy of \(id) is not JSON Fathom can read", fix: "Read it: aws efs describe-file-system-policy --file-system-id \(id)"))
            return
        }
        if policy.requiresSecureTransport && !volume.encryptsInTransit {
            checks.append(Check(
                .fail, "the policy of \(id) denies requests without aws:SecureTransport, and volume \(volume.name) mounts without TLS; the mount would be refused",
                fix: "Set transitEncryption: true on volume \(volume.name)."))
        }
        if !policy.grantsAnonymous("elasticfilesystem:ClientMount") && !volume.iam {
            checks.append(Check(
                .fail, "the policy of \(id) grants ClientMount only to IAM principals, and volume \(volume.name) mounts anonymously (iam off); the mount would be refused with 'access denied by server'",
                fix: "Set iam: true on volume \(volume.name), and allow the task role elasticfilesystem:ClientMount\(volume.readOnly ? "" : " and ClientWrite")."))
        } else if !volume.readOnly && !volume.iam && !policy.grantsAnonymous("elasticfilesystem:ClientWrite") {
            checks.append(Check(
                .fail, "the policy of \(id) grants anonymous clients no ClientWrite, and volume \(volume.name) is writable; writes would fail with 'Read-only file system'",
                fix: "Set iam: true on volume \(volume.name) with a task role allowed elasticfilesystem:ClientWrite, or readOnly: true."))
        } else {
            checks.append(Check(.ok, "the policy of \(id) lets volume \(volume.name) mount\(volume.readOnly ? "" : " and write")\(volume.iam ? " (with the task role's permissions)" : "")"))
        }
    }
}

/// The parts of an EFS file system policy the checks read.
struct EFSPolicy {
    struct Statement {
        var allows: Bool
        var anyPrincipal: Bool
        var actions: [String]
        var deniesInsecureTransport: Bool
    }

    var statements: [Statement]

    init?(_ text: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }  // not JSON: reported by the caller as a policy it cannot read
        let raw = (object["Statement"] as? [[String: Any]]) ?? (object["Statement"] as? [String: Any]).map { [$0] } ?? []
        statements = raw.map { statement in
            let principal = statement["Principal"]
            let aws = (principal as? [String: Any])?["AWS"]
            let anyPrincipal = (principal as? String) == "*" || (aws as? String) == "*" || ((aws as? [String])?.contains("*") ?? false)
            let actions = (statement["Action"] as? String).map { [$0] } ?? (statement["Action"] as? [String]) ?? []
            let condition = (statement["Condition"] as? [String: Any])?["Bool"] as? [String: Any]
            let secure = condition?["aws:SecureTransport"].map { "\($0)".lowercased() } == "false"
            return Statement(
                allows: (statement["Effect"] as? String) == "Allow", anyPrincipal: anyPrincipal, actions: actions,
                deniesInsecureTransport: (statement["Effect"] as? String) == "Deny" && secure)
        }
    }

    var requiresSecureTransport: Bool { statements.contains(where: \.deniesInsecureTransport) }

    /// Whether an anonymous client (no IAM authorization) gets `action`.
    func grantsAnonymous(_ action: String) -> Bool {
        statements.contains { statement in
            statement.allows && statement.anyPrincipal
                && statement.actions.contains { $0 == action || $0 == "elasticfilesystem:*" || $0 == "*" }
        }
    }
}
