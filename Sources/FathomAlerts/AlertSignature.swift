import Crypto
import FathomCore
import Foundation

/// The signature a webhook carries in its `Fathom-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256>`,
/// the HMAC keyed with the target's secret over `"<t>.<body>"`. The timestamp is signed with the body, so a
/// receiver that refuses old timestamps (``verify(header:body:secret:now:tolerance:)``: 5 minutes) refuses replays.
public enum AlertSignature {
    /// The header's name.
    public static let header = "Fathom-Signature"

    /// The header value for `body` sent at `timestamp`.
    public static func value(secret: String, timestamp: Int, body: String) -> String {
        "t=\(timestamp),v1=\(mac(secret: secret, timestamp: timestamp, body: body))"
    }

    /// Whether `header` signs `body` with `secret` and its time is within `tolerance` of `now`.
    public static func verify(header: String, body: String, secret: String, now: Date, tolerance: TimeInterval = 300) -> Bool {
        var timestamp: Int?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = Int(pair[1]) }
            if pair[0] == "v1" { signatures.append(pair[1]) }
        }
        guard let timestamp, abs(now.timeIntervalSince1970 - Double(timestamp)) <= tolerance else { return false }
        let expected = Array(mac(secret: secret, timestamp: timestamp, body: body).utf8)
        // Compared in constant time, so a receiver leaks nothing of the expected value.
        return signatures.contains { candidate in
            let bytes = Array(candidate.utf8)
            guard bytes.count == expected.count else { return false }
            return zip(bytes, expected).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    private static func mac(secret: String, timestamp: Int, body: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Hex.lowercase(Data(code))
    }

    /// A new random secret (32 bytes, hex).
    public static func makeSecret() -> String {
        Hex.lowercase(Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }))
    }
}
