import AWS
import FathomCore
import FathomECS
import Foundation

/// What the checks need to know about the task's network, read once.
struct NetworkFacts: Sendable {
    var vpcID: String
    var vpcCIDR: IPv4CIDR?
    var subnets: [EC2Subnet]
    var taskGroups: [EC2SecurityGroup]
    var routeTables: [EC2RouteTable]?
    var endpoints: [EC2VPCEndpoint]?
    /// Whether tasks get a public address (Fargate with `assignPublicIp: ENABLED`; never on EC2).
    var publicIP: Bool

    /// The route table of a subnet: its explicit association, else the VPC's main table.
    func routeTable(of subnet: EC2Subnet) -> EC2RouteTable? {
        routeTables?.first { $0.subnetIDs.contains(subnet.subnetID) } ?? routeTables?.first(where: \.isMain)
    }

    /// Whether the task's security groups let TCP `port` out to `destination` (a CIDR), or to one of `groups`.
    func egressAllows(port: Int, to destination: IPv4CIDR, orGroups groups: Set<String> = []) -> Bool {
        taskGroups.contains { group in
            group.egress.contains { rule in
                rule.allowsTCP(port: port)
                    && (rule.cidrRanges.contains { IPv4CIDR($0)?.contains(destination) == true } || !groups.isDisjoint(with: rule.sourceGroupIDs))
            }
        }
    }

    static func load(_ config: ECSRunConfig, client: AWSClient, into checks: inout [ECSPreflight.Check]) async -> NetworkFacts? {
        guard let network = config.network, !network.subnets.isEmpty else { return nil }
        let preflight = ECSPreflight(client: client)
        let ec2 = EC2Client(client: client)
        guard let subnets = await preflight.lookup(
            "subnets \(network.subnets.joined(separator: ", "))", fix: "Use subnet ids of this region ('aws ec2 describe-subnets').", into: &checks,
            { try await ec2.describeSubnets(network.subnets) })
        else { return nil }
        for subnet in subnets {
            checks.append(.init(.ok, "subnet \(subnet.subnetID) is in \(subnet.availabilityZone) (\(subnet.availabilityZoneID ?? "?"), \(subnet.vpcID))"))
        }
        let vpcs = Set(subnets.map(\.vpcID))
        guard let vpcID = subnets.first?.vpcID else { return nil }
        if vpcs.count > 1 {
            checks.append(.init(
                .fail, "the subnets are in \(vpcs.count) VPCs (\(vpcs.sorted().joined(separator: ", "))); a task's subnets must share one VPC",
                fix: "List subnets of one VPC in network.subnets."))
        }
        var facts = NetworkFacts(
            vpcID: vpcID, vpcCIDR: nil, subnets: subnets, taskGroups: [], routeTables: nil, endpoints: nil,
            publicIP: config.isFargate && network.assignPublicIp == "ENABLED")
        if !network.securityGroups.isEmpty {
            facts.taskGroups = await preflight.lookup(
                "security groups \(network.securityGroups.joined(separator: ", "))", fix: "Use security group ids of the subnets' VPC.", into: &checks,
                { try await ec2.describeSecurityGroups(network.securityGroups) }) ?? []
            for group in facts.taskGroups where group.vpcID != nil && group.vpcID != vpcID {
                checks.append(.init(
                    .fail, "security group \(group.groupID) is in \(group.vpcID ?? "?"), the subnets in \(vpcID); RunTask would fail",
                    fix: "Use a security group of \(vpcID)."))
            }
        }
        facts.vpcCIDR = await preflight.lookup("VPC \(vpcID)", fix: "Check the subnets' VPC.", into: &checks, { try await ec2.vpcCIDR(vpcID) })
            .flatMap { $0.flatMap(IPv4CIDR.init) }
        facts.routeTables = await preflight.lookup(
            "the route tables of \(vpcID)", fix: "Check ec2:DescribeRouteTables.", into: &checks, { try await ec2.describeRouteTables(vpcID: vpcID) })
        facts.endpoints = await preflight.lookup(
            "the VPC endpoints of \(vpcID)", fix: "Check ec2:DescribeVpcEndpoints.", into: &checks, { try await ec2.describeVpcEndpoints(vpcID: vpcID) })
        return facts
    }
}

