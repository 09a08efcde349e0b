import FathomCore
import Foundation
import Synchronization

/// What a long-poll waits on, and what a change wakes.
enum ChangeTopic: Hashable, Sendable {
    /// A run became claimable on the queue (created, due, a slot or a limit freed).
    case queue(String)
    /// One of the agent's runs is to be cancelled.
    case agent(AgentID)
    /// A run has a new log line or state.
    case run(FlowRunID)
}

/// Wakes long-polls when something they wait for changes.
///
/// A waiter reads ``generation(of:)`` before it looks at the
/// store and passes it to ``wait(on:since:timeout:)``, so a change between the look and the wait is
/// never missed.
final class ChangeNotifier: Sendable {
    private struct State {
        var generations: [ChangeTopic: UInt64] = [:]
        var waiters: [UInt64: (keys: [ChangeTopic], continuation: CheckedContinuation<Void, Never>)] = [:]
        var waitersByKey: [ChangeTopic: Set<UInt64>] = [:]
        var nextWaiterID: UInt64 = 0
        /// Set when the server stops: long-polls return at once.
        var closed = false

        /// Removes a waiter from every key it waits on, returning its continuation if it was still waiting.
        mutating func remove(_ id: UInt64) -> CheckedContinuation<Void, Never>? {
            guard let waiter = waiters.removeValue(forKey: id) else { return nil }
            for key in waiter.keys {
                waitersByKey[key]?.remove(id)
                if waitersByKey[key]?.isEmpty == true { waitersByKey[key] = nil }
            }
            return waiter.continuation
        }
    }

    private let state = Mutex(State())

    /// Whether ``close()`` was called.
    var isClosed: Bool { state.withLock { $0.closed } }

    /// The current generation of each key.
    func generation(of keys: [ChangeTopic]) -> [UInt64] {
        state.withLock { state in keys.map { state.generations[$0, default: 0] } }
    }

    /// Marks `key` changed and wakes everyone waiting on it.
    func signal(_ key: ChangeTopic) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.generations[key, default: 0] &+= 1
            return (state.waitersByKey[key] ?? []).compactMap { state.remove($0) }
        }
        for continuation in woken { continuation.resume() }
    }

    /// Ends every long-poll now and every later one at once (the server is stopping).
    func close() {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.closed = true
            return Array(state.waiters.keys).compactMap { state.remove($0) }
        }
        for continuation in woken { continuation.resume() }
    }

    /// Waits until one of `keys` changes after `since` (their generations), the timeout passes,
    /// the notifier closes, or the task is cancelled.
    func wait(on keys: [ChangeTopic], since: [UInt64], timeout: Duration) async {
        guard timeout > .zero, !state.withLock({ $0.closed }) else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: timeout) }
            group.addTask { await self.waitForSignal(on: keys, since: since) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForSignal(on keys: [ChangeTopic], since: [UInt64]) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID &+= 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if Task.isCancelled || state.closed { return true }
                    for (key, seen) in zip(keys, since) where state.generations[key, default: 0] != seen { return true }
                    state.waiters[id] = (keys, continuation)
                    for key in keys { state.waitersByKey[key, default: []].insert(id) }
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { state in state.remove(id) }?.resume()
        }
    }
}
