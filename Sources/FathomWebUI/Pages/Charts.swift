import FathomAPI
import FathomCore
import Foundation

/// A chart as the `chart` template draws it in SVG. Geometry is computed here as plain numbers; every text (task
/// names, flow names, titles) reaches the page through the template, which escapes it.
struct Chart {
    /// The id of the `<svg>` (tests and screenshots find it by it).
    let id: String
    let width, height: Int
    /// What the chart shows, for screen readers (`aria-label`).
    let summary: String
    let bars: [Bar]
    let dots: [Dot]
    let lines: [Line]
    let labels: [Label]
    /// Nothing to draw: the template says so instead.
    let isEmpty: Bool

    /// A rectangle: a task run, a day's runs of one outcome, an hour's activity.
    struct Bar {
        let x, y, width, height: String
        /// The CSS class: a state (`Completed`, `Failed`, …) or `cost`.
        let kind: String
        /// The tooltip.
        let title: String
        let link: String?
    }

    /// A point: one run's duration.
    struct Dot {
        let cx, cy: String
        let kind, title: String
        let link: String?
    }

    struct Line {
        let x1, y1, x2, y2: String
    }

    struct Label {
        let x, y, text: String
        /// `start`, `middle` or `end`.
        let anchor: String
    }

    /// A number as an SVG attribute: finite, one decimal place, never NaN or exponent notation.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        return String(format: "%.1f", min(1e6, max(-1e6, value)))
    }

    /// An outcome's CSS class for bars and dots: the final states by name, everything else `Other`.
    static func kind(of state: FlowRunState) -> String {
        switch state {
        case .completed: "Completed"
        case .failed, .crashed: "Failed"
        case .cancelled, .cancelling: "Cancelled"
        case .running, .pending: "Running"
        default: "Other"
        }
    }

    /// A task run's CSS class.
    static func kind(of state: TaskRunState) -> String {
        switch state {
        case .completed: "Completed"
        case .failed: "Failed"
        case .cancelled: "Cancelled"
        case .cached: "Cached"
        case .retrying: "Retrying"
        case .pending, .running: "Running"
        }
    }

    /// `2.5 s`, `4 min`, `1.2 h`: an axis label.
    static func durationLabel(_ seconds: Double) -> String {
        if seconds < 120 { return "\(number(seconds).replacingOccurrences(of: ".0", with: "")) s" }
        if seconds < 7_200 { return "\(Int(saturating: (seconds / 60).rounded())) min" }
        return "\(number(seconds / 3_600)) h"
    }
}

/// The pictures of the run, flow and runs pages.
enum Charts {
    static let labelWidth = 170.0, plotWidth = 560.0, rowHeight = 18.0

    /// The run page's timeline: a bar per task run from its start to its end (or now), coloured by state, retries
    /// and Cached results marked; at most `maxRows` rows.
    static func gantt(tasks: [TaskRunUpdate], runStart: Date?, now: Date, maxRows: Int = 200) -> Chart {
        let shown = Array(tasks.filter { $0.startedAt != nil || $0.state == .cached }.prefix(maxRows))
        let starts = shown.compactMap(\.startedAt)
        let origin = [runStart, starts.min()].compactMap { $0 }.min() ?? now
        let end = max(shown.map { $0.endedAt ?? now }.max() ?? now, origin.addingTimeInterval(1))
        let span = max(0.001, end.timeIntervalSince(origin))
        let scale = plotWidth / span
        var bars: [Chart.Bar] = [], labels: [Chart.Label] = []
        for (row, task) in shown.enumerated() {
            let y = 24 + Double(row) * rowHeight
            let started = task.startedAt ?? origin
            let x = labelWidth + started.timeIntervalSince(origin) * scale
            let seconds = (task.endedAt ?? now).timeIntervalSince(started)
            let width = max(2, seconds * scale)
            let retry = task.attempt > 1 ? " (attempt \(task.attempt))" : ""
            let kind = Chart.kind(of: task.state)
            let title = "\(task.name): \(task.state.rawValue)\(retry), started +\(Chart.durationLabel(max(0, started.timeIntervalSince(origin)))), took \(Chart.durationLabel(max(0, seconds)))"
            bars.append(Chart.Bar(
                x: Chart.number(x), y: Chart.number(y), width: Chart.number(width), height: Chart.number(rowHeight - 5), kind: kind,
                title: title, link: nil))
            labels.append(Chart.Label(x: Chart.number(labelWidth - 6), y: Chart.number(y + 10), text: String(task.name.prefix(26)) + (task.attempt > 1 ? " ×\(task.attempt)" : ""), anchor: "end"))
        }
        labels.append(Chart.Label(x: Chart.number(labelWidth), y: "14", text: "0 s", anchor: "start"))
        labels.append(Chart.Label(x: Chart.number(labelWidth + plotWidth), y: "14", text: Chart.durationLabel(span), anchor: "end"))
        let height = Int(30 + Double(shown.count) * rowHeight)
        let more = tasks.count > shown.count ? " (the first \(shown.count) of \(tasks.count))" : ""
        return Chart(
            id: "gantt", width: Int(labelWidth + plotWidth + 10), height: height,
            summary: "Timeline of \(shown.count) task runs over \(Chart.durationLabel(span))\(more)", bars: bars, dots: [],
            lines: [Chart.Line(x1: Chart.number(labelWidth), y1: "18", x2: Chart.number(labelWidth), y2: Chart.number(Double(height)))],
            labels: labels, isEmpty: shown.isEmpty)
    }

