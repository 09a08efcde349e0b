import Foundation
import Logging
import ServiceLifecycle

/// Crashes runs whose heartbeat stopped or whose claim lease ran out, every `interval`. When the
/// server shuts down it also ends the long-polls in flight, so shutdown does not wait for them.
struct HeartbeatReaper: Service {
    let coordinator: Coordinator
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await coordinator.reap()
            } catch {
                logger.error("heartbeat reaper failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
        }
        coordinator.closeLongPolls()
    }
}
