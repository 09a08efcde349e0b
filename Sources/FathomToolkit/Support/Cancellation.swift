import Synchronization

/// A flag the toolkit's worker threads check between blocks; set it to stop a sort or a compression early.
/// Work stopped this way throws ``ToolkitError/cancelled`` after removing its temporary files.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func cancel() {
        flag.store(true, ordering: .relaxed)
    }

    public var isCancelled: Bool {
        flag.load(ordering: .relaxed)
    }

    /// Throws ``ToolkitError/cancelled`` once ``cancel()`` was called.
    public func check() throws {
        if isCancelled { throw ToolkitError.cancelled }
    }
}