extension ECSPreflight {
    /// EFS DNS names and private endpoint names resolve only with both VPC DNS attributes on.
    func dnsAttributes(_ config: ECSRunConfig, _ network: NetworkFacts, into checks: inout [Check]) async {
        let ec2 = EC2Client(client: client)
        for attribute in ["enableDnsSupport", "enableDnsHostnames"] {
            guard let on = await lookup(
                "\(attribute) of \(network.vpcID)", fix: "Check ec2:DescribeVpcAttribute.", into: &checks,
                { try await ec2.vpcAttribute(network.vpcID, attribute) })
            else { continue }
            if on {
                checks.append(Check(.ok, "\(network.vpcID) has \(attribute) on"))
            } else {
                checks.append(Check(
                    .fail, "\(network.vpcID) has \(attribute) off: tasks cannot resolve fs-….efs.REGION.amazonaws.com (mount: 'Failed to resolve') nor private endpoint names",
                    fix: "aws ec2 modify-vpc-attribute --vpc-id \(network.vpcID) --\(attribute == "enableDnsSupport" ? "enable-dns-support" : "enable-dns-hostnames") '{\"Value\":true}'"))
            }
        }
    }

    /// The AWS services a task reaches before the flow runs: the image registry, secrets, logs.
    func neededServices(_ config: ECSRunConfig) -> (services: [(name: String, why: String)], publicImages: [String]) {
        let (definition, _) = ECSRender.registerTaskDefinition(config, region: config.region ?? client.configuration.region)
        var services: [(String, String)] = []
        var publicImages: [String] = []
        for container in definition["containerDefinitions"].arrayValue ?? [] {
            let image = container["image"].stringValue ?? ""
            if image.contains(".dkr.ecr.") {
                if !services.contains(where: { $0.0 == "ecr.dkr" }) {
                    services += [("ecr.api", "pulling \(image)"), ("ecr.dkr", "pulling \(image)"), ("s3", "ECR's image layers")]
                }
            } else if !image.isEmpty {
                publicImages.append(image)
            }
            for secret in container["secrets"].arrayValue ?? [] {
                let from = secret["valueFrom"].stringValue ?? ""
                let service = from.contains(":ssm:") ? "ssm" : "secretsmanager"
                if !services.contains(where: { $0.0 == service }) { services.append((service, "the secret \(secret["name"].stringValue ?? "")")) }
            }
            if container["logConfiguration"]["logDriver"].stringValue == "awslogs", !services.contains(where: { $0.0 == "logs" }) {
                services.append(("logs", "the awslogs driver"))
            }
        }
        return (services, publicImages)
    }

