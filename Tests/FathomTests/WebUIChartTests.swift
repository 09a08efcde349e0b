import FathomAPI
import FathomClient
import FathomCore
import Foundation
import Testing

/// The pictures of the web UI (run timeline, flow charts, runs activity strip), drawn from a month of runs made
/// through the API on a coordinator whose clock the test moves, and checked in a real headless Chromium.
@Suite(.serialized, .enabled(if: HeadlessChromium.executable != nil, "needs Debian's chromium (scripts/test installs it)"))
struct WebUIChartTests {
    /// A sort-compress-like run: its tasks, with times and states the test knows.
    struct Plan {
        var state: FlowRunState
        /// (name, start offset s, duration s, state, attempt)
        var tasks: [(String, Double, Double, TaskRunState, Int)]
        var costUSD: Double?
    }

    static let start = date("2026-11-01T08:00:00Z")
    /// Where screenshots go when `FATHOM_SCREENSHOTS` is not set.
    let shots = TemporaryDirectory("charts")

    /// Makes a run under `clock` that follows `plan`: Running at the clock's time, its task runs, its end after the
    /// last task.
    func make(_ plan: Plan, client: APIClient, clock: TestClock) async throws -> FlowRunID {
        let run = try await client.createRun(CreateFlowRunRequest(flow: "sort-compress"))
        _ = try await client.setState(run.id, SetStateRequest(state: .pending))
        _ = try await client.setState(run.id, SetStateRequest(state: .running))
        let began = clock.now
        try await client.sendTaskRuns(run.id, plan.tasks.map { name, offset, seconds, state, attempt in
            TaskRunUpdate(
                id: Identifier.make(), name: name, state: state, attempt: attempt, startedAt: began.addingTimeInterval(offset),
                endedAt: began.addingTimeInterval(offset + seconds))
        })
        clock.advance(plan.tasks.map { $0.1 + $0.2 }.max() ?? 1)
        if let cost = plan.costUSD { _ = try await client.setInfrastructure(run.id, ["costUSD": String(format: "%.6f", cost)]) }
        _ = try await client.setState(run.id, SetStateRequest(state: plan.state, message: plan.state == .failed ? "bzip2: no space left on device" : ""))
        return run.id
    }

    static let typical = Plan(
        state: .completed,
        tasks: [("split", 0, 40, .completed, 1), ("sort-chunk-1", 40, 300, .completed, 1), ("sort-chunk-2", 40, 340, .completed, 1),
                ("merge", 380, 200, .completed, 1), ("bzip2", 580, 420, .completed, 2)],
        costUSD: 0.42)

