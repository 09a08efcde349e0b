import Foundation

/// When a schedule fires: a cron expression in a time zone, or a fixed interval from an anchor.
public enum ScheduleTiming: Sendable, Equatable {
    case cron(CronExpression, TimeZone)
    /// Every `seconds`, at `anchor + k × seconds`.
    case interval(seconds: Double, anchor: Date)

    /// The shortest interval a schedule may have.
    public static let minimumInterval = 1.0
    /// The longest: ten years (anything longer is a typo, and date arithmetic past it gains nothing).
    public static let maximumInterval = 10 * 366 * 86_400.0

    /// Builds the timing from the fields of a request; errors name the field and the fix.
    public init(cron: String?, timezone: String?, intervalSeconds: Double?, anchor: Date?, now: Date) throws(ValidationError) {
        switch (cron, intervalSeconds) {
        case (let cron?, nil):
            let zoneName = timezone ?? "UTC"
            guard let zone = TimeZone(identifier: zoneName) else {
                throw ValidationError(
                    code: "invalid_timezone", field: "timezone", problem: "'\(zoneName)' is not a time zone",
                    fix: "Use an IANA name such as UTC, Europe/Berlin or America/New_York.")
            }
            self = .cron(try CronExpression(cron), zone)
        case (nil, let seconds?):
            guard seconds.isFinite, seconds >= Self.minimumInterval, seconds <= Self.maximumInterval else {
                throw ValidationError(
                    code: "invalid_interval", field: "interval", problem: "\(seconds) s is not a usable interval",
                    fix: "Use from 1 s to 10 years (\(DurationText.describe(Self.maximumInterval))), e.g. 15m, 1h or 1d.")
            }
            if timezone != nil {
                throw ValidationError(
                    code: "timezone_without_cron", field: "timezone", problem: "a time zone only applies to cron schedules",
                    fix: "Leave out the time zone, or give a cron expression instead of an interval.")
            }
            self = .interval(seconds: seconds, anchor: anchor ?? now)
        case (nil, nil):
            throw ValidationError(
                code: "no_timing", field: "cron", problem: "the schedule has neither a cron expression nor an interval",
                fix: "Give one: --cron '0 3 * * *' (with --timezone) or --interval 1h.")
        case (_?, _?):
            throw ValidationError(
                code: "two_timings", field: "interval", problem: "the schedule has both a cron expression and an interval",
                fix: "Give only one of them.")
        }
    }

    /// The first slot strictly after `date`.
    public func next(after date: Date) -> Date? {
        switch self {
        case .cron(let expression, let zone):
            return expression.next(after: date, in: zone)
        case .interval(let seconds, let anchor):
            let elapsed = date.timeIntervalSince(anchor)
            let count = elapsed < 0 ? 0 : (elapsed / seconds).rounded(.down) + 1
            var slot = anchor.addingTimeInterval(count * seconds)
            if slot <= date { slot = slot.addingTimeInterval(seconds) }
            return slot
        }
    }

    /// Slots in `(after, through]`, at most `limit`.
    public func slots(after: Date, through: Date, limit: Int) -> [Date] {
        var result: [Date] = []
        var cursor = after
        while result.count < limit, let slot = next(after: cursor), slot <= through {
            result.append(slot)
            cursor = slot
        }
        return result
    }
}

/// Durations written as `90s`, `15m`, `12h`, `7d`, `2w` or a bare number of seconds.
public enum DurationText {
    /// The seconds `text` stands for, or nil when it is not a duration.
    public static func seconds(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        var number = Substring(text.trimmingCharacters(in: .whitespaces))
        var scale = 1.0
        if let last = number.last, let unit = units[last] {
            scale = unit
            number = number.dropLast()
        }
        guard let value = Double(number), value >= 0, value.isFinite else { return nil }
        return value * scale
    }
}

extension DurationText {
    /// `3600` → `1h`, `90` → `90s`, `5400` → `90m`: the largest unit that divides evenly.
    public static func describe(_ seconds: Double) -> String {
        // Stored or sent values can be anything; only whole numbers well inside Int's range print as such.
        guard seconds.isFinite, abs(seconds) < 1e15 else { return "\(seconds)s" }
        for (unit, size) in [("w", 604_800.0), ("d", 86400), ("h", 3600), ("m", 60)] where seconds >= size {
            if seconds.truncatingRemainder(dividingBy: size) == 0 { return "\(Int(seconds / size))\(unit)" }
        }
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s"
    }
}