    /// Runs per day, stacked by outcome (completed at the bottom, then failed, then the rest).
    static func dailyOutcomes(_ usage: FlowUsage) -> Chart {
        let highest = Double(max(1, usage.perDay.map(\.runs).max() ?? 1))
        return daily(usage, id: "runs-per-day", top: highest, topLabel: "\(Int(highest)) runs", summary: "Runs per day over \(usage.days) days") { day in
            let other = day.runs - day.completed - day.failed
            return [("Completed", Double(day.completed), "\(day.completed) completed"), ("Failed", Double(day.failed), "\(day.failed) failed or crashed"),
                    ("Other", Double(max(0, other)), "\(max(0, other)) other")]
        }
    }

    /// Estimated cost per day.
    static func dailyCost(_ usage: FlowUsage) -> Chart {
        let highest = max(0.0001, usage.perDay.map(\.costUSD).max() ?? 0)
        return daily(usage, id: "cost-per-day", top: highest, topLabel: UsageText.usd(highest), summary: "Estimated cost per day over \(usage.days) days") { day in
            [("cost", day.costUSD, "\(UsageText.usd(day.costUSD)) estimated")]
        }
    }

    private static func daily(
        _ usage: FlowUsage, id: String, top: Double, topLabel: String, summary: String,
        parts: (DayUsage) -> [(kind: String, value: Double, title: String)]
    ) -> Chart {
        let height = 120.0, left = 60.0, plot = plotWidth + labelWidth - left
        let slot = plot / Double(max(1, usage.perDay.count))
        var bars: [Chart.Bar] = []
        for (index, day) in usage.perDay.enumerated() {
            var base = height - 20
            for part in parts(day) where part.value > 0 {
                let barHeight = max(1, part.value / top * (height - 36))
                base -= barHeight
                bars.append(Chart.Bar(
                    x: Chart.number(left + Double(index) * slot + 1), y: Chart.number(base), width: Chart.number(max(1, slot - 2)),
                    height: Chart.number(barHeight), kind: part.kind, title: "\(day.day): \(part.title)", link: nil))
            }
        }
        let labels = [
            Chart.Label(x: Chart.number(left - 6), y: "20", text: topLabel, anchor: "end"),
            Chart.Label(x: Chart.number(left - 6), y: Chart.number(height - 20), text: "0", anchor: "end"),
            Chart.Label(x: Chart.number(left), y: Chart.number(height - 4), text: usage.perDay.first?.day ?? "", anchor: "start"),
            Chart.Label(x: Chart.number(left + plot), y: Chart.number(height - 4), text: usage.perDay.last?.day ?? "", anchor: "end"),
        ]
        return Chart(
            id: id, width: Int(left + plot + 10), height: Int(height), summary: summary, bars: bars, dots: [],
            lines: [Chart.Line(x1: Chart.number(left), y1: Chart.number(height - 20), x2: Chart.number(left + plot), y2: Chart.number(height - 20))],
            labels: labels, isEmpty: bars.isEmpty)
    }

