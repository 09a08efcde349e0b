import Foundation
import Logging
import ServiceLifecycle

/// The coordinator's background rounds, every `interval`: crash runs whose heartbeat stopped or whose
/// claim lease ran out, make the runs of schedules, wake agents for runs that fell due, and flag late
/// runs. When the server shuts down it also ends the long-polls in flight, so shutdown does not wait.
struct Housekeeper: Service {
    let coordinator: Coordinator
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            await coordinator.housekeeping()
            try? await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }  // shutdown cancels the pause; the loop condition then ends it
        }
        coordinator.closeLongPolls()
    }
}

extension Coordinator {
    /// One round of background work; failures are logged and the next round tries again.
    public func housekeeping() async {
        let now = clock()
        do {
            try await reap()
        } catch {
            freshGrace.withLock { $0 = .afterStoreOutage }
            logger.error("heartbeat reaper failed", metadata: ["error": "\(error)"])
        }
        do {
            try await sweepMissingRetries(now: now)
        } catch {
            logger.error("retry sweep failed", metadata: ["error": "\(error)"])
        }
        do {
            try await scheduleRuns(now: now)
            try await dueAndLateRuns(now: now)
        } catch {
            logger.error("scheduler failed", metadata: ["error": "\(error)"])
        }
    }
}
