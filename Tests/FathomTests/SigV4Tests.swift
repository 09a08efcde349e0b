import AWS
import Foundation
import Testing

/// Fathom's SigV4 signatures are byte-identical to botocore's for a table of requests.
struct SigV4Tests {
    struct Case {
        var name: String
        var service: String
        var region = "eu-west-1"
        var method: String
        var scheme = "http"
        var host: String
        var port: Int? = 5000
        var path: String
        var query: [(String, String)] = []
        var headers: [(String, String)] = []
        var body = Data()
        var token: String?
        var unsignedPayload = false
        var date = Date(timeIntervalSince1970: 1_764_400_000)
    }

    static let token = "FQoGZXIvYXdzEJr//////////wEaDOtoken+with/slashes=="
    static let bigBody = Data((0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })

    static let cases: [Case] = [
        Case(name: "ecs RunTask", service: "ecs", method: "POST", host: "ecs.eu-west-1.amazonaws.com", port: nil, path: "/",
             headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.RunTask")],
             body: Data(#"{"cluster":"fathom","taskDefinition":"hello:3","count":1}"#.utf8)),
        Case(name: "ecs DescribeTasks with a session token", service: "ecs", method: "POST", host: "127.0.0.1", path: "/",
             headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.DescribeTasks")],
             body: Data(#"{"cluster":"c","tasks":["arn:aws:ecs:eu-west-1:123:task/c/abc"]}"#.utf8), token: token),
        Case(name: "logs GetLogEvents", service: "logs", method: "POST", scheme: "https", host: "logs.eu-west-1.amazonaws.com", port: nil, path: "/",
             headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "Logs_20140328.GetLogEvents")],
             body: Data(#"{"logGroupName":"/fathom/flows","logStreamName":"hello/flow/1"}"#.utf8)),
        Case(name: "efs DescribeFileSystems", service: "elasticfilesystem", method: "GET", host: "127.0.0.1",
             path: "/2015-02-01/file-systems", query: [("FileSystemId", "fs-12345678"), ("MaxItems", "100")]),
        Case(name: "efs mount target security groups", service: "elasticfilesystem", method: "GET", host: "127.0.0.1",
             path: "/2015-02-01/mount-targets/fsmt-0123/security-groups"),
        Case(name: "efs path with dot segments and double slashes", service: "elasticfilesystem", method: "GET", host: "127.0.0.1",
             path: "/2015-02-01//access-points/./x/../", query: [("AccessPointId", "fsap-0123456789abcdef0")]),
        Case(name: "efs path with an encoded space (double-encoded outside S3)", service: "elasticfilesystem", method: "GET",
             host: "127.0.0.1", path: "/2015-02-01/mount-targets/a%20b/security-groups"),
        Case(name: "ec2 DescribeSubnets", service: "ec2", method: "POST", scheme: "https", host: "ec2.eu-west-1.amazonaws.com", port: nil, path: "/",
             headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
             body: Data("Action=DescribeSubnets&SubnetId.1=subnet-0123abcd&Version=2016-11-15".utf8)),
        Case(name: "sts GetCallerIdentity us-east-1", service: "sts", region: "us-east-1", method: "POST", scheme: "https", host: "sts.amazonaws.com", port: nil, path: "/", headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
             body: Data("Action=GetCallerIdentity&Version=2011-06-15".utf8), token: token),
        Case(name: "s3 GET a key with spaces", service: "s3", method: "GET", host: "127.0.0.1",
             path: "/bucket/" + AWSURI.encodePath("flows/my bundle v1.bin")),
        Case(name: "s3 PUT a key with plus", service: "s3", method: "PUT", host: "127.0.0.1",
             path: "/bucket/" + AWSURI.encodePath("a+b/c+d=e.bin"), headers: [("Content-Type", "application/octet-stream")],
             body: Data("hello".utf8)),
        Case(name: "s3 key with unicode", service: "s3", method: "GET", host: "127.0.0.1",
             path: "/bucket/" + AWSURI.encodePath("données/日本語/ß.txt")),
        Case(name: "s3 ListObjectsV2 with a prefix holding / and spaces", service: "s3", method: "GET", host: "127.0.0.1",
             path: "/bucket", query: [("list-type", "2"), ("prefix", "runs/a b/"), ("max-keys", "2")]),
        Case(name: "s3 query with + = & and unicode", service: "s3", method: "GET", host: "127.0.0.1", path: "/bucket",
             query: [("list-type", "2"), ("prefix", "x+y=z&w/é"), ("continuation-token", "1/2+3==")]),
        Case(name: "s3 streamed upload, UNSIGNED-PAYLOAD", service: "s3", method: "PUT", scheme: "https", host: "bucket.s3.eu-west-1.amazonaws.com",
             port: nil, path: "/big.bin", headers: [("Content-Length", "1048576")], unsignedPayload: true),
        Case(name: "s3 large body signed", service: "s3", method: "PUT", host: "127.0.0.1", path: "/bucket/large.bin", body: bigBody),
        Case(name: "s3 empty POST ?uploads", service: "s3", method: "POST", host: "127.0.0.1", path: "/bucket/k.bin", query: [("uploads", "")]),
        Case(name: "s3 HEAD", service: "s3", method: "HEAD", host: "127.0.0.1", path: "/bucket/k.bin", token: token),
        Case(name: "s3 DELETE abort upload", service: "s3", method: "DELETE", host: "127.0.0.1", path: "/bucket/k.bin",
             query: [("uploadId", "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA")]),
        Case(name: "s3 UploadPart", service: "s3", method: "PUT", host: "127.0.0.1", path: "/bucket/k.bin",
             query: [("partNumber", "10"), ("uploadId", "abc")], body: Data(repeating: 7, count: 1000)),
        Case(name: "header values are trimmed and folded", service: "ecs", method: "POST", host: "127.0.0.1", path: "/",
             headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "  AmazonEC2ContainerServiceV20141113.ListTasks  "),
                       ("X-Custom-Header", "a   b \t c")], body: Data("{}".utf8)),
        Case(name: "metadata headers in upper case", service: "s3", method: "PUT", host: "127.0.0.1", path: "/bucket/m.bin",
             headers: [("X-Amz-Meta-Flow-Names", "hello,sort-compress"), ("Content-Type", "application/octet-stream")],
             body: Data("x".utf8)),
        Case(name: "signing just before midnight UTC", service: "sts", method: "POST", host: "127.0.0.1", path: "/",
             headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
             body: Data("Action=GetCallerIdentity&Version=2011-06-15".utf8), date: Date(timeIntervalSince1970: 1_764_460_799)),
        Case(name: "user-agent is not signed", service: "ecs", method: "POST", host: "127.0.0.1", path: "/",
             headers: [("User-Agent", "fathom/1"), ("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.StopTask")],
             body: Data(#"{"cluster":"c","task":"t","reason":"cancelled by user"}"#.utf8)),
    ]

    @Test func signaturesMatchBotocoreByteForByte() async throws {
        #expect(Self.cases.count >= 20)
        var signed: [(Case, SignableRequest)] = []
        var input: [[String: Any]] = []
        for testCase in Self.cases {
            let credentials = AWSCredentials(
                accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: testCase.token,
                source: "test")
            var request = SignableRequest(
                method: testCase.method, scheme: testCase.scheme, host: testCase.host, port: testCase.port, encodedPath: testCase.path,
                encodedQuery: AWSURI.canonicalQuery(testCase.query), headers: testCase.headers.map { (name: $0.0, value: $0.1) },
                payloadHash: testCase.unsignedPayload ? SigV4Signer.unsignedPayload : SigV4Signer.payloadHash(testCase.body))
            let unsigned = request
            SigV4Signer(service: testCase.service, region: testCase.region).sign(&request, credentials: credentials, date: testCase.date)
            signed.append((testCase, request))
            input.append([
                "method": testCase.method, "url": unsigned.url, "headers": testCase.headers.map { [$0.0, $0.1] },
                "body_b64": testCase.body.base64EncodedString(), "service": testCase.service, "region": testCase.region,
                "timestamp": SigV4Signer.timestamp(testCase.date), "access_key": credentials.accessKeyID,
                "secret_key": credentials.secretAccessKey, "token": testCase.token as Any, "unsigned_payload": testCase.unsignedPayload,
            ])
        }
        let directory = TemporaryDirectory()
        let inputPath = directory.file("cases.json")
        try JSONSerialization.data(withJSONObject: input).write(to: URL(fileURLWithPath: inputPath))
        let result = try await runCommand("/bin/sh", ["-c", "python3 '\(PythonHelpers.path("botocore_sign.py"))' < '\(inputPath)'"])
        #expect(result.exit.exitCode == 0, "\(result.output.suffix(5))")
        let answers = try #require(try JSONSerialization.jsonObject(with: Data(result.output.joined(separator: "\n").utf8)) as? [[String: Any]])
        #expect(answers.count == signed.count)
        for ((testCase, request), answer) in zip(signed, answers) {
            let theirs = answer["authorization"] as? String
            #expect(request.header("Authorization") == theirs, "\(testCase.name): canonical request per botocore:\n\(answer["canonical_request"] ?? "")")
            if testCase.service == "s3" {
                #expect(request.header("X-Amz-Content-SHA256") == answer["content_sha256"] as? String, "\(testCase.name)")
            }
        }
    }

    @Test func credentialsNeverPrintTheirSecret() {
        let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "s3cr3t", sessionToken: "tok3n", source: "environment")
        #expect(!credentials.description.contains("s3cr3t"))
        #expect(!credentials.description.contains("tok3n"))
        #expect(credentials.description.contains("AKIDEXAMPLE"))
    }
}
