import FathomCore
import Foundation

/// What `fathom infra template` builds. Every value is checked before a template is made; a refusal names the
/// option, what is wrong, and how to write it.
public struct InfraOptions: Sendable, Equatable {
    /// Names start with it: the cluster, the log group `/fathom/<prefix>`, the token secret, the roles' policies.
    public var prefix = "fathom"
    /// An existing VPC and its subnets (one EFS mount target each, so at most one per Availability Zone); nil makes
    /// a new VPC with two public subnets in two zones.
    public var existingNetwork: ExistingNetwork?
    /// Whether flow and agent tasks get a public IP (needed to reach ECR and CloudWatch without NAT or endpoints);
    /// always on in a new VPC.
    public var assignPublicIP = false
    /// Whether the stack runs the coordinator too (ECS service, internal load balancer, RDS PostgreSQL,
    /// Cloud Map name for the runner URL). Without it, the `CoordinatorURL` parameter says where it is.
    public var coordinator = false
    /// With the coordinator: whether its load balancer faces the internet (else it is internal to the VPC).
    public var internetFacing = false
    /// With the coordinator: who may reach its load balancer; default, in a new VPC, the VPC's own range.
    public var loadBalancerCIDRs: [String] = []
    /// With the coordinator: an ACM certificate for an HTTPS listener (443) instead of HTTP (80).
    public var certificateARN: String?
    /// An existing Secrets Manager secret holding the API token (its full ARN); nil generates one in the stack.
    public var tokenSecretARN: String?
    /// EFS files not read for this many days move to Infrequent Access.
    public var infrequentAccessDays = 30
    /// Old S3 versions of bundles are deleted this many days after they were replaced.
    public var oldVersionDays = 30
    /// CloudWatch Logs retention of the log group.
    public var logRetentionDays = 30
    /// The runner image's user (the Dockerfile's `fathom`, uid 1000): the access point's POSIX user and owner.
    public var posixUID = 1000
    public var posixGID = 1000
    /// Resource types to leave out (only for deploying into emulators that lack them; never for AWS).
    public var leaveOut: Set<String> = []

    public struct ExistingNetwork: Sendable, Equatable {
        public var vpcID: String
        public var subnetIDs: [String]
        public init(vpcID: String, subnetIDs: [String]) {
            self.vpcID = vpcID
            self.subnetIDs = subnetIDs
        }
    }

    public init() {}

