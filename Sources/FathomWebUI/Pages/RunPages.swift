import FathomAPI
import FathomCore
import Foundation

/// A run as the run tables show it.
struct RunRow {
    let id, shortID, link, flow, state, created, due, duration, message: String
    let version: Int
    let late: Bool
    /// Finished: it can be selected for a retry.
    let isFinal: Bool
    let attemptText: String?

    init(_ run: FlowRun, now: Date) {
        id = run.id
        shortID = Formatting.shortID(run.id)
        link = Links.run(run.id)
        flow = run.flowName
        version = run.flowVersion
        state = run.state.rawValue
        late = run.late
        isFinal = run.state.isFinal
        created = Formatting.time(run.createdAt)
        due = Formatting.time(run.scheduledFor)
        duration = Formatting.duration(from: run.startedAt, to: run.endedAt, now: now)
        message = String(run.stateMessage.prefix(300))
        attemptText = run.attempt > 1 ? "attempt \(run.attempt)" : nil
    }
}

/// The Runs page: filters by flow, state and creation time; paged.
public struct RunsPage: WebPage {
    public static let template = "runs"
    public var title = "Runs"
    public var navRuns = true
    /// What a bulk retry did.
    public var flash: String?
    /// Rows have a checkbox for the bulk retry.
    let selectable = true
    let runs: [RunRow]
    let hasRuns: Bool
    let flowOptions, stateOptions: [Choice]
    let sinceOptions: [LabeledChoice]
    let upcoming: Bool
    let pageText: String
    let newerLink, olderLink: String?
    /// Runs made per hour over the last day (of the chosen flow, when one is).
    let activity: Chart

    struct Choice {
        let value: String
        let selected: Bool
    }

    struct LabeledChoice {
        let value, label: String
        let selected: Bool
    }

    /// The filter as the query string gives it.
    public struct Filter: Sendable {
        public var flow: String?
        public var state: FlowRunState?
        /// `1h`, `24h`, `7d`, `30d` or nil for all time.
        public var since: String?
        public var upcoming = false
        public var offset = 0
        public static let pageSize = 25
        public static let sinceChoices = [("", "any time"), ("1h", "last hour"), ("24h", "last 24 hours"), ("7d", "last 7 days"), ("30d", "last 30 days")]

        public init(flow: String?, state: FlowRunState?, since: String?, upcoming: Bool, offset: Int) {
            self.flow = flow
            self.state = state
            self.since = since
            self.upcoming = upcoming
            self.offset = offset
        }

        /// The start of the `since` window.
        public func createdAfter(now: Date) -> Date? {
            since.flatMap(DurationText.seconds).map { now.addingTimeInterval(-$0) }
        }

        func query(offset: Int) -> String {
            var items: [URLQueryItem] = []
            if let flow { items.append(URLQueryItem(name: "flow", value: flow)) }
            if let state { items.append(URLQueryItem(name: "state", value: state.rawValue)) }
            if let since { items.append(URLQueryItem(name: "since", value: since)) }
            if upcoming { items.append(URLQueryItem(name: "upcoming", value: "1")) }
            if offset > 0 { items.append(URLQueryItem(name: "offset", value: String(offset))) }
            var components = URLComponents()
            components.queryItems = items
            return "/runs" + (items.isEmpty ? "" : "?" + (components.percentEncodedQuery ?? ""))
        }
    }

    public init(list: FlowRunList, flows: [String], filter: Filter, now: Date, lastDay: [RunPoint] = []) {
        activity = Charts.activity(runs: lastDay, now: now)
        runs = list.runs.map { RunRow($0, now: now) }
        hasRuns = !list.runs.isEmpty
        flowOptions = flows.map { Choice(value: $0, selected: $0 == filter.flow) }
        stateOptions = FlowRunState.allCases.map { Choice(value: $0.rawValue, selected: $0 == filter.state) }
        sinceOptions = Filter.sinceChoices.map { LabeledChoice(value: $0.0, label: $0.1, selected: $0.0 == (filter.since ?? "")) }
        upcoming = filter.upcoming
        let first = list.runs.isEmpty ? 0 : filter.offset + 1
        pageText = "\(first)–\(filter.offset + list.runs.count) of \(list.total)"
        newerLink = filter.offset > 0 ? filter.query(offset: max(0, filter.offset - Filter.pageSize)) : nil
        olderLink = filter.offset + list.runs.count < list.total ? filter.query(offset: filter.offset + Filter.pageSize) : nil
    }
}

/// The Run page: state, timeline, task runs, infrastructure, attempts, logs that follow live, cancel and retry.
public struct RunPage: WebPage {
    public static let template = "run"
    public var title: String
    public var navRuns = true
    public var flash: String?
    let id, flow, flowLink, state, cancelAction, retryAction, resumeAction, eventsURL: String
    let version: Int
    let late, canCancel, canRetry, isFinal, hasTasks, hasAttempts: Bool
    let stateMessage, attemptText, firstAttemptLink, resumedLink, duration, due: String?
    let lastSeq: Int64
    /// Set when earlier lines are not shown: how many, and the link that shows them all.
    let earlierLines: Int64?
    let allLinesLink: String
    let parameters: [Fact]
    let timeline: [TimelineEntry]
    let tasks: [TaskRow]
    let infrastructure: [Fact]
    let attempts: [AttemptRow]
    let logs: [LogRow]
    /// The task runs as a timeline (nil with no task runs).
    let gantt: Chart?
    /// `$0.3253 (estimated)` and how; the workspace's bytes per volume.
    let cost, costBasis, workspace: String?
    let tags: [String]

