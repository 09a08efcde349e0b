/// Conversions that never trap, and range checks for numbers that come from requests, files or
/// the database. `Int(x)` of a Double traps on NaN, infinity and values past Int's range, and
/// `Duration` arithmetic traps on overflow; every number from outside goes through these instead.
extension Int {
    /// `value` rounded toward zero and clamped to Int's range; NaN becomes 0.
    public init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 9.2e18 {
            self = .max
        } else if value <= -9.2e18 {
            self = .min
        } else {
            self = Int(value)
        }
    }
}

extension Duration {
    /// The longest duration Fathom computes with: 100 years, far from Duration's overflow.
    public static let longest: Duration = .seconds(100 * 365 * 86_400)

    /// `seconds` as a Duration, clamped to ±``longest``; NaN becomes zero.
    public static func seconds(saturating seconds: Double) -> Duration {
        guard !seconds.isNaN else { return .zero }
        let bound = longest.inSeconds
        let clamped = Swift.min(Swift.max(seconds, -bound), bound)
        return .milliseconds(Int64(clamped * 1000))
    }
}

/// Checks for numbers a user sent: finite, inside a stated range. The error names the field,
/// the value and the allowed range.
public enum NumberCheck {
    /// `value` seconds as a Duration, if it lies in `range`.
    public static func seconds(_ value: Double, field: String, in range: ClosedRange<Double>) throws(ValidationError) -> Duration {
        guard value.isFinite, range.contains(value) else {
            throw ValidationError(
                code: "out_of_range", field: field, problem: "\(value) s is outside the allowed range",
                fix: "Use a number of seconds from \(DurationText.describe(range.lowerBound)) to \(DurationText.describe(range.upperBound)).")
        }
        return .seconds(saturating: value)
    }

    /// `value`, if it lies in `range`.
    public static func count(_ value: Int, field: String, in range: ClosedRange<Int>) throws(ValidationError) -> Int {
        guard range.contains(value) else {
            throw ValidationError(
                code: "out_of_range", field: field, problem: "\(value) is outside the allowed range",
                fix: "Use a whole number from \(range.lowerBound) to \(range.upperBound).")
        }
        return value
    }
}