    @Test func theRunTimelineTheFlowChartsAndTheActivityStripDrawWhatHappened() async throws {
        let clock = TestClock(Self.start)
        // Runs stay Running while the clock jumps over their tasks: no heartbeat is missed in this test.
        try await withCoordinator(configure: { $0.clock = { clock.now }; $0.coordinator.heartbeatTimeout = .seconds(90 * 86_400) }) { coordinator, client in
            _ = try await client.registerFlows(RegisterFlowsRequest(
                bundleSHA256: String(repeating: "ab", count: 32), storageURL: "file:///nowhere",
                flows: [FlowDescription(name: "sort-compress", summary: "Sort a huge file and compress it", parameters: [])]))
            // A month: two or three runs a day, one failure every few days, longer runs towards the end.
            var made: [FlowRunID] = []
            for day in 0..<30 {
                clock.set(Self.start.addingTimeInterval(Double(day) * 86_400))
                for index in 0..<(day % 3 == 0 ? 3 : 2) {
                    var plan = Self.typical
                    let stretch = 1 + Double(day) / 30 + Double(index) * 0.1
                    plan.tasks = plan.tasks.map { ($0.0, $0.1 * stretch, $0.2 * stretch, $0.3, $0.4) }
                    plan.costUSD = 0.42 * stretch
                    if day % 7 == 3, index == 0 {
                        plan.state = .failed
                        plan.tasks[4] = ("bzip2", plan.tasks[4].1, 30, .failed, 1)
                    }
                    made.append(try await make(plan, client: client, clock: clock))
                    clock.advance(3_600)
                }
            }
            // The last day, hour by hour: quick checks, some failing.
            var quick: [FlowRunID] = []
            for hour in 0..<21 {
                clock.set(Self.start.addingTimeInterval(29 * 86_400 + Double(hour + 2) * 3_600))
                for index in 0..<(1 + hour % 4) {
                    let plan = Plan(state: (hour + index) % 9 == 4 ? .failed : .completed, tasks: [("check", 0, 30 + Double(index) * 10, .completed, 1)], costUSD: 0.01)
                    quick.append(try await make(plan, client: client, clock: clock))
                }
            }
            // Today: a resumed attempt whose first tasks are Cached, and a few runs in the last hours.
            clock.set(Self.start.addingTimeInterval(30 * 86_400))
            let resumed = try await make(Plan(
                state: .completed,
                tasks: [("split", 0, 0, .cached, 1), ("sort-chunk-1", 0, 0, .cached, 1), ("sort-chunk-2", 0, 0, .cached, 1),
                        ("merge", 0, 10, .completed, 1), ("bzip2", 10, 20, .completed, 1)], costUSD: 0.05), client: client, clock: clock)
            let now = clock.now

            let browser = try HeadlessChromium(width: 1100, height: 900)
            try await browser.openPage()

            // The run timeline: one bar per task run, placed by its start and sized by its duration.
            try await browser.navigate(coordinator.url + "/runs/\(made[made.count - 1])")
            let bars = try #require(try await browser.evaluate("""
                [...document.querySelectorAll('#gantt rect')].map(r => [r.x.baseVal.value, r.width.baseVal.value, r.getAttribute('class')])
                """) as? [[Any]])
            #expect(bars.count == 5)
            let geometry: [(Double, Double)] = bars.compactMap { bar in
                guard let x = bar[0] as? Double, let width = bar[1] as? Double else { return nil }
                return (x, width)
            }
            let unit = geometry[0].1 / (40 * 1.8)  // split took 40 s × the last day's stretch
            #expect(abs(geometry[3].0 - (geometry[0].0 + 380 * 1.8 * unit)) < 1.5, "merge starts where the sorts end: \(geometry)")
            #expect(abs(geometry[4].1 / geometry[0].1 - 420.0 / 40) < 0.1, "bzip2 is 10.5 × as long as split: \(geometry)")
            let labels = try await browser.string("[...document.querySelectorAll('#gantt text')].map(t => t.textContent).join('|')") ?? ""
            #expect(labels.contains("bzip2 ×2"), "a retried task is marked: \(labels)")
            try await saveScreenshot(browser, "run-timeline.png", element: "gantt")

            try await browser.navigate(coordinator.url + "/runs/\(resumed)")
            #expect(try await browser.evaluate("document.querySelectorAll('#gantt rect.Cached').length") as? Int == 3)

            // The flow page: the month's sums and three charts.
            try await browser.navigate(coordinator.url + "/flows/sort-compress")
            let usage = try await client.flowUsage("sort-compress", days: 30)
            // The 30 days end today: 1 November's three runs are a day too old.
            #expect(usage.runs == made.count + quick.count + 1 - 3 && usage.since == date("2026-11-02T00:00:00Z"))
            let perDay = try #require(try await browser.evaluate("""
                [...document.querySelectorAll('#runs-per-day rect')].map(r => r.querySelector('title').textContent)
                """) as? [String])
            let drawnRuns = perDay.map(Self.count(inTitle:)).reduce(0, +)
            #expect(drawnRuns == usage.runs, "every run is in a bar: \(drawnRuns) of \(usage.runs)")
            #expect(perDay.filter { $0.contains("failed") }.count == usage.perDay.filter { $0.failed > 0 }.count)
            let dots = try await browser.evaluate("document.querySelectorAll('#durations circle').length") as? Int
            #expect(dots == usage.points.filter { $0.durationSeconds != nil }.count)
            let firstDot = try await browser.string("document.querySelector('#durations a').getAttribute('href')") ?? ""
            #expect(firstDot.hasPrefix("/runs/"), "a dot opens its run")
            #expect(try await browser.evaluate("document.querySelectorAll('#cost-per-day rect').length") as? Int == 30, "one cost bar a day")
            let cost = try await browser.string("document.getElementById('usage-cost').textContent") ?? ""
            #expect(cost == "\(UsageText.usd(usage.costUSD)) over \(usage.runs) Fargate runs", "\(cost)")
            try await saveScreenshot(browser, "flow-charts.png", element: "usage-charts")

            // The runs page: the last 24 hours by the hour.
            try await browser.navigate(coordinator.url + "/runs")
            let hours = try #require(try await browser.evaluate("""
                [...document.querySelectorAll('#activity rect')].map(r => r.querySelector('title').textContent)
                """) as? [String])
            let counted = hours.map(Self.count(inTitle:)).reduce(0, +)
            let lastDay = try await client.listRuns(limit: 1000).runs.filter { $0.createdAt > now.addingTimeInterval(-86_400) }.count
            #expect(counted == lastDay && counted > 0, "\(hours)")
            try await saveScreenshot(browser, "runs-activity.png", element: "activity")
        }
    }

    /// The count a bar's title gives: `2026-11-01: 3 completed` → 3.
    static func count(inTitle title: String) -> Int {
        guard let colon = title.range(of: ": ") else { return 0 }
        let words = title[colon.upperBound...].split(separator: " ")
        return words.first.flatMap { Int($0) } ?? 0
    }

    /// Saves a PNG of one element's box to `FATHOM_SCREENSHOTS` (scripts/screenshots) or a temporary directory.
    func saveScreenshot(_ browser: HeadlessChromium, _ name: String, element id: String) async throws {
        let png = try await browser.screenshot(ofElement: id)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a screenshot is a PNG")
        #expect(png.count > 1_000, "a picture of a drawn chart has some size; got \(png.count) bytes")
        let folder = WebUITests.screenshots ?? shots.path
        try png.write(to: URL(fileURLWithPath: folder).appendingPathComponent(name))
    }
}

