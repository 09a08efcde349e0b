import Foundation

/// A five-field cron expression (`minute hour day-of-month month day-of-week`), evaluated in a time zone.
///
/// Fields take `*`, numbers, ranges (`1-5`), lists (`1,15`), steps (`*/15`, `10-50/10`) and the names
/// `JAN`–`DEC` and `SUN`–`SAT`; `7` is Sunday too. `@hourly`, `@daily` (`@midnight`), `@weekly`,
/// `@monthly` and `@yearly` (`@annually`) are shorthands. As in Vixie cron, when both day fields are
/// restricted a day matches if either does.
///
/// Daylight saving time follows what cron users expect: a wall time that does not exist on the day the
/// clocks go forward runs when the clocks have moved (02:30 becomes 03:30), and a wall time that occurs
/// twice when they go back runs once, at its first occurrence.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    /// The text as written.
    public let text: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    static let shorthands = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    /// Parses `text`; errors name `field` and the part that is wrong.
    public init(_ text: String, field: String = "cron") throws(ValidationError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expanded = Self.shorthands[trimmed.lowercased()] ?? trimmed
        let parts = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard parts.count == 5 else {
            throw ValidationError(
                code: "invalid_cron", field: field,
                problem: "'\(text)' has \(parts.count) field\(parts.count == 1 ? "" : "s"), not 5",
                fix: "Write minute hour day-of-month month day-of-week, e.g. '30 2 * * *' for 02:30 every day, or @daily.")
        }
        self.text = trimmed
        minutes = try Self.parse(parts[0], name: "minute", range: 0...59, names: [], field: field)
        hours = try Self.parse(parts[1], name: "hour", range: 0...23, names: [], field: field)
        daysOfMonth = try Self.parse(parts[2], name: "day-of-month", range: 1...31, names: [], field: field)
        months = try Self.parse(parts[3], name: "month", range: 1...12, names: Self.monthNames, field: field)
        // 7 is Sunday as well as 0.
        daysOfWeek = Set(try Self.parse(parts[4], name: "day-of-week", range: 0...7, names: Self.dayNames, field: field).map { $0 % 7 })
        dayOfMonthRestricted = !parts[2].hasPrefix("*")
        dayOfWeekRestricted = !parts[4].hasPrefix("*")
    }

    public var description: String { text }

    private static func parse(
        _ text: String, name: String, range: ClosedRange<Int>, names: [String], field: String
    ) throws(ValidationError) -> Set<Int> {
        func fail(_ problem: String) -> ValidationError {
            ValidationError(
                code: "invalid_cron", field: field, problem: "\(name) field '\(text)': \(problem)",
                fix: "Use numbers \(range.lowerBound)-\(range.upperBound)\(names.isEmpty ? "" : " or names like \(names[0])"), '*', ranges a-b, lists a,b and steps */n.")
        }
        func value(_ token: Substring) throws(ValidationError) -> Int {
            if let number = Int(token) {
                guard range.contains(number) else { throw fail("\(number) is outside \(range.lowerBound)-\(range.upperBound)") }
                return number
            }
            if let index = names.firstIndex(of: token.uppercased()) { return index + (range.lowerBound == 1 ? 1 : 0) }
            throw fail("'\(token)' is not a number\(names.isEmpty ? "" : " or a name")")
        }
        var result = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = item.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, !pieces[0].isEmpty else { throw fail("'\(item)' is not a value, range or step") }
            var step = 1
            if pieces.count == 2 {
                guard let given = Int(pieces[1]), given > 0 else { throw fail("step '\(pieces[1])' is not a positive number") }
                step = given
            }
            let bounds: ClosedRange<Int>
            if pieces[0] == "*" {
                bounds = range
            } else if let dash = pieces[0].firstIndex(of: "-") {
                let low = try value(pieces[0][..<dash]), high = try value(pieces[0][pieces[0].index(after: dash)...])
                guard low <= high else { throw fail("range \(low)-\(high) runs backwards") }
                bounds = low...high
            } else {
                let single = try value(pieces[0])
                bounds = single...(pieces.count == 2 ? range.upperBound : single)
            }
            result.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return result
    }

    /// Whether the calendar day matches (month, and day-of-month / day-of-week with cron's either-or rule).
    func matchesDay(month: Int, day: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        let domMatch = daysOfMonth.contains(day), dowMatch = daysOfWeek.contains(weekday)
        if dayOfMonthRestricted && dayOfWeekRestricted { return domMatch || dowMatch }
        return domMatch && dowMatch
    }

    /// The first fire time strictly after `date`, in `timeZone`; nil if none within ten years.
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let sortedHours = hours.sorted(), sortedMinutes = minutes.sorted()
        // Walk local calendar days, starting the day before (a gap shift can move a time into the next day).
        let localNow = date.addingTimeInterval(Double(timeZone.secondsFromGMT(for: date)))
        var day = calendar.startOfDay(for: localNow).addingTimeInterval(-86_400)
        for _ in 0..<(366 * 10 + 3) {
            defer { day = calendar.date(byAdding: .day, value: 1, to: day)! }
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            guard matchesDay(month: parts.month!, day: parts.day!, weekday: parts.weekday! - 1) else { continue }
            var best: Date?
            for hour in sortedHours {
                for minute in sortedMinutes {
                    let wall = day.timeIntervalSince1970 + Double(hour * 3600 + minute * 60)
                    let instant = Self.instant(forWallTime: wall, in: timeZone)
                    if instant > date, best.map({ instant < $0 }) ?? true { best = instant }
                }
            }
            if let best { return best }
        }
        return nil
    }

    /// The instant at which clocks in `timeZone` show `wall` (seconds since 1970 as if UTC):
    /// the first one when the wall time occurs twice, the time after the jump when it does not occur.
    static func instant(forWallTime wall: Double, in timeZone: TimeZone) -> Date {
        let before = Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: wall - 86_400)))
        let after = Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: wall + 86_400)))
        let valid = Set([before, after]).compactMap { offset -> Date? in
            let candidate = Date(timeIntervalSince1970: wall - offset)
            return Double(timeZone.secondsFromGMT(for: candidate)) == offset ? candidate : nil
        }
        if let first = valid.min() { return first }
        // In the gap the clocks skipped: the offset from before the jump lands just as far after it.
        return Date(timeIntervalSince1970: wall - before)
    }
}
