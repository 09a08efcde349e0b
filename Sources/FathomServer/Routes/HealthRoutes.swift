import FathomAPI
import FathomCore
import Foundation
import Hummingbird
import NIOCore

/// `/healthz` (the process answers), `/readyz` (it can do its work) and `/metrics` (Prometheus text).
struct HealthRoutes {
    let coordinator: Coordinator

    func add(to router: Router<BasicRequestContext>) {
        router.get("healthz") { _, _ in
            try HTTPJSON.response(["status": "ok"])
        }
        router.get("readyz") { _, _ in
            let checks = await coordinator.readiness()
            let ready = checks.values.allSatisfy { $0 == "ok" }
            return try HTTPJSON.response(
                ReadinessReport(status: ready ? "ready" : "not ready", checks: checks), status: ready ? .ok : .serviceUnavailable)
        }
        router.get("metrics") { _, _ in
            let text = coordinator.metrics.exposition(stateCounts: (try? await coordinator.stateCounts()) ?? [:])  // metrics still answer while the store does not; /readyz names the failing store
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }
}

/// The answer of `/readyz`: each check's result, `ok` or what is wrong.
struct ReadinessReport: Codable {
    var status: String
    var checks: [String: String]
}