    /// Whether each subnet reaches what the task needs: the internet through an internet gateway (with a public IP)
    /// or a NAT gateway, or VPC endpoints for each service.
    func outboundRoutes(_ config: ECSRunConfig, _ network: NetworkFacts, into checks: inout [Check]) async {
        guard network.routeTables != nil else { return }
        let (services, publicImages) = neededServices(config)
        let region = config.region ?? client.configuration.region
        let prefix = AWSPartition(region: region).name == "aws-cn" ? "cn.com.amazonaws" : "com.amazonaws"
        for subnet in network.subnets {
            guard let table = network.routeTable(of: subnet) else {
                checks.append(Check(.fail, "subnet \(subnet.subnetID) has no route table", fix: "Associate one with a route to a NAT gateway or an internet gateway."))
                continue
            }
            let target = table.defaultRoute?.target ?? ""
            if target.hasPrefix("nat-") || (target.hasPrefix("igw-") && network.publicIP) {
                checks.append(Check(.ok, "subnet \(subnet.subnetID) reaches the internet through \(target) (\(table.routeTableID))"))
                continue
            }
            if !target.isEmpty && !target.hasPrefix("igw-") {
                checks.append(Check(
                    .skipped, "subnet \(subnet.subnetID) sends 0.0.0.0/0 to \(target) (\(table.routeTableID)); where that leads cannot be followed from here",
                    fix: "Make sure it reaches \(services.map(\.name).joined(separator: ", ")) for this task."))
                continue
            }
            let why = target.hasPrefix("igw-")
                ? "routes 0.0.0.0/0 to \(target), but the task gets no public IP (assignPublicIp is \(config.network?.assignPublicIp ?? "DISABLED")\(config.isFargate ? "" : "; EC2 tasks in awsvpc mode never get one"))"
                : "has no route to the internet (\(table.routeTableID))"
            for image in publicImages {
                checks.append(Check(
                    .fail, "subnet \(subnet.subnetID) \(why), so the task cannot pull \(image) (not in ECR); the stop reason would be CannotPullContainerError … i/o timeout",
                    fix: config.isFargate ? "Set network.assignPublicIp: ENABLED with an internet gateway route, route 0.0.0.0/0 to a NAT gateway, or push the image to ECR and add ECR endpoints." : "Route 0.0.0.0/0 to a NAT gateway, or push the image to ECR and add ECR endpoints."))
            }
            for (service, reason) in services {
                let name = "\(prefix).\(region).\(service)"
                let endpoint = network.endpoints?.first { $0.serviceName == name && ($0.state ?? "available").lowercased() == "available" }
                if let endpoint, endpoint.type.lowercased() == "gateway" ? endpoint.routeTableIDs.contains(table.routeTableID) : endpoint.privateDNS {
                    checks.append(Check(.ok, "subnet \(subnet.subnetID) reaches \(service) through \(endpoint.endpointID) (for \(reason))"))
                } else {
                    let create = service == "s3"
                        ? "aws ec2 create-vpc-endpoint --vpc-id \(network.vpcID) --vpc-endpoint-type Gateway --service-name \(name) --route-table-ids \(table.routeTableID)"
                        : "aws ec2 create-vpc-endpoint --vpc-id \(network.vpcID) --vpc-endpoint-type Interface --service-name \(name) --subnet-ids \(subnet.subnetID) --security-group-ids <sg allowing TCP 443 from the task> --private-dns-enabled"
                    checks.append(Check(
                        .fail, "subnet \(subnet.subnetID) \(why), and \(endpoint == nil ? "there is no VPC endpoint for" : "the endpoint \(endpoint!.endpointID) does not serve this subnet for") \(service) (needed for \(reason)): the task would stop with an i/o timeout",
                        fix: config.isFargate
                            ? "Set network.assignPublicIp: ENABLED (with the internet gateway route), route 0.0.0.0/0 to a NAT gateway, or: \(create)"
                            : "Route 0.0.0.0/0 to a NAT gateway, or: \(create)"))
                }
            }
        }
        guard !network.taskGroups.isEmpty else { return }
        let anywhere = IPv4CIDR("0.0.0.0/0")!
        if network.egressAllows(port: 443, to: anywhere) || (network.vpcCIDR.map { network.egressAllows(port: 443, to: $0) } ?? false) {
            checks.append(Check(.ok, "the task's security groups allow outbound HTTPS (443)"))
        } else {
            checks.append(Check(
                .fail, "the task's security groups (\(network.taskGroups.map(\.groupID).joined(separator: ", "))) allow no outbound HTTPS (443): the task cannot pull its image, read secrets or send logs",
                fix: "aws ec2 authorize-security-group-egress --group-id \(network.taskGroups[0].groupID) --ip-permissions IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=0.0.0.0/0}]"))
        }
    }
}
