/// Repeats a call to the coordinator that is safe to repeat, with doubling pauses between tries.
public struct Retrying: Sendable {
    /// How many tries in all (at least 1).
    public var attempts: Int
    /// The pause after the first failure.
    public var firstDelay: Duration
    /// The longest pause.
    public var maxDelay: Duration

    /// `attempts` tries, pausing `firstDelay`, then twice that, up to `maxDelay`.
    public init(attempts: Int, firstDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(8)) {
        self.attempts = max(1, attempts)
        self.firstDelay = firstDelay
        self.maxDelay = maxDelay
    }

    /// The body's result, or nil when every try failed (each failure goes to `failed`). A cancelled task stops trying.
    nonisolated(nonsending) public func run<T: Sendable>(
        failed: (any Error) -> Void = { _ in }, _ body: () async throws -> T
    ) async -> T? {
        var delay = firstDelay
        for attempt in 1...attempts {
            do {
                return try await body()
            } catch {
                failed(error)
                guard attempt < attempts, !Task.isCancelled else { break }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, maxDelay)
            }
        }
        return nil
    }
}
