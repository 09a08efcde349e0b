import Foundation
import Logging
import ServiceLifecycle

/// A store several coordinators share, that carries each one's changes to the others (PostgreSQL's LISTEN/NOTIFY),
/// so that a long-poll on one coordinator wakes at once for a run made, a line logged or a state set on another.
public protocol SharedChanges: Sendable {
    /// Tells the other coordinators these topics changed (after the writes committed).
    func publish(_ topics: [String]) async throws
    /// Hears the topics every coordinator publishes, calling `listening` once it is subscribed; returns or throws
    /// when the subscription ends.
    func listen(listening: @Sendable () -> Void, receive: @Sendable (String) -> Void) async throws
}

/// Relays the coordinator's changes through a ``SharedChanges`` store, both ways, for as long as the server runs.
/// A lost subscription is made again (after a pause), and every long-poll is woken then, since changes may have
/// passed meanwhile.
struct ChangeRelay: Service {
    let shared: any SharedChanges
    let notifier: ChangeNotifier
    let logger: Logger
    /// The most topics one publish carries.
    var batch = 200

    func run() async throws {
        let outbox = ChangeOutbox()
        notifier.relay(to: outbox)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await publish(outbox) }
            group.addTask { await listen() }
            await withGracefulShutdownHandler {
                await group.next()
            } onGracefulShutdown: {
                outbox.close()
            }
            group.cancelAll()
        }
    }

    /// Sends local changes in batches; a failed send is logged (the other coordinators' long-polls still end on time).
    private func publish(_ outbox: ChangeOutbox) async {
        while let topics = await outbox.take(limit: batch) {
            do {
                try await shared.publish(topics)
            } catch {
                logger.warning("could not tell the other coordinators about \(topics.count) changes", metadata: ["error": "\(error)"])
            }
        }
    }

    private func listen() async {
        var pause = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                try await shared.listen(listening: { notifier.wakeAll() }) { text in
                    if let topic = ChangeTopic(wire: text) { notifier.receive(topic) }
                }
                pause = .milliseconds(100)
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning("lost the other coordinators' changes; listening again", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }
}
