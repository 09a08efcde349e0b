import FathomAlerts
import Foundation
import Logging
import ServiceLifecycle

/// Turns outbox events into deliveries and sends them: at once when this coordinator changes a run or tests a
/// rule, and every `interval` otherwise (for retries, and for changes another coordinator made).
struct AlertDispatcher: Service {
    let coordinator: Coordinator
    let sender: any AlertSender
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let since = coordinator.notifier.generation(of: [.alerts])
            await round()
            await cancelWhenGracefulShutdown {
                await coordinator.notifier.wait(on: [.alerts], since: since, timeout: interval)
            }
        }
    }

    /// One round; a failure is logged and the next round tries again (nothing is lost: the outbox and the
    /// deliveries stay in the store).
    func round() async {
        do {
            try await coordinator.findOverdueRuns(now: coordinator.now)
            try await coordinator.turnAlertEventsIntoDeliveries(now: coordinator.now)
            while try await coordinator.deliverDueAlerts(now: coordinator.now, using: sender) > 0 {}
        } catch {
            logger.error("alert round failed", metadata: ["error": "\(error)"])
        }
    }
}
