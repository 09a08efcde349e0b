import FathomCore
import Foundation
import Testing

/// Cron expressions against the calendar: time zones, daylight saving changes, month ends.
struct CronTests {
    let berlin = TimeZone(identifier: "Europe/Berlin")!
    let newYork = TimeZone(identifier: "America/New_York")!
    let utc = TimeZone(identifier: "UTC")!

    func slots(_ expression: String, in zone: TimeZone, after start: String, count: Int) throws -> [Date] {
        let cron = try CronExpression(expression)
        var result: [Date] = []
        var cursor = date(start)
        for _ in 0..<count {
            guard let next = cron.next(after: cursor, in: zone) else { break }
            result.append(next)
            cursor = next
        }
        return result
    }

    @Test func fieldsStepsRangesListsAndNames() throws {
        #expect(try slots("*/15 * * * *", in: utc, after: "2026-11-29T10:07:00Z", count: 3)
            == [date("2026-11-29T10:15:00Z"), date("2026-11-29T10:30:00Z"), date("2026-11-29T10:45:00Z")])
        #expect(try slots("0 9 * * MON-FRI", in: utc, after: "2026-11-27T10:00:00Z", count: 2)  // a Friday
            == [date("2026-11-30T09:00:00Z"), date("2026-12-01T09:00:00Z")])
        #expect(try slots("5,10 0 1 JAN,jul *", in: utc, after: "2026-01-01T00:06:00Z", count: 3)
            == [date("2026-01-01T00:10:00Z"), date("2026-07-01T00:05:00Z"), date("2026-07-01T00:10:00Z")])
        #expect(try slots("0 0 * * 7", in: utc, after: "2026-11-29T00:00:00Z", count: 1) == [date("2026-12-06T00:00:00Z")], "7 is Sunday")
        #expect(try slots("@daily", in: utc, after: "2026-11-29T10:00:00Z", count: 1) == [date("2026-11-30T00:00:00Z")])
        // Both day fields restricted: the 13th, or any Friday.
        #expect(try slots("0 0 13 * FRI", in: utc, after: "2026-11-01T00:00:00Z", count: 3)
            == [date("2026-11-06T00:00:00Z"), date("2026-11-13T00:00:00Z"), date("2026-11-20T00:00:00Z")])
    }

    @Test func badExpressionsNameThePartAndTheFix() {
        func problem(_ text: String) -> String {
            do {
                _ = try CronExpression(text, field: "cron")
                return "accepted"
            } catch {
                #expect(error.field == "cron" && error.code == "invalid_cron" && !error.fix.isEmpty)
                return error.problem
            }
        }
        #expect(problem("61 * * * *").contains("minute field '61': 61 is outside 0-59"))
        #expect(problem("* * *").contains("has 3 fields, not 5"))
        #expect(problem("0 0 * FOO *").contains("month field 'FOO'"))
        #expect(problem("0 0 10-2 * *").contains("runs backwards"))
        #expect(problem("*/0 * * * *").contains("step '0'"))
        #expect(problem("0 24 * * *").contains("hour field"))
    }

    @Test func monthEndsAndLeapDays() throws {
        // The 31st skips the months without one.
        #expect(try slots("0 0 31 * *", in: utc, after: "2026-01-31T00:00:01Z", count: 3)
            == [date("2026-03-31T00:00:00Z"), date("2026-05-31T00:00:00Z"), date("2026-07-31T00:00:00Z")])
        // The 30th skips February; February 29th waits for a leap year.
        #expect(try slots("0 12 30 * *", in: utc, after: "2027-01-30T12:00:00Z", count: 1) == [date("2027-03-30T12:00:00Z")])
        #expect(try slots("0 0 29 2 *", in: utc, after: "2026-03-01T00:00:00Z", count: 2)
            == [date("2028-02-29T00:00:00Z"), date("2032-02-29T00:00:00Z")])
        // Month ends in a zone ahead of UTC: midnight of the 1st in Berlin is 23:00 UTC on the last day.
        #expect(try slots("0 0 1 * *", in: berlin, after: "2026-11-15T00:00:00Z", count: 2)
            == [date("2026-11-30T23:00:00Z"), date("2026-12-31T23:00:00Z")])
    }

    @Test func springForwardRunsAMissingTimeOnceTheClocksHaveMoved() throws {
        // Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
        #expect(try slots("30 2 * * *", in: berlin, after: "2026-03-28T12:00:00Z", count: 3)
            == [date("2026-03-29T01:30:00Z"), date("2026-03-30T00:30:00Z"), date("2026-03-31T00:30:00Z")])
        // Hourly: 01:00 CET, then 03:00 CEST; the hour that does not exist is not invented twice.
        #expect(try slots("0 * * * *", in: berlin, after: "2026-03-28T23:30:00Z", count: 3)
            == [date("2026-03-29T00:00:00Z"), date("2026-03-29T01:00:00Z"), date("2026-03-29T02:00:00Z")])
        // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 02:15 runs at 03:15 EDT (07:15 UTC).
        #expect(try slots("15 2 * * *", in: newYork, after: "2026-03-07T12:00:00Z", count: 3)
            == [date("2026-03-08T07:15:00Z"), date("2026-03-09T06:15:00Z"), date("2026-03-10T06:15:00Z")])
    }

    @Test func fallBackRunsARepeatedTimeOnce() throws {
        // Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice, the job runs at the first.
        #expect(try slots("30 2 * * *", in: berlin, after: "2026-10-24T12:00:00Z", count: 3)
            == [date("2026-10-25T00:30:00Z"), date("2026-10-26T01:30:00Z"), date("2026-10-27T01:30:00Z")])
        // New York, 2026-11-01: 01:30 EDT, then (not 01:30 EST again) the next day's 01:30 EST.
        #expect(try slots("30 1 * * *", in: newYork, after: "2026-10-31T12:00:00Z", count: 2)
            == [date("2026-11-01T05:30:00Z"), date("2026-11-02T06:30:00Z")])
    }

    @Test func intervalsFallOnTheAnchorGrid() throws {
        let timing = try ScheduleTiming(cron: nil, timezone: nil, intervalSeconds: 600, anchor: date("2026-11-29T10:03:00Z"), now: Date())
        #expect(timing.slots(after: date("2026-11-29T10:20:00Z"), through: date("2026-11-29T11:00:00Z"), limit: 10)
            == [date("2026-11-29T10:23:00Z"), date("2026-11-29T10:33:00Z"), date("2026-11-29T10:43:00Z"), date("2026-11-29T10:53:00Z")])
        #expect(timing.next(after: date("2026-11-29T10:23:00Z")) == date("2026-11-29T10:33:00Z"), "strictly after a slot")
        #expect(timing.next(after: date("2026-11-29T09:00:00Z")) == date("2026-11-29T10:03:00Z"), "before the anchor: the anchor")
        #expect(throws: ValidationError.self) {
            try ScheduleTiming(cron: "0 * * * *", timezone: nil, intervalSeconds: 60, anchor: nil, now: Date())
        }
        #expect(throws: ValidationError.self) {
            try ScheduleTiming(cron: "0 * * * *", timezone: "Mars/Olympus", intervalSeconds: nil, anchor: nil, now: Date())
        }
    }
}
