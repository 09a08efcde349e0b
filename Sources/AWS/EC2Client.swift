import Foundation

/// EC2, query protocol (version 2016-11-15), XML answers.
public struct EC2Client: Sendable {
    let caller: QueryProtocolCaller

    public init(client: AWSClient) {
        caller = QueryProtocolCaller(client: client, service: .ec2, version: "2016-11-15")
    }

    /// Any EC2 action (query parameters in, XML out), for actions without a typed wrapper.
    public func call(_ action: String, _ parameters: [(String, String)]) async throws -> XMLElement {
        try await caller.call(AWSOperation(.ec2, action), parameters)
    }

    public func describeSubnets(_ subnetIDs: [String]) async throws -> [EC2Subnet] {
        try await paged(AWSOperation.EC2.describeSubnets, subnetIDs.queryList("SubnetId"), set: "subnetSet").map { item in
            EC2Subnet(
                subnetID: item.string("subnetId") ?? "", vpcID: item.string("vpcId") ?? "",
                availabilityZone: item.string("availabilityZone") ?? "", availabilityZoneID: item.string("availabilityZoneId"),
                cidrBlock: item.string("cidrBlock"), state: item.string("state"))
        }
    }

    public func describeSecurityGroups(_ groupIDs: [String]) async throws -> [EC2SecurityGroup] {
        try await paged(AWSOperation.EC2.describeSecurityGroups, groupIDs.queryList("GroupId"), set: "securityGroupInfo").map { item in
            EC2SecurityGroup(
                groupID: item.string("groupId") ?? "", groupName: item.string("groupName") ?? "", vpcID: item.string("vpcId"),
                ingress: (item.child("ipPermissions")?.all("item") ?? []).map(EC2SecurityGroup.Permission.init),
                egress: (item.child("ipPermissionsEgress")?.all("item") ?? []).map(EC2SecurityGroup.Permission.init))
        }
    }

    /// Every `item` of `set`, following `nextToken`.
    func paged(_ operation: AWSOperation, _ parameters: [(String, String)], set: String) async throws -> [XMLElement] {
        var items: [XMLElement] = []
        var token: String?
        repeat {
            var query = parameters
            if let token { query.append(("NextToken", token)) }
            let root = try await caller.call(operation, query)
            items += root.child(set)?.all("item") ?? []
            token = root.string("nextToken").flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return items
    }
}

public struct EC2Subnet: Sendable, Equatable {
    public var subnetID: String
    public var vpcID: String
    public var availabilityZone: String
    public var availabilityZoneID: String?
    public var cidrBlock: String?
    public var state: String?
}

public struct EC2SecurityGroup: Sendable, Equatable {
    /// One ingress rule.
    public struct Permission: Sendable, Equatable {
        /// `tcp`, `udp`, `icmp`, or `-1` for all.
        public var ipProtocol: String
        public var fromPort: Int?
        public var toPort: Int?
        /// The other security groups the rule names (the source of ingress, the destination of egress).
        public var sourceGroupIDs: [String]
        /// The IPv4 ranges the rule names.
        public var cidrRanges: [String]
        /// Managed prefix lists (`pl-…`), e.g. of an S3 gateway endpoint.
        public var prefixListIDs: [String]

        init(_ item: XMLElement) {
            ipProtocol = item.string("ipProtocol") ?? ""
            fromPort = item.string("fromPort").flatMap { Int($0) }
            toPort = item.string("toPort").flatMap { Int($0) }
            sourceGroupIDs = (item.child("groups")?.all("item") ?? []).compactMap { $0.string("groupId") }
            cidrRanges = (item.child("ipRanges")?.all("item") ?? []).compactMap { $0.string("cidrIp") }
            prefixListIDs = (item.child("prefixListIds")?.all("item") ?? []).compactMap { $0.string("prefixListId") }
        }

        /// Whether it lets TCP `port` in.
        public func allowsTCP(port: Int) -> Bool {
            if ipProtocol == "-1" { return true }
            guard ipProtocol == "tcp" || ipProtocol == "6" else { return false }
            return (fromPort ?? 0) <= port && port <= (toPort ?? 65535)
        }
    }

    public var groupID: String
    public var groupName: String
    public var vpcID: String?
    public var ingress: [Permission]
    public var egress: [Permission]
}
