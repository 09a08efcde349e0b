import FathomAPI
import FathomCore
import Foundation
import Metrics
import Prometheus
import Synchronization

/// The coordinator's metrics, kept in one Prometheus registry and served at `/metrics`.
///
/// Metrics are made with swift-metrics types against a factory bound to ``registry``, so several
/// coordinators in one process (tests) keep their own numbers. Code that only sees the global
/// `MetricsSystem` (the AWS client) reaches the same registry when the process bootstraps it with
/// ``bootstrapProcessMetrics(_:)``.
public final class ServerMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    let logLines: Metrics.Counter
    let lateRuns: Metrics.Counter
    let retries: Metrics.Counter
    private let claimsWaiting: Metrics.Gauge
    private let claimsWaitingNow = Mutex(0)

    /// Buckets for durations from milliseconds (API calls, claims) to hours (runs).
    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]
    static let runBuckets: [Duration] = [
        .seconds(1), .seconds(5), .seconds(15), .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(1800),
        .seconds(3600), .seconds(7200), .seconds(14400), .seconds(43200), .seconds(86400),
    ]

    /// Metrics kept in `registry` (a fresh one by default).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.latencyBuckets
        factory.durationHistogramBuckets = ["fathom_flow_run_duration_seconds": Self.runBuckets]
        self.factory = factory
        logLines = Metrics.Counter(label: "fathom_log_lines_received_total", factory: factory)
        lateRuns = Metrics.Counter(label: "fathom_flow_runs_late_total", factory: factory)
        retries = Metrics.Counter(label: "fathom_flow_run_retries_total", factory: factory)
        claimsWaiting = Metrics.Gauge(label: "fathom_agent_claims_waiting", factory: factory)
        claimsWaiting.record(0)
    }

    /// Agents' claims waiting for a run now (each agent keeps about one open); `by` is 1 when one starts waiting, -1
    /// when it stops.
    func claimWaiting(_ by: Int) {
        let now = claimsWaitingNow.withLock { $0 += by; return $0 }
        claimsWaiting.record(now)
    }

    /// Counts a run reaching `state`.
    func transition(to state: FlowRunState) {
        Metrics.Counter(label: "fathom_flow_run_transitions_total", dimensions: [("state", state.rawValue)], factory: factory).increment()
    }

    /// How long a due run waited for an agent.
    func claimed(after wait: TimeInterval) {
        Metrics.Timer(label: "fathom_claim_latency_seconds", factory: factory).recordSeconds(max(0, wait))
    }

    /// How long a run took from start (or creation) to its final state.
    func runEnded(flow: String, state: FlowRunState, seconds: TimeInterval) {
        Metrics.Timer(label: "fathom_flow_run_duration_seconds", dimensions: [("flow", flow), ("state", state.rawValue)], factory: factory)
            .recordSeconds(max(0, seconds))
    }

    /// An alert a target took, and how long after its event.
    func alertDelivered(after seconds: TimeInterval) {
        Metrics.Counter(label: "fathom_alert_attempts_total", dimensions: [("outcome", "delivered")], factory: factory).increment()
        Metrics.Timer(label: "fathom_alert_delivery_latency_seconds", factory: factory).recordSeconds(max(0, seconds))
    }

    /// An attempt to deliver an alert that failed (it may be tried again).
    func alertFailed() {
        Metrics.Counter(label: "fathom_alert_attempts_total", dimensions: [("outcome", "failed")], factory: factory).increment()
    }

    /// One API or UI request, by route pattern and status.
    func request(method: String, route: String, status: Int, seconds: TimeInterval) {
        Metrics.Timer(
            label: "fathom_http_request_duration_seconds",
            dimensions: [("method", method), ("route", route), ("status", String(status))], factory: factory
        ).recordSeconds(max(0, seconds))
    }

    /// The Prometheus text, after setting the runs-by-state gauges from `counts`.
    func exposition(stateCounts counts: [FlowRunState: Int]) -> String {
        for state in FlowRunState.allCases {
            Metrics.Gauge(label: "fathom_flow_runs", dimensions: [("state", state.rawValue)], factory: factory)
                .record(counts[state] ?? 0)
        }
        return registry.emitToString()
    }

    /// Points the process-wide `MetricsSystem` at `registry` (once per process; later calls do nothing).
    public static func bootstrapProcessMetrics(_ registry: PrometheusCollectorRegistry) {
        ProcessMetrics.bootstrap(registry)
    }
}

private enum ProcessMetrics {
    static let lock = NSLock()
    nonisolated(unsafe) static var done = false

    static func bootstrap(_ registry: PrometheusCollectorRegistry) {
        lock.lock()
        defer { lock.unlock() }
        guard !done else { return }
        done = true
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = ServerMetrics.latencyBuckets
        MetricsSystem.bootstrap(factory)
    }
}
