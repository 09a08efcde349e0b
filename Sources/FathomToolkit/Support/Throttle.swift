import Synchronization

/// Says yes at most every `interval` seconds (and always with `force`); for progress lines. Safe from any thread.
public final class Throttle: Sendable {
    private let last = Mutex(-Double.infinity)
    private let interval: Double

    public init(interval: Double) {
        self.interval = interval
    }

    public func ready(force: Bool = false) -> Bool {
        let now = System.now()
        return last.withLock { last in
            guard force || now - last >= interval else { return false }
            last = now
            return true
        }
    }
}
