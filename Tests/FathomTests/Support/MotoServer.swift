import AWS
import AsyncHTTPClient
import FathomProcess
import Foundation
import NIOCore
import Testing

/// A real `moto_server` on a free loopback port, started for one test and stopped after it.
final class MotoServer: Sendable {
    let url: String
    let process: BackgroundProcess
    let recordingPath: String
    private let directory: TemporaryDirectory

    /// Starts moto with `environment` added (e.g. `INITIAL_NO_AUTH_ACTION_COUNT=0`).
    init(environment: [String: String] = [:]) async throws {
        directory = TemporaryDirectory("moto")
        recordingPath = directory.file("recording.jsonl")
        let port = try LoopbackPort.unused()
        url = "http://127.0.0.1:\(port)"
        process = BackgroundProcess(
            "moto_server", ["-H", "127.0.0.1", "-p", String(port)],
            environment: environment.merging(["MOTO_RECORDER_FILEPATH": recordingPath]) { a, _ in a })
        // The answer must be moto's own dashboard from this process: a port taken by someone else is no moto.
        let ready = await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
            guard !self.process.isFinished else { return true }
            return (try? await self.api("GET", "/moto-api/"))?.contains("Moto") ?? false
        }
        guard ready, !process.isFinished else {
            await process.stop()
            throw TestFailure("moto_server did not start on \(url): \(process.output.suffix(10))")
        }
    }

    /// Calls a moto control endpoint.
    @discardableResult
    func api(_ method: String, _ path: String, json: String? = nil) async throws -> String {
        var request = HTTPClientRequest(url: url + path)
        request.method = .init(rawValue: method)
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 512 << 20)
        guard response.status.code < 300 else { throw TestFailure("moto \(path) answered \(response.status.code)") }
        return String(buffer: body)
    }

    func startRecording() async throws { try await api("POST", "/moto-api/recorder/start-recording") }
    func stopRecording() async throws { try await api("POST", "/moto-api/recorder/stop-recording") }

    /// Checks every recorded request against botocore's service models; returns the report.
    func validateRecording() async throws -> (ok: Bool, report: String, checked: Int) {
        try await stopRecording()
        let result = try await runCommand("/usr/bin/env", ["python3", PythonHelpers.path("validate_recording.py"), recordingPath])
        let report = result.output.joined(separator: "\n")
        let checked = (try? JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any])?["checked"] as? Int ?? 0
        return (result.exit.exitCode == 0, report, checked)
    }

    /// A client for this moto, with fixed test credentials.
    /// `endpoint` sends the calls elsewhere (a fault proxy in front of this moto).
    func client(region: String = "eu-west-1", secret: String = "test-secret", endpoint: String? = nil) throws -> AWSClient {
        let configuration = try AWSConfiguration(environment: ["AWS_ENDPOINT_URL": endpoint ?? url], region: region)
        let credentials = CredentialChain(providers: [EnvironmentCredentialProvider(environment: [
            "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": secret,
        ])])
        var client = AWSClient(configuration: configuration, credentials: credentials)
        client.retry.baseDelay = .milliseconds(20)
        return client
    }

    func stop() async {
        await process.stop()
    }
}

/// The Python helpers next to this file.
enum PythonHelpers {
    static func path(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("python/\(name)").path
    }
}

/// A VPC with a subnet in each of two zones and a security group that lets NFS in from itself.
struct MotoNetwork {
    var vpcID: String
    var subnetIDs: [String]
    var securityGroupID: String

    static func create(_ ec2: EC2Client, zones: [String] = ["eu-west-1a", "eu-west-1b"], allowNFS: Bool = true) async throws -> MotoNetwork {
        let vpc = try await ec2.call("CreateVpc", [("CidrBlock", "10.0.0.0/16")])
        let vpcID = try #require(vpc.find("vpcId")?.text)
        _ = try await ec2.call("ModifyVpcAttribute", [("VpcId", vpcID), ("EnableDnsHostnames.Value", "true")])
        var subnetIDs: [String] = []
        for (index, zone) in zones.enumerated() {
            let subnet = try await ec2.call("CreateSubnet", [("VpcId", vpcID), ("CidrBlock", "10.0.\(index).0/24"), ("AvailabilityZone", zone)])
            subnetIDs.append(try #require(subnet.find("subnetId")?.text))
        }
        let group = try await ec2.call("CreateSecurityGroup", [("GroupName", "fathom-efs"), ("GroupDescription", "efs mounts"), ("VpcId", vpcID)])
        let groupID = try #require(group.find("groupId")?.text)
        if allowNFS {
            _ = try await ec2.call("AuthorizeSecurityGroupIngress", [
                ("GroupId", groupID), ("IpPermissions.1.IpProtocol", "tcp"), ("IpPermissions.1.FromPort", "2049"),
                ("IpPermissions.1.ToPort", "2049"), ("IpPermissions.1.Groups.1.GroupId", groupID),
            ])
        }
        return MotoNetwork(vpcID: vpcID, subnetIDs: subnetIDs, securityGroupID: groupID)
    }
}

extension MotoNetwork {
    /// An internet gateway on the VPC and `0.0.0.0/0` to it in the main route table.
    static func addInternetRoute(_ ec2: EC2Client, vpcID: String) async throws {
        let gateway = try #require(try await ec2.call("CreateInternetGateway", []).find("internetGatewayId")?.text)
        _ = try await ec2.call("AttachInternetGateway", [("InternetGatewayId", gateway), ("VpcId", vpcID)])
        let tables = try await ec2.describeRouteTables(vpcID: vpcID)
        let main = try #require(tables.first { $0.isMain })
        _ = try await ec2.call("CreateRoute", [("RouteTableId", main.routeTableID), ("DestinationCidrBlock", "0.0.0.0/0"), ("GatewayId", gateway)])
    }
}
