import AWS
import FathomAPI
import FathomCore
import FathomServer
import Foundation
import Prometheus
import Testing

/// `/metrics`, `/healthz`, `/readyz` and JSON logs, against real processes and real runs.
@Suite struct ObservabilityTests {
    func scrape(_ url: String, headers: [String: String] = [:]) async throws -> (text: String, parsed: PrometheusText) {
        let answer = try await RawHTTP.send(.GET, url + "/metrics", headers: headers)
        #expect(answer.status == 200)
        #expect(answer.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        return (answer.body, try PrometheusText(answer.body))
    }

    @Test func metricsParseAsPrometheusAndMoveWithRealRuns() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.examples]).exit == 0)
        let before = try await scrape(stack.url).parsed
        for _ in 0..<2 {
            let id = try await stack.startRun("hello")
            #expect(await stack.waitFor(id, .completed))
        }
        let (text, after) = try await scrape(stack.url)

        // The text also satisfies the reference parser (Prometheus's Python client), when it is installed.
        let file = stack.directory.file("metrics.txt")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let reference = try await runCommand("/usr/bin/env", ["python3", "-c", """
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            families = list(text_string_to_metric_families(open(sys.argv[1]).read()))
            print("families", len(families))
            """, file])
        if reference.exit.succeeded {
            #expect(reference.output.contains { $0.hasPrefix("families ") && Int($0.dropFirst(9)) ?? 0 >= 8 }, "\(reference.output)")
        } else {
            #expect(reference.output.joined().contains("No module named 'prometheus_client'"), "the reference parser failed: \(reference.output)")
        }

        func delta(_ name: String, _ labels: [String: String] = [:]) -> Double { after.value(name, labels) - before.value(name, labels) }
        #expect(after.types["fathom_flow_runs"] == "gauge")
        #expect(after.value("fathom_flow_runs", ["state": "Completed"]) == 2, "runs by state")
        #expect(after.value("fathom_flow_runs", ["state": "Running"]) == 0)
        #expect(delta("fathom_flow_run_transitions_total", ["state": "Completed"]) == 2)
        #expect(delta("fathom_flow_run_transitions_total", ["state": "Pending"]) == 2)
        #expect(delta("fathom_claim_latency_seconds_count") == 2, "claim latency")
        #expect(delta("fathom_flow_run_duration_seconds_count", ["flow": "hello", "state": "Completed"]) == 2, "run duration")
        #expect(after.types["fathom_flow_run_duration_seconds"] == "histogram")
        #expect(delta("fathom_log_lines_received_total") >= 8, "log ingest: each hello run sends at least four lines")
        #expect(delta("fathom_http_request_duration_seconds_count", ["method": "POST", "route": "/api/v1/flow-runs", "status": "201"]) == 2,
                "API latency by route pattern")
        #expect(!after.samples.contains { $0.labels["route"]?.contains(stack.url) == true || ($0.labels["route"] ?? "").contains("-4") },
                "routes are patterns, not ids")
    }

    @Test func awsAPIErrorsAreCountedByCode() async throws {
        // The process-wide MetricsSystem (what `fathom server`, `dev` and `agent` set up) reaches the coordinator's registry.
        let registry = PrometheusCollectorRegistry()
        ServerMetrics.bootstrapProcessMetrics(registry)
        let moto = try await MotoServer()
        defer { Task { await moto.stop() } }
        let ecs = ECSClient(client: try moto.client())
        for _ in 0..<3 { _ = try? await ecs.describeTasks(cluster: "no-such-cluster", tasks: ["t"]) }
        try await withCoordinator(configure: { $0.metricsRegistry = registry }) { coordinator, _ in
            let parsed = try await scrape(coordinator.url).parsed
            let errors = parsed.value(
                "fathom_aws_api_errors_total", ["service": "ecs", "code": "ClusterNotFoundException"])
            // Another test in this process may have bootstrapped first; then its registry holds the counts.
            if parsed.types["fathom_aws_api_errors_total"] != nil {
                #expect(errors >= 3)
                #expect(parsed.samples.contains { $0.labels["operation"]?.contains("DescribeTasks") == true })
            } else {
                Issue.record("fathom_aws_api_errors_total missing from /metrics")
            }
        }
    }

    @Test func healthAndReadiness() async throws {
        try await withCoordinator { coordinator, _ in
            let health = try await RawHTTP.send(.GET, coordinator.url + "/healthz")
            #expect(health.status == 200)
            let ready = try await RawHTTP.send(.GET, coordinator.url + "/readyz")
            #expect(ready.status == 200)
            #expect(ready.body.contains(#""database":"ok""#) && ready.body.contains(#""storage":"ok""#), "\(ready.body)")
        }
        // With a token, health stays open and metrics need it.
        try await withCoordinator(token: "metrics-token") { coordinator, _ in
            #expect(try await RawHTTP.send(.GET, coordinator.url + "/healthz").status == 200)
            #expect(try await RawHTTP.send(.GET, coordinator.url + "/readyz").status == 200)
            #expect(try await RawHTTP.send(.GET, coordinator.url + "/metrics").status == 401)
            #expect(try await RawHTTP.send(.GET, coordinator.url + "/metrics", headers: ["Authorization": "Bearer wrong"]).status == 401)
            _ = try await scrape(coordinator.url, headers: ["Authorization": "Bearer metrics-token"])
        }
        // Bundle storage that does not answer (S3 at a closed port): alive, but not ready, and it says why.
        let closedPort = try LoopbackPort.unused()
        let environment = ["AWS_ENDPOINT_URL": "http://127.0.0.1:\(closedPort)", "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                           "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_REGION": "eu-west-1"]
        let directory = TemporaryDirectory("readyz")
        let server = BackgroundProcess(
            TestPaths.fathom, ["server", "--port", "0", "--data-dir", directory.path, "--storage", "s3://bucket/prefix"],
            environment: environment)
        defer { server.kill9() }
        let url = try #require(BackgroundProcess.url(in: try await server.waitForLine { $0.contains("listening on http://") }))
        #expect(try await RawHTTP.send(.GET, url + "/healthz").status == 200)
        let notReady = try await RawHTTP.send(.GET, url + "/readyz")
        #expect(notReady.status == 503)
        #expect(notReady.body.contains(#""database":"ok""#) && !notReady.body.contains(#""storage":"ok""#), "\(notReady.body)")
        #expect(!notReady.body.contains("test-secret"), "secrets never appear")
    }

    @Test func serverAndAgentLogOneJSONObjectPerLine() async throws {
        let directory = TemporaryDirectory("json-logs")
        let server = BackgroundProcess(
            TestPaths.fathom, ["server", "--port", "0", "--data-dir", directory.path, "--log-format", "json", "--token", "json-secret"])
        defer { server.kill9() }
        let url = try #require(BackgroundProcess.url(in: try await server.waitForLine { $0.contains("listening on http://") }))
        let agent = BackgroundProcess(
            TestPaths.fathom, ["agent", "--api-url", url, "--token", "json-secret", "--log-format", "json", "--name", "json-agent"])
        defer { agent.kill9() }
        _ = try await agent.waitForLine { $0.contains("agent ready") }
        for (process, label) in [(server, "fathom.server"), (agent, "fathom.agent")] {
            let lines = process.output.filter { $0.hasPrefix("{") }
            #expect(!lines.isEmpty, "\(label) logged no JSON: \(process.output)")
            for line in lines {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
                #expect(object["ts"] is String && object["level"] is String && object["message"] is String && object["logger"] is String, "\(line)")
                #expect(!line.contains("json-secret"), "the token never appears in logs")
            }
            #expect(lines.contains { $0.contains("\"logger\":\"\(label)\"") }, "\(lines)")
        }
        #expect(agent.output.contains { $0.hasPrefix("{") && $0.contains("\"message\":\"agent ready\"") && $0.contains("\"agent\":\"json-agent\"") })
    }
}
