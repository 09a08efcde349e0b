import FathomAPI
import FathomCore
import Foundation

/// The Flows page: every flow with its versions, run config, last run and schedules.
public struct FlowsPage: WebPage {
    public static let template = "flows"
    public var title = "Flows"
    public var navFlows = true
    let flows: [Row]
    let hasFlows: Bool

    struct Row {
        let name, summary, link, launcher: String
        let latestVersion, versionCount: Int
        let manyVersions: Bool
        let cluster, volumes, retries: String?
        let lastRun: LastRun?
        let schedules: [ScheduleItem]
    }

    struct LastRun {
        let state, when, link: String
    }

    public init(flows: [FlowSummary]) {
        self.flows = flows.map { flow in
            let config = RunConfigSummary(flow.latest.runConfig)
            return Row(
                name: flow.name, summary: flow.latest.summary, link: Links.flow(flow.name), launcher: config.launcher,
                latestVersion: flow.latest.version, versionCount: flow.versionCount, manyVersions: flow.versionCount != 1,
                cluster: config.cluster, volumes: config.volumes, retries: flow.latest.retryPolicy.map { $0.text },
                lastRun: flow.lastRun.map { LastRun(state: $0.state.rawValue, when: Formatting.time($0.createdAt), link: Links.run($0.id)) },
                schedules: flow.schedules.map { ScheduleItem($0) })
        }
        hasFlows = !flows.isEmpty
    }
}

/// A schedule as the Flows and Flow pages show it.
struct ScheduleItem {
    let name, timing: String
    let paused: Bool
    let nextSlot, lastError: String?
    let pauseAction, resumeAction, deleteAction: String

    init(_ schedule: Schedule) {
        name = schedule.name
        timing = schedule.timingText
        paused = schedule.paused
        nextSlot = schedule.nextRuns.first.map { Formatting.time($0) }
        lastError = schedule.lastError
        pauseAction = Links.schedule(schedule.name) + "/pause"
        resumeAction = Links.schedule(schedule.name) + "/resume"
        deleteAction = Links.schedule(schedule.name) + "/delete"
    }
}

/// The Flow page: facts, the Run form (typed inputs, defaults, errors by field), schedules and recent runs.
public struct FlowPage: WebPage {
    public static let template = "flow"
    public var title: String
    public var navFlows = true
    public var flash: String?
    let name, summary, launcher, queue, versions, runAction, scheduleAction: String
    let latestVersion: Int
    let cluster, volumes, retries, formError: String?
    let versionOptions: [Option]
    let fields: [ParameterField]
    let schedules: [ScheduleItem]
    let runs: [RunRow]
    let hasRuns: Bool
    /// The last 30 days: sums and charts (nil when they could not be read).
    let usage: UsageSummary?

    struct UsageSummary {
        let days, runs, completed, failed, cancelled: Int
        let cost, workspace: String
        let hasCost: Bool
        let runsPerDay, durations, costPerDay: Chart
    }

    struct Option {
        let value, label: String
        let selected: Bool
    }

    /// - Parameters:
    ///   - entered: what the user typed, to show again after an error.
    ///   - errors: problems by parameter name.
    public init(
        flow: FlowSummary, runs: [FlowRun], entered: [String: String] = [:], errors: [String: String] = [:],
        formError: String? = nil, selectedVersion: Int? = nil, usage: FlowUsage? = nil, now: Date
    ) {
        self.usage = usage.map { usage in
            UsageSummary(
                days: usage.days, runs: usage.runs, completed: usage.completed, failed: usage.failed, cancelled: usage.cancelled,
                cost: "\(UsageText.usd(usage.costUSD)) over \(usage.runsWithCost) Fargate run\(usage.runsWithCost == 1 ? "" : "s")",
                workspace: usage.workspaceBytes.isEmpty ? "none recorded" : UsageText.volumes(usage.workspaceBytes),
                hasCost: usage.runsWithCost > 0, runsPerDay: Charts.dailyOutcomes(usage), durations: Charts.durations(usage, now: now),
                costPerDay: Charts.dailyCost(usage))
        }
        title = "Flow \(flow.name)"
        name = flow.name
        summary = flow.latest.summary
        let config = RunConfigSummary(flow.latest.runConfig)
        launcher = config.launcher
        cluster = config.cluster
        volumes = config.volumes
        queue = flow.latest.queue
        retries = flow.latest.retryPolicy.map { $0.text }
        latestVersion = flow.latest.version
        versions = (flow.versions.isEmpty ? [flow.latest.version] : flow.versions).map { "v\($0)" }.joined(separator: ", ")
        runAction = Links.flow(flow.name) + "/run"
        scheduleAction = Links.flow(flow.name) + "/schedules"
        self.formError = formError
        versionOptions = (flow.versions.isEmpty ? [flow.latest.version] : flow.versions).map { number in
            Option(
                value: String(number), label: number == flow.latest.version ? "v\(number) (latest)" : "v\(number)",
                selected: number == (selectedVersion ?? flow.latest.version))
        }
        fields = flow.latest.parameters.map { ParameterField(spec: $0, entered: entered[$0.name], error: errors[$0.name]) }
        schedules = flow.schedules.map { ScheduleItem($0) }
        self.runs = runs.map { RunRow($0, now: now) }
        hasRuns = !runs.isEmpty
    }
}

/// One input of the Run form, typed by the parameter's type.
struct ParameterField {
    let name, type, value, inputType: String
    let step: String?
    /// The parameter's declared range, as the input's min and max.
    let min, max: String?
    let required, isBool, isJSON, isInput, checked: Bool
    let error: String?

    init(spec: ParameterSpec, entered: String?, error: String?) {
        name = spec.name
        type = spec.type.rawValue
        required = spec.isRequired
        self.error = error
        let shown = entered ?? spec.defaultValue.map(Formatting.value) ?? ""
        value = shown
        isBool = spec.type == .bool
        isJSON = spec.type == .json
        isInput = !isBool && !isJSON
        checked = isBool && (try? ParameterType.bool.parse(shown.isEmpty ? "false" : shown, field: name)) == .bool(true)  // display only: an unparsable default leaves the box unticked
        min = spec.minimum.map { "\($0)" }
        max = spec.maximum.map { "\($0)" }
        switch spec.type {
        // The browser measures steps from the value shown; a rejected value like 1.5 would make every integer a
        // step mismatch, so whole-number steps apply only while the shown value is whole.
        case .int: inputType = "number"; step = Int64(shown) != nil || shown.isEmpty ? "1" : "any"
        case .double: inputType = "number"; step = "any"
        default: inputType = "text"; step = nil
        }
    }
}

/// Turns the Run form's fields into parameters, or the problems by field.
public enum RunForm {
    /// Empty fields are left out, so defaults apply (and a required parameter is reported missing).
    public static func parameters(
        from fields: [String: String], specs: [ParameterSpec]
    ) -> (values: [String: JSONValue], errors: [String: String]) {
        var values: [String: JSONValue] = [:]
        var errors: [String: String] = [:]
        for spec in specs {
            let text = fields[spec.name] ?? ""
            if text.isEmpty {
                if spec.isRequired { errors[spec.name] = "is required: enter a \(spec.type.rawValue)" }
                continue
            }
            do {
                values[spec.name] = try spec.type.parse(text, field: spec.name)
            } catch {
                errors[spec.name] = "\(error.problem). \(error.fix)"
            }
        }
        return (values, errors)
    }
}
