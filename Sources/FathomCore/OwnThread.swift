import Foundation

/// Blocking work (hashing or copying a large file, a whole-file read) on a thread of its own, so it
/// holds none of the few threads of Swift's cooperative pool that requests and other tasks share.
public enum OwnThread {
    /// Runs `work` on a new thread and returns its result.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }
}
