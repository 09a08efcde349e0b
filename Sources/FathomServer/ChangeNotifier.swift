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
    /// Alerts may be due (a run ended, a rule was tested).
    case alerts

    /// The topic as other coordinators hear it: `q:queue`, `a:agent`, `r:run`.
    var wire: String {
        switch self {
        case .queue(let name): "q:" + name
        case .agent(let id): "a:" + id
        case .run(let id): "r:" + id
        case .alerts: "l:"
        }
    }

    /// A topic another coordinator sent; nil for text that is not one.
    init?(wire: String) {
        if wire == "l:" {
            self = .alerts
            return
        }
        let value = String(wire.dropFirst(2))
        guard wire.count > 2, !value.isEmpty else { return nil }
        switch wire.prefix(2) {
        case "q:": self = .queue(value)
        case "a:": self = .agent(value)
        case "r:": self = .run(value)
        default: return nil
        }
    }
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
    /// Where local changes go to reach other coordinators sharing the database; nil with one coordinator.
    private let outbox = Mutex<ChangeOutbox?>(nil)

    /// Puts every later local change in `outbox` too (the relay to other coordinators).
    func relay(to outbox: ChangeOutbox) {
        self.outbox.withLock { $0 = outbox }
    }

    /// Whether ``close()`` was called.
    var isClosed: Bool { state.withLock { $0.closed } }

    /// The current generation of each key.
    func generation(of keys: [ChangeTopic]) -> [UInt64] {
        state.withLock { state in keys.map { state.generations[$0, default: 0] } }
    }

    /// Marks `key` changed, wakes everyone waiting on it here, and tells the other coordinators.
    func signal(_ key: ChangeTopic) {
        receive(key)
        outbox.withLock { $0 }?.add(key.wire)
    }

    /// Wakes every waiter at once: changes may have been missed (the relay to the other coordinators reconnected),
    /// so each long-poll looks again.
    func wakeAll() {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            for key in state.waitersByKey.keys { state.generations[key, default: 0] &+= 1 }
            return Array(state.waiters.keys).compactMap { state.remove($0) }
        }
        for continuation in woken { continuation.resume() }
    }

    /// A change another coordinator made: marks `key` changed and wakes everyone waiting on it here.
    func receive(_ key: ChangeTopic) {
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

/// Local changes waiting to be sent to the other coordinators: a set, so a burst of changes to one run is sent once.
final class ChangeOutbox: Sendable {
    private struct State {
        var topics: Set<String> = []
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let state = Mutex(State())

    func add(_ topic: String) {
        state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.closed, state.topics.count < 100_000 else { return nil }  // a stuck relay drops, never grows without bound
            state.topics.insert(topic)
            defer { state.waiter = nil }
            return state.waiter
        }?.resume()
    }

    /// Waits until there are topics, then takes up to `limit` of them; nil once closed.
    func take(limit: Int) async -> [String]? {
        while true {
            let taken = state.withLock { state -> [String]? in
                if state.closed { return nil }
                guard !state.topics.isEmpty else { return [] }
                let batch = Array(state.topics.prefix(limit))
                state.topics.subtract(batch)
                return batch
            }
            guard let taken else { return nil }
            if !taken.isEmpty { return taken }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.closed || !state.topics.isEmpty { return true }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }

    /// Ends ``take(limit:)`` for good.
    func close() {
        state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }?.resume()
    }
}
