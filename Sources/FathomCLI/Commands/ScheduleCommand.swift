import ArgumentParser
import FathomAPI
import FathomCore
import Foundation

/// `fathom schedule add|list|pause|resume|rm`.
struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Run flows on a cron schedule (with a time zone) or at an interval.",
        subcommands: [Add.self, List.self, Pause.self, Resume.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Schedule a flow.",
            discussion: """
                Examples:
                  fathom schedule add sort-compress --cron '30 2 * * *' --timezone Europe/Berlin --param gib=1
                  fathom schedule add volume-janitor --interval 6h --param olderThan=7d
                """)

        @OptionGroup var client: ClientOptions

        @Argument(help: "The flow to run.")
        var flow: String

        @Option(help: "The schedule's name (default: the flow's name).")
        var name: String?

        @Option(help: "A cron expression: minute hour day-of-month month day-of-week, or @daily, @hourly, …")
        var cron: String?

        @Option(help: "The cron expression's time zone (IANA name, default UTC).")
        var timezone: String?

        @Option(help: "Run every this long instead: 90s, 15m, 1h, 1d.")
        var interval: String?

        @Option(name: .customLong("param"), help: "A parameter of every run (key=value); repeat for more.")
        var parameters: [String] = []

        @Flag(help: "Create it paused.")
        var paused = false

        func run() async throws {
            let api = client.makeClient()
            let summary = try await api.flow(named: flow)
            let values = try ParameterArguments.values(parameters, for: summary)
            let seconds = try interval.map { try DurationArgument.seconds($0, option: "--interval") }
            let schedule = try await api.createSchedule(CreateScheduleRequest(
                flow: flow, name: name, cron: cron, timezone: timezone, intervalSeconds: seconds, parameters: values,
                paused: paused))
            print("schedule \(schedule.name): \(summary.name) \(schedule.timingText)\(schedule.paused ? ", paused" : "")")
            for slot in schedule.nextRuns { print("  next: \(ScheduleText.time(slot, in: schedule.timezone))") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List schedules and their next runs.")

        @OptionGroup var client: ClientOptions

        @Option(help: "Only schedules of this flow.")
        var flow: String?

        func run() async throws {
            let schedules = try await client.makeClient().listSchedules(flow: flow)
            if schedules.isEmpty { print("no schedules; add one with 'fathom schedule add FLOW --cron ... | --interval ...'") }
            for schedule in schedules {
                let state = schedule.paused ? "paused" : schedule.nextRuns.first.map { "next \(ScheduleText.time($0, in: schedule.timezone))" } ?? "no next run"
                print("\(schedule.name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(schedule.flowName.padding(toLength: 20, withPad: " ", startingAt: 0)) \(schedule.timingText)  \(state)")
                if let error = schedule.lastError { print("  error: \(error)") }
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pause", abstract: "Pause a schedule (its upcoming runs are removed until it resumes).")

        @OptionGroup var client: ClientOptions

        @Argument(help: "The schedule's name or id.")
        var schedule: String

        func run() async throws {
            let updated = try await client.makeClient().setSchedulePaused(schedule, paused: true)
            print("schedule \(updated.name) paused")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused schedule.")

        @OptionGroup var client: ClientOptions

        @Argument(help: "The schedule's name or id.")
        var schedule: String

        func run() async throws {
            let updated = try await client.makeClient().setSchedulePaused(schedule, paused: false)
            print("schedule \(updated.name) resumed; next \(updated.nextRuns.first.map { ScheduleText.time($0, in: updated.timezone) } ?? "none")")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Remove a schedule and its upcoming runs (runs it made stay).")

        @OptionGroup var client: ClientOptions

        @Argument(help: "The schedule's name or id.")
        var schedule: String

        func run() async throws {
            let removed = try await client.makeClient().deleteSchedule(schedule)
            print("schedule \(removed.name) removed")
        }
    }
}

/// Times as schedules show them: in the schedule's zone, with its offset.
enum ScheduleText {
    static func time(_ date: Date, in zone: String?) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss xxx"
        return formatter.string(from: date) + (zone.map { " (\($0))" } ?? "")
    }
}

/// `fathom limit set|list|rm`: concurrency limits per flow or per queue.
struct LimitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limit", abstract: "Limit how many runs of a flow or a queue are active at once.",
        subcommands: [Set.self, List.self, Remove.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Set a limit: fathom limit set flow sort-compress 1, fathom limit set queue default 4.")

        @OptionGroup var client: ClientOptions

        @Argument(help: "flow or queue.")
        var scope: String

        @Argument(help: "The flow's or queue's name.")
        var name: String

        @Argument(help: "How many runs may be active (Pending to Cancelling) at once; 0 holds every run.")
        var limit: Int

        func run() async throws {
            let set = try await client.makeClient().setConcurrencyLimit(scope: scope, name: name, limit: limit)
            print("\(set.scope) \(set.name): at most \(set.limit) active (now \(set.active))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List concurrency limits.")

        @OptionGroup var client: ClientOptions

        func run() async throws {
            let limits = try await client.makeClient().listConcurrencyLimits()
            if limits.isEmpty { print("no concurrency limits") }
            for limit in limits { print("\(limit.scope.padding(toLength: 6, withPad: " ", startingAt: 0)) \(limit.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(limit.active)/\(limit.limit) active") }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a concurrency limit.")

        @OptionGroup var client: ClientOptions

        @Argument(help: "flow or queue.")
        var scope: String

        @Argument(help: "The flow's or queue's name.")
        var name: String

        func run() async throws {
            _ = try await client.makeClient().deleteConcurrencyLimit(scope: scope, name: name)
            print("\(scope) \(name): no limit")
        }
    }
}