    /// Each run's duration against when it was made, coloured by outcome; a dot links to its run.
    static func durations(_ usage: FlowUsage, now: Date) -> Chart {
        let height = 140.0, left = 60.0, plot = plotWidth + labelWidth - left
        let measured = usage.points.filter { $0.durationSeconds != nil }
        let longest = max(1, measured.compactMap(\.durationSeconds).max() ?? 1)
        let span = max(1, now.timeIntervalSince(usage.since))
        let dots = measured.map { point in
            let seconds = point.durationSeconds ?? 0
            return Chart.Dot(
                cx: Chart.number(left + point.createdAt.timeIntervalSince(usage.since) / span * plot),
                cy: Chart.number(height - 20 - seconds / longest * (height - 36)), kind: Chart.kind(of: point.state),
                title: "\(Formatting.time(point.createdAt)): \(point.state.rawValue) in \(Chart.durationLabel(seconds))", link: Links.run(point.id))
        }
        let labels = [
            Chart.Label(x: Chart.number(left - 6), y: "20", text: Chart.durationLabel(longest), anchor: "end"),
            Chart.Label(x: Chart.number(left - 6), y: Chart.number(height - 20), text: "0 s", anchor: "end"),
            Chart.Label(x: Chart.number(left), y: Chart.number(height - 4), text: usage.perDay.first?.day ?? "", anchor: "start"),
            Chart.Label(x: Chart.number(left + plot), y: Chart.number(height - 4), text: "now", anchor: "end"),
        ]
        return Chart(
            id: "durations", width: Int(left + plot + 10), height: Int(height), summary: "Durations of \(dots.count) runs", bars: [], dots: dots,
            lines: [Chart.Line(x1: Chart.number(left), y1: Chart.number(height - 20), x2: Chart.number(left + plot), y2: Chart.number(height - 20))],
            labels: labels, isEmpty: dots.isEmpty)
    }

    /// The runs page's strip: the last `hours` hours, a column per hour, stacked by outcome.
    static func activity(runs: [RunPoint], now: Date, hours: Int = 24) -> Chart {
        let height = 56.0, left = 60.0, plot = plotWidth + labelWidth - left
        let slot = plot / Double(hours)
        let start = now.addingTimeInterval(-Double(hours) * 3_600)
        var buckets = Array(repeating: [String: Int](), count: hours)
        for run in runs where run.createdAt >= start && run.createdAt <= now {
            let index = min(hours - 1, max(0, Int(saturating: run.createdAt.timeIntervalSince(start) / 3_600)))
            buckets[index][Chart.kind(of: run.state), default: 0] += 1
        }
        let highest = Double(max(1, buckets.map { $0.values.reduce(0, +) }.max() ?? 1))
        var bars: [Chart.Bar] = []
        for (index, bucket) in buckets.enumerated() {
            var base = height - 14
            let hourStart = start.addingTimeInterval(Double(index) * 3_600)
            for kind in ["Completed", "Failed", "Cancelled", "Running", "Other"] {
                guard let count = bucket[kind], count > 0 else { continue }
                let barHeight = max(1, Double(count) / highest * (height - 20))
                base -= barHeight
                bars.append(Chart.Bar(
                    x: Chart.number(left + Double(index) * slot + 1), y: Chart.number(base), width: Chart.number(max(1, slot - 2)),
                    height: Chart.number(barHeight), kind: kind, title: "\(Formatting.time(hourStart)): \(count) \(kind.lowercased())", link: nil))
            }
        }
        let labels = [
            Chart.Label(x: Chart.number(left - 6), y: "12", text: "\(Int(highest))/h", anchor: "end"),
            Chart.Label(x: Chart.number(left), y: Chart.number(height - 2), text: "\(hours) h ago", anchor: "start"),
            Chart.Label(x: Chart.number(left + plot), y: Chart.number(height - 2), text: "now", anchor: "end"),
        ]
        return Chart(
            id: "activity", width: Int(left + plot + 10), height: Int(height), summary: "Runs made per hour, last \(hours) hours", bars: bars,
            dots: [], lines: [], labels: labels, isEmpty: bars.isEmpty)
    }
}
