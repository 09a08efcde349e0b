import Foundation

extension EC2Client {
    /// The route tables of a VPC, with their routes and subnet associations.
    public func describeRouteTables(vpcID: String) async throws -> [EC2RouteTable] {
        try await paged(AWSOperation.EC2.describeRouteTables, [("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", vpcID)], set: "routeTableSet").map { item in
            EC2RouteTable(
                routeTableID: item.string("routeTableId") ?? "",
                routes: (item.child("routeSet")?.all("item") ?? []).map { route in
                    EC2RouteTable.Route(
                        destination: route.string("destinationCidrBlock") ?? route.string("destinationPrefixListId") ?? "",
                        target: ["gatewayId", "natGatewayId", "transitGatewayId", "networkInterfaceId", "instanceId", "vpcPeeringConnectionId"]
                            .lazy.compactMap { route.string($0) }.first ?? "",
                        state: route.string("state"))
                },
                subnetIDs: (item.child("associationSet")?.all("item") ?? []).compactMap { $0.string("subnetId") },
                isMain: (item.child("associationSet")?.all("item") ?? []).contains { $0.string("main") == "true" })
        }
    }

    /// The VPC endpoints of a VPC.
    public func describeVpcEndpoints(vpcID: String) async throws -> [EC2VPCEndpoint] {
        try await paged(AWSOperation.EC2.describeVpcEndpoints, [("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", vpcID)], set: "vpcEndpointSet").map { item in
            EC2VPCEndpoint(
                endpointID: item.string("vpcEndpointId") ?? "", serviceName: item.string("serviceName") ?? "",
                type: item.string("vpcEndpointType") ?? "", state: item.string("state"),
                privateDNS: item.string("privateDnsEnabled") == "true",
                routeTableIDs: (item.child("routeTableIdSet")?.all("item") ?? []).map(\.text),
                subnetIDs: (item.child("subnetIdSet")?.all("item") ?? []).map(\.text))
        }
    }

    /// `enableDnsSupport` or `enableDnsHostnames` of a VPC.
    public func vpcAttribute(_ vpcID: String, _ attribute: String) async throws -> Bool {
        let root = try await caller.call(AWSOperation.EC2.describeVpcAttribute, [("VpcId", vpcID), ("Attribute", attribute)])
        return root.child(attribute)?.string("value") == "true"
    }

    /// The IPv4 range of a VPC.
    public func vpcCIDR(_ vpcID: String) async throws -> String? {
        try await paged(AWSOperation.EC2.describeVpcs, [("VpcId.1", vpcID)], set: "vpcSet").first?.string("cidrBlock")
    }
}

/// A route table: where its subnets' traffic goes.
public struct EC2RouteTable: Sendable, Equatable {
    public struct Route: Sendable, Equatable {
        /// A CIDR block or a prefix list id.
        public var destination: String
        /// `local`, `igw-…`, `nat-…`, `tgw-…`, `eni-…`, `i-…`, `pcx-…`.
        public var target: String
        /// `active` or `blackhole`.
        public var state: String?
    }

    public var routeTableID: String
    public var routes: [Route]
    /// Subnets associated explicitly.
    public var subnetIDs: [String]
    /// The VPC's main table serves every subnet without an explicit association.
    public var isMain: Bool

    /// The active route for `0.0.0.0/0`, if any.
    public var defaultRoute: Route? {
        routes.first { $0.destination == "0.0.0.0/0" && $0.state != "blackhole" }
    }
}

/// A VPC endpoint (interface or gateway).
public struct EC2VPCEndpoint: Sendable, Equatable {
    public var endpointID: String
    /// e.g. `com.amazonaws.eu-west-1.ecr.dkr`.
    public var serviceName: String
    /// `Interface` or `Gateway`.
    public var type: String
    public var state: String?
    public var privateDNS: Bool
    public var routeTableIDs: [String]
    public var subnetIDs: [String]
}

/// An IPv4 range, `10.0.0.0/16`.
public struct IPv4CIDR: Sendable, Equatable, CustomStringConvertible {
    public var address: UInt32
    public var prefixLength: Int

    /// Parses `a.b.c.d/n`, or a bare address as a /32.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = Self.parseAddress(String(parts[0])) else { return nil }
        let length = parts.count == 2 ? Int(parts[1]) : 32
        guard let length, (0...32).contains(length) else { return nil }
        self.address = address & Self.mask(length)
        prefixLength = length
    }

    static func parseAddress(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard octet.count <= 3, let byte = UInt8(octet) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }

    static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : UInt32.max << UInt32(32 - length) }

    /// Whether every address of `other` is in this range.
    public func contains(_ other: IPv4CIDR) -> Bool {
        other.prefixLength >= prefixLength && other.address & Self.mask(prefixLength) == address
    }

    public var description: String {
        "\(address >> 24).\(address >> 16 & 255).\(address >> 8 & 255).\(address & 255)/\(prefixLength)"
    }
}