    /// EFS's lifecycle steps (`TransitionToIA`, EFS API reference).
    public static let infrequentAccessSteps = [1, 7, 14, 30, 60, 90, 180, 270, 365]
    /// CloudWatch Logs' retention values (`PutRetentionPolicy`, botocore model).
    public static let retentionSteps = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]

    /// Every problem, each naming its option; empty when the options make a template.
    public func problems() -> [ValidationError] {
        var problems: [ValidationError] = []
        func problem(_ field: String, _ text: String, _ fix: String) {
            problems.append(ValidationError(code: "invalid_option", field: field, problem: text, fix: fix))
        }
        if prefix.range(of: #"^[a-z][a-z0-9-]{0,19}$"#, options: .regularExpression) == nil || prefix.hasSuffix("-") {
            problem("--prefix", "'\(prefix.prefix(60))' is not 1–20 lowercase letters, digits and dashes starting with a letter",
                    "Write e.g. --prefix fathom or --prefix data-prod (bucket, cluster and role names are made from it).")
        }
        if let network = existingNetwork {
            if network.vpcID.range(of: #"^vpc-[0-9a-f]{8,17}$"#, options: .regularExpression) == nil {
                problem("--vpc", "'\(network.vpcID.prefix(60))' is not a VPC id", "Write e.g. --vpc vpc-0123456789abcdef0.")
            }
            if network.subnetIDs.isEmpty || network.subnetIDs.count > 16 {
                problem("--subnets", "\(network.subnetIDs.count) subnets given; 1 to 16 are needed", "Write e.g. --subnets subnet-0a1b2c3d,subnet-4e5f6a7b.")
            }
            for subnet in network.subnetIDs where subnet.range(of: #"^subnet-[0-9a-f]{8,17}$"#, options: .regularExpression) == nil {
                problem("--subnets", "'\(subnet.prefix(60))' is not a subnet id", "Write e.g. --subnets subnet-0a1b2c3d,subnet-4e5f6a7b.")
            }
            if Set(network.subnetIDs).count != network.subnetIDs.count {
                problem("--subnets", "a subnet is named twice", "Name each subnet once.")
            }
        }
        if !coordinator && (internetFacing || !loadBalancerCIDRs.isEmpty || certificateARN != nil) {
            problem("--allow-from", "a load balancer option (--internet-facing, --allow-from, --certificate-arn) was given without --coordinator",
                    "Add --coordinator, or leave the load balancer options out.")
        }
        for cidr in loadBalancerCIDRs where !Self.isIPv4CIDR(cidr) {
            problem("--allow-from", "'\(cidr.prefix(60))' is not an IPv4 CIDR range", "Write e.g. --allow-from 203.0.113.7/32.")
        }
        if coordinator && loadBalancerCIDRs.isEmpty && (internetFacing || existingNetwork != nil) {
            problem("--allow-from", "nobody may reach the coordinator's load balancer",
                    "Give the ranges your users and CI connect from, e.g. --allow-from 203.0.113.7/32 (or your VPC's or VPN's range).")
        }
        if internetFacing && certificateARN == nil && loadBalancerCIDRs.contains(where: { $0.hasSuffix("/0") }) {
            problem("--allow-from", "a /0 range opens the coordinator to the whole internet over plain HTTP: the token would travel in clear",
                    "Give --certificate-arn for HTTPS, or narrow --allow-from to your own addresses.")
        }
        if coordinator && subnetCount < 2 {
            problem("--subnets", "the coordinator's database and load balancer need subnets in two Availability Zones; one was given",
                    "Give two or more subnets in different zones.")
        }
        if let certificate = certificateARN, certificate.range(of: #"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$"#, options: .regularExpression) == nil {
            problem("--certificate-arn", "'\(certificate.prefix(120))' is not an ACM certificate ARN", "Write e.g. arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-….")
        }
        if let secret = tokenSecretARN,
            secret.range(of: #"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@!-]+-[A-Za-z0-9]{6}$"#, options: .regularExpression) == nil
        {
            problem("--token-secret", "'\(secret.prefix(200))' is not the full ARN of a Secrets Manager secret (it ends in the 6 characters AWS adds)",
                    "Give e.g. arn:aws:secretsmanager:eu-west-1:123456789012:secret:fathom-token-AbCdEf ('aws secretsmanager describe-secret --secret-id NAME --query ARN').")
        }
        if !Self.infrequentAccessSteps.contains(infrequentAccessDays) {
            problem("--ia-after-days", "\(infrequentAccessDays) is not a step EFS offers",
                    "Use one of \(Self.infrequentAccessSteps.map(String.init).joined(separator: ", ")).")
        }
        if !(1...3650).contains(oldVersionDays) {
            problem("--old-versions-days", "\(oldVersionDays) is outside 1–3650", "Give the days an old bundle version is kept, e.g. 30.")
        }
        if !Self.retentionSteps.contains(logRetentionDays) {
            problem("--log-retention-days", "\(logRetentionDays) is not a retention CloudWatch Logs offers",
                    "Use one of \(Self.retentionSteps.map(String.init).joined(separator: ", ")).")
        }
        for (field, id) in [("--uid", posixUID), ("--gid", posixGID)] where !(0...4_294_967_295).contains(id) {
            problem(field, "\(id) is outside 0–4294967295", "Give the runner image's numeric user or group id (the Dockerfile's is 1000).")
        }
        return problems
    }

    static func isIPv4CIDR(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let length = Int(parts[1]), (0...32).contains(length) else { return false }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { $0.count <= 3 && Int($0).map { (0...255).contains($0) } == true }
    }

    /// The subnets' count: given ones, or two in a new VPC.
    var subnetCount: Int { existingNetwork?.subnetIDs.count ?? 2 }
    /// Who may reach the load balancer: the given ranges, else the new VPC's.
    var allowedCIDRs: [String] { loadBalancerCIDRs.isEmpty ? [InfraTemplate.newVPCRange] : loadBalancerCIDRs }
    var publicIP: Bool { existingNetwork == nil || assignPublicIP }
}
