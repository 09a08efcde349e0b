import FathomAPI
import FathomCore
import Foundation

extension Coordinator {
    /// The most days a usage summary may cover.
    public static let maxUsageDays = 366

    /// Runs made in the last `hours` hours (of `flow` when given), newest first: what the runs page's strip draws.
    public func recentRunPoints(flow: String?, hours: Int) async throws -> [RunPoint] {
        try await store.runDigests(flowName: flow, since: clock().addingTimeInterval(-Double(hours) * 3_600), limit: FlowUsage.maxRuns).map(\.point)
    }

    /// `flow`'s runs created in the last `days` days: counts, estimated cost and workspace bytes, per UTC day.
    public func flowUsage(_ flow: String, days: Int) async throws -> FlowUsage {
        guard (1...Self.maxUsageDays).contains(days) else {
            throw CoordinatorError(
                .malformed, code: "invalid_days", message: "days=\(days) is outside 1-\(Self.maxUsageDays)", field: "days",
                fix: "Ask for 1 to \(Self.maxUsageDays) days, e.g. days=30.")
        }
        _ = try await self.flow(named: flow)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let today = calendar.startOfDay(for: clock())
        let since = calendar.date(byAdding: .day, value: -(days - 1), to: today) ?? today
        var runs = try await store.runDigests(flowName: flow, since: since, limit: FlowUsage.maxRuns + 1)
        let truncated = runs.count > FlowUsage.maxRuns
        if truncated { runs.removeLast(runs.count - FlowUsage.maxRuns) }

        let formatter = DateFormatter()
        formatter.calendar = calendar
        formatter.timeZone = calendar.timeZone
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd"
        var perDay: [String: DayUsage] = [:]
        var dayNames: [String] = []
        for offset in 0..<days {
            let name = formatter.string(from: calendar.date(byAdding: .day, value: offset, to: since) ?? since)
            dayNames.append(name)
            perDay[name] = DayUsage(day: name, runs: 0, completed: 0, failed: 0, costUSD: 0)
        }
        var usage = FlowUsage(
            flow: flow, days: days, since: since, runs: runs.count, completed: 0, failed: 0, cancelled: 0, costUSD: 0, runsWithCost: 0,
            workspaceBytes: [:], perDay: [], points: [], truncated: truncated)
        for run in runs {
            let day = formatter.string(from: run.createdAt)
            perDay[day]?.runs += 1
            switch run.state {
            case .completed:
                usage.completed += 1
                perDay[day]?.completed += 1
            case .failed, .crashed:
                usage.failed += 1
                perDay[day]?.failed += 1
            case .cancelled: usage.cancelled += 1
            default: break
            }
            if let cost = run.costUSD {
                usage.costUSD += cost
                usage.runsWithCost += 1
                perDay[day]?.costUSD += cost
            }
            for (volume, bytes) in run.workspaceBytes {
                usage.workspaceBytes[volume, default: 0] = usage.workspaceBytes[volume, default: 0].addingReportingOverflow(bytes).partialValue
            }
        }
        usage.perDay = dayNames.compactMap { perDay[$0] }
        usage.points = runs.prefix(FlowUsage.maxPoints).reversed().map(\.point)
        return usage
    }
}