    struct Fact {
        let name, value: String
        let link: String?
    }

    struct TimelineEntry {
        let state, at: String
        let message: String?
    }

    struct TaskRow {
        let name, state, started, duration: String
        let attempt: Int
        let message: String
        /// The stored result, cut to 200 characters; empty when none was stored.
        let result: String
        /// For a Cached task run: the run whose task produced the result.
        let cachedFromLink: String?
    }

    struct AttemptRow {
        let attempt: Int
        let state, link: String
    }

    /// One log line: `level` picks its colour, `line` is what shows.
    public struct LogRow: Sendable {
        public let level, line: String

        public init(_ line: LogLine) {
            level = line.level.rawValue
            let task = line.taskRunID.map { " [\(Formatting.shortID($0))]" } ?? ""
            let late = line.late == true ? " (after the end)" : ""
            self.line = "\(Formatting.time(line.timestamp)) \(line.level.rawValue.uppercased()) \(line.source)\(task)\(late): \(line.message)"
        }
    }

    /// A task's result as its row shows it: the JSON cut to 200 characters, or where a large one is stored.
    static func resultText(_ taskRun: TaskRunUpdate) -> String {
        if let reference = taskRun.resultRef {
            return "stored at \(reference.url) (\(reference.size) bytes, sha256 \(reference.sha256.prefix(12))…)"
        }
        return taskRun.result.map { String(Formatting.value($0).prefix(200)) } ?? ""
    }

    /// How many log lines the page shows at first (the newest); the rest are a link away.
    public static let shownLines = 1000

    public init(run: FlowRun, tasks: [TaskRunUpdate], logs: [LogLine], attempts: [FlowRun], flash: String? = nil, now: Date) {
        title = "Run \(Formatting.shortID(run.id)) of \(run.flowName)"
        id = run.id
        flow = run.flowName
        flowLink = Links.flow(run.flowName)
        version = run.flowVersion
        state = run.state.rawValue
        late = run.late
        isFinal = run.state.isFinal
        canCancel = !run.state.isFinal && run.state != .cancelling
        canRetry = run.state.isFinal && run.state != .completed
        cancelAction = Links.run(run.id) + "/cancel"
        retryAction = Links.run(run.id) + "/retry"
        resumeAction = Links.run(run.id) + "/resume"
        eventsURL = Links.run(run.id) + "/events"
        stateMessage = run.stateMessage.isEmpty ? nil : run.stateMessage
        attemptText = run.attempt > 1 || attempts.count > 1 ? "attempt \(run.attempt)" : nil
        duration = run.startedAt == nil ? nil : Formatting.duration(from: run.startedAt, to: run.endedAt, now: now)
        due = run.state == .scheduled ? run.scheduledFor.map(Formatting.time) : nil
        firstAttemptLink = run.retryOf.map(Links.run)
        resumedLink = run.resumeOf.map(Links.run)
        self.flash = flash
        parameters = run.parameters.keys.sorted().map { Fact(name: $0, value: Formatting.value(run.parameters[$0]!), link: nil) }
        timeline = (run.history ?? []).map {
            TimelineEntry(state: $0.state.rawValue, at: Formatting.time($0.at), message: $0.message.isEmpty ? nil : $0.message)
        }
        self.tasks = tasks.map {
            TaskRow(
                name: $0.name, state: $0.state.rawValue, started: Formatting.time($0.startedAt),
                duration: Formatting.duration(from: $0.startedAt, to: $0.endedAt, now: now), attempt: $0.attempt,
                message: $0.message ?? "", result: Self.resultText($0),
                cachedFromLink: $0.cachedFrom.map(Links.run))
        }
        hasTasks = !tasks.isEmpty
        self.tags = run.tags
        gantt = tasks.isEmpty ? nil : Charts.gantt(tasks: tasks, runStart: run.startedAt, now: now)
        cost = run.estimatedCostUSD.map { "\(UsageText.usd($0)) (estimated)" }
        costBasis = run.costBasis
        workspace = run.workspaceBytes.isEmpty ? nil : UsageText.volumes(run.workspaceBytes)
        // The ECS task ARN links to the task in the console, as the console fact does.
        let console = run.infrastructure[.console].flatMap { Links.isConsoleLink($0) ? $0 : nil }
        infrastructure = run.infrastructure.keys.sorted().map { key in
            let value = run.infrastructure[key]!
            return Fact(name: key, value: value, link: key == "taskArn" ? console : (Links.isConsoleLink(value) ? value : nil))
        }
        self.attempts = attempts.sorted { $0.attempt < $1.attempt }.map {
            AttemptRow(attempt: $0.attempt, state: $0.state.rawValue, link: Links.run($0.id))
        }
        hasAttempts = attempts.count > 1
        self.logs = logs.map(LogRow.init)
        lastSeq = logs.last?.seq ?? 0
        let first = logs.first?.seq ?? 1
        earlierLines = first > 1 ? first - 1 : nil
        allLinesLink = Links.run(run.id) + "/log.txt"
    }
}
