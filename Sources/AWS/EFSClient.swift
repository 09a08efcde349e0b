import FathomCore
import Foundation
import NIOHTTP1

/// EFS, REST-JSON, API version 2015-02-01.
public struct EFSClient: Sendable {
    let client: AWSClient

    public init(client: AWSClient) {
        self.client = client
    }

    func get<Output: Decodable>(_ operation: AWSOperation, _ path: String, _ query: [(String, String)] = []) async throws -> Output {
        let response = try await client.send(
            AWSRequest(service: .efs, operation: "efs:\(operation.name)", method: .GET, path: path, query: query), errors: .restJSON)
        return try AWSJSON.decode(Output.self, from: response.body, service: "efs")
    }

    /// Any EFS call: a method, a path under the API version, and an optional JSON body.
    public func call(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil) async throws -> JSONValue {
        let request = AWSRequest(
            service: .efs, operation: "efs:\(method.rawValue) \(path)", method: method, path: "/2015-02-01" + path,
            headers: body == nil ? [] : [("Content-Type", "application/json")],
            body: try body.map { .data(try AWSJSON.encode($0)) } ?? .empty)
        let response = try await client.send(request, errors: .restJSON)
        return try AWSJSON.decode(JSONValue.self, from: response.body, service: "efs")
    }

    /// One file system by id, or every file system (following `NextMarker`, `pageSize` per call).
    public func describeFileSystems(fileSystemID: String? = nil, pageSize: Int = 100) async throws -> [EFSFileSystem] {
        var systems: [EFSFileSystem] = []
        var marker: String?
        repeat {
            var query: [(String, String)] = [("MaxItems", String(pageSize))]
            if let fileSystemID { query.append(("FileSystemId", fileSystemID)) }
            if let marker { query.append(("Marker", marker)) }
            let page: DescribeFileSystemsOutput = try await get(AWSOperation.EFS.describeFileSystems, "/2015-02-01/file-systems", query)
            systems += page.FileSystems ?? []
            marker = page.NextMarker
        } while marker != nil
        return systems
    }

    public func describeMountTargets(fileSystemID: String) async throws -> [EFSMountTarget] {
        var targets: [EFSMountTarget] = []
        var marker: String?
        repeat {
            var query: [(String, String)] = [("FileSystemId", fileSystemID), ("MaxItems", "100")]
            if let marker { query.append(("Marker", marker)) }
            let page: DescribeMountTargetsOutput = try await get(AWSOperation.EFS.describeMountTargets, "/2015-02-01/mount-targets", query)
            targets += page.MountTargets ?? []
            marker = page.NextMarker
        } while marker != nil
        return targets
    }

    public func describeMountTargetSecurityGroups(mountTargetID: String) async throws -> [String] {
        let output: MountTargetSecurityGroupsOutput = try await get(
            AWSOperation.EFS.describeMountTargetSecurityGroups, "/2015-02-01/mount-targets/\(AWSURI.quote(mountTargetID))/security-groups")
        return output.SecurityGroups ?? []
    }

    /// The file system's resource policy as JSON text, or nil when it has none (`PolicyNotFound`).
    public func describeFileSystemPolicy(fileSystemID: String) async throws -> String? {
        do {
            let output: FileSystemPolicyOutput = try await get(
                AWSOperation.EFS.describeFileSystemPolicy, "/2015-02-01/file-systems/\(AWSURI.quote(fileSystemID))/policy")
            return output.Policy
        } catch let error as AWSError where error.serviceError?.code == "PolicyNotFound" {
            return nil
        }
    }

    public func describeAccessPoints(fileSystemID: String? = nil, accessPointID: String? = nil) async throws -> [EFSAccessPoint] {
        var points: [EFSAccessPoint] = []
        var token: String?
        repeat {
            var query: [(String, String)] = [("MaxResults", "100")]
            if let fileSystemID { query.append(("FileSystemId", fileSystemID)) }
            if let accessPointID { query.append(("AccessPointId", accessPointID)) }
            if let token { query.append(("NextToken", token)) }
            let page: DescribeAccessPointsOutput = try await get(AWSOperation.EFS.describeAccessPoints, "/2015-02-01/access-points", query)
            points += page.AccessPoints ?? []
            token = page.NextToken
        } while token != nil
        return points
    }
}

public struct EFSFileSystem: Decodable, Sendable {
    public var FileSystemId: String?
    public var FileSystemArn: String?
    public var LifeCycleState: String?
    public var Name: String?
    public var Encrypted: Bool?
    public var NumberOfMountTargets: Int?
}

public struct EFSMountTarget: Decodable, Sendable {
    public var MountTargetId: String?
    public var FileSystemId: String?
    public var SubnetId: String?
    public var LifeCycleState: String?
    public var IpAddress: String?
    public var AvailabilityZoneName: String?
    public var AvailabilityZoneId: String?
    public var VpcId: String?
}

public struct EFSAccessPoint: Decodable, Sendable {
    public struct RootDirectory: Decodable, Sendable {
        public var Path: String?
    }

    public var AccessPointId: String?
    public var AccessPointArn: String?
    public var FileSystemId: String?
    public var LifeCycleState: String?
    public var RootDirectory: RootDirectory?
}

struct DescribeFileSystemsOutput: Decodable {
    var FileSystems: [EFSFileSystem]?
    var NextMarker: String?
}

struct DescribeMountTargetsOutput: Decodable {
    var MountTargets: [EFSMountTarget]?
    var NextMarker: String?
}

struct FileSystemPolicyOutput: Decodable {
    var Policy: String?
}

struct MountTargetSecurityGroupsOutput: Decodable {
    var SecurityGroups: [String]?
}

struct DescribeAccessPointsOutput: Decodable {
    var AccessPoints: [EFSAccessPoint]?
    var NextToken: String?
}
