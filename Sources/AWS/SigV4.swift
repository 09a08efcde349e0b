import Crypto
import FathomCore
import Foundation

/// A request to sign: method, URL parts as they will be sent, headers and the payload hash.
public struct SignableRequest: Sendable {
    public var method: String
    /// `https://host[:port]`, no path.
    public var scheme: String
    public var host: String
    public var port: Int?
    /// The path exactly as sent, already percent-encoded (see ``AWSURI/encodePath(_:)``).
    public var encodedPath: String
    /// The query exactly as sent, already canonical (see ``AWSURI/canonicalQuery(_:)``), without `?`.
    public var encodedQuery: String
    /// Header names as given; lookups are case-insensitive.
    public var headers: [(name: String, value: String)]
    /// Hex sha256 of the body, or `UNSIGNED-PAYLOAD`.
    public var payloadHash: String

    public init(
        method: String, scheme: String = "https", host: String, port: Int? = nil, encodedPath: String,
        encodedQuery: String = "", headers: [(name: String, value: String)] = [], payloadHash: String
    ) {
        self.method = method
        self.scheme = scheme
        self.host = host
        self.port = port
        self.encodedPath = encodedPath
        self.encodedQuery = encodedQuery
        self.headers = headers
        self.payloadHash = payloadHash
    }

    /// The full URL to send.
    public var url: String {
        "\(scheme)://\(hostHeader)\(encodedPath.isEmpty ? "/" : encodedPath)\(encodedQuery.isEmpty ? "" : "?" + encodedQuery)"
    }

    /// `host[:port]`, with the port only when it is not the scheme's default.
    public var hostHeader: String {
        let defaultPort = scheme == "https" ? 443 : 80
        guard let port, port != defaultPort else { return host.lowercased() }
        return "\(host.lowercased()):\(port)"
    }

    /// The value of a header, case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    mutating func setHeader(_ name: String, _ value: String) {
        headers.removeAll { $0.name.lowercased() == name.lowercased() }
        headers.append((name, value))
    }
}

/// AWS Signature Version 4 for header-signed requests, as botocore computes it.
public struct SigV4Signer: Sendable {
    public var service: String
    public var region: String

    /// The sha256 of an empty body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// What S3 streamed uploads sign instead of a body hash.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    static let unsignedHeaders: Set<String> = [
        "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id", "authorization",
    ]

    public init(service: String, region: String) {
        self.service = service
        self.region = region
    }

    /// Adds `X-Amz-Date`, `X-Amz-Security-Token` (with a session token), `X-Amz-Content-SHA256`
    /// (S3) and `Authorization`.
    public func sign(_ request: inout SignableRequest, credentials: AWSCredentials, date: Date) {
        let timestamp = Self.timestamp(date)
        request.setHeader("X-Amz-Date", timestamp)
        if let token = credentials.sessionToken { request.setHeader("X-Amz-Security-Token", token) }
        if service == "s3" { request.setHeader("X-Amz-Content-SHA256", request.payloadHash) }
        let (canonical, signedHeaders) = canonicalRequest(request)
        let scope = "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(timestamp)\n\(scope)\n\(Self.hex(SHA256.hash(data: Data(canonical.utf8))))"
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(
            for: Data(stringToSign.utf8), using: signingKey(secret: credentials.secretAccessKey, day: String(timestamp.prefix(8)))))
        request.setHeader(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)")
    }

    /// The canonical request and the signed header list.
    public func canonicalRequest(_ request: SignableRequest) -> (String, String) {
        var headers: [String: [String]] = [:]
        for (name, value) in request.headers where !Self.unsignedHeaders.contains(name.lowercased()) {
            headers[name.lowercased(), default: []].append(value.split(whereSeparator: \.isWhitespace).joined(separator: " "))
        }
        if headers["host"] == nil { headers["host"] = [request.hostHeader] }
        let names = headers.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(headers[$0]!.joined(separator: ","))" }.joined(separator: "\n")
        let signedHeaders = names.joined(separator: ";")
        let path = service == "s3" ? (request.encodedPath.isEmpty ? "/" : request.encodedPath)
            : AWSURI.quote(AWSURI.removeDotSegments(request.encodedPath), safe: "/~")
        var pairs: [(String, String)] = []
        if !request.encodedQuery.isEmpty {
            for pair in request.encodedQuery.split(separator: "&", omittingEmptySubsequences: false) {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                pairs.append((String(parts[0]), parts.count > 1 ? String(parts[1]) : ""))
            }
        }
        let query = AWSURI.joinSorted(pairs)
        let payload = request.header("X-Amz-Content-SHA256") ?? request.payloadHash
        let canonical = [request.method.uppercased(), path, query, canonicalHeaders + "\n", signedHeaders, payload]
            .joined(separator: "\n")
        return (canonical, signedHeaders)
    }

    func signingKey(secret: String, day: String) -> SymmetricKey {
        func hmac(_ key: SymmetricKey, _ text: String) -> SymmetricKey {
            SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key)))
        }
        let kDate = hmac(SymmetricKey(data: Data("AWS4\(secret)".utf8)), day)
        return hmac(hmac(hmac(kDate, region), service), "aws4_request")
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    public static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        Hex.lowercase(digest)
    }

    /// Hex sha256 of `data`.
    public static func payloadHash(_ data: Data) -> String {
        data.isEmpty ? emptyPayloadHash : hex(SHA256.hash(data: data))
    }
}

/// AWS's URI encoding rules.
public enum AWSURI {
    static let unreserved: Set<UInt8> = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~".utf8))

    /// Percent-encodes every byte outside the unreserved set and `safe`, with uppercase hex.
    public static func quote(_ text: String, safe: String = "") -> String {
        let keep = unreserved.union(safe.utf8)
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if keep.contains(byte) {
                out.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// Encodes a path (e.g. an S3 key behind `/bucket/`), keeping `/`.
    public static func encodePath(_ path: String) -> String {
        quote(path, safe: "/")
    }

    /// The canonical query string for `parameters`: keys and values encoded, sorted by key then value.
    public static func canonicalQuery(_ parameters: [(String, String)]) -> String {
        joinSorted(parameters.map { (quote($0.0), quote($0.1)) })
    }

    /// `k=v&…`, sorted by key then value (byte order of the encoded text).
    static func joinSorted(_ pairs: [(String, String)]) -> String {
        let sorted = pairs.sorted { (a: (String, String), b: (String, String)) -> Bool in
            a.0 == b.0 ? Array(a.1.utf8).lexicographicallyPrecedes(b.1.utf8) : Array(a.0.utf8).lexicographicallyPrecedes(b.0.utf8)
        }
        return sorted.map { (pair: (String, String)) -> String in pair.0 + "=" + pair.1 }.joined(separator: "&")
    }

    /// RFC 3986 dot-segment removal, also folding repeated slashes, as botocore does.
    public static func removeDotSegments(_ path: String) -> String {
        if path.isEmpty { return "/" }
        var output: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                if !output.isEmpty { output.removeLast() }
                continue
            }
            output.append(segment)
        }
        let first = path.hasPrefix("/") ? "/" : ""
        let last = path.hasSuffix("/") && !output.isEmpty ? "/" : ""
        return first + output.joined(separator: "/") + last
    }
}
