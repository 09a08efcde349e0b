import ArgumentParser
import Foundation
import Hummingbird
import Prometheus

/// A small HTTP server with only `/metrics`, for processes that are not the coordinator (the agent).
enum MetricsEndpoint {
    /// Starts serving `registry` on `HOST:PORT`; cancel the task to stop.
    static func start(address: String, registry: PrometheusCollectorRegistry) throws -> Task<Void, any Error> {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port)
        else {
            throw ValidationError("--metrics-address '\(address)' is not HOST:PORT; write e.g. 127.0.0.1:9464")
        }
        let host = String(address[..<colon])
        let router = Router()
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: registry.emitToString())))
        }
        let app = Application(router: router, configuration: .init(address: .hostname(host.isEmpty ? "127.0.0.1" : host, port: port)))
        return Task { try await app.runService() }
    }
}
