import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// The difference between this machine's clock and AWS's, learnt from the `Date` header of a
/// clock-skew error (`RequestTimeTooSkewed`, `SignatureDoesNotMatch`, …). SigV4 signatures older or newer
/// than 15 minutes are refused ("Signature expired", "Signature not yet current"), so a machine whose clock
/// drifts would otherwise fail every call.
public final class AWSClockSkew: Sendable {
    /// One for the process: the local clock is wrong for every endpoint alike.
    public static let shared = AWSClockSkew()
    /// Below this the signature is accepted anyway; above it the offset is applied.
    static let threshold: TimeInterval = 4 * 60

    private let offset = Mutex<TimeInterval>(0)

    public init() {}

    /// The current correction in seconds (server minus local).
    public var seconds: TimeInterval { offset.withLock { $0 } }

    /// The local time, corrected.
    public func corrected(_ localNow: Date) -> Date { localNow.addingTimeInterval(seconds) }

    /// Takes the server's time as the truth when it is further than the threshold from the corrected local time;
    /// returns whether the correction changed (so the call is worth signing again).
    func correct(serverDate: Date, localNow: Date) -> Bool {
        offset.withLock { offset in
            let skew = serverDate.timeIntervalSince(localNow)
            guard abs(skew - offset) > Self.threshold else { return false }
            offset = skew
            return true
        }
    }
}

/// `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
enum RetryAfter {
    /// The wait, bounded to a day; nil when the value is neither form.
    static func parse(_ value: String, now: Date) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(text), seconds >= 0 { return .seconds(min(seconds, 86_400)) }
        guard let date = HTTPDate.parse(text) else { return nil }
        let seconds = date.timeIntervalSince(now)
        guard seconds.isFinite else { return nil }
        return .milliseconds(Int64(min(max(seconds, 0), 86_400) * 1000))
    }
}

/// The IMF-fixdate of HTTP headers: `Sun, 06 Nov 1994 08:49:37 GMT`.
enum HTTPDate {
    static func parse(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text.trimmingCharacters(in: .whitespaces))
    }
}
