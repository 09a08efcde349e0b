import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Calls `handler` when the process receives one of `signals`, instead of their default action.
public final class SignalWatcher: @unchecked Sendable {
    // DispatchSource is thread-safe; it is only created in init and cancelled in stop().
    private let sources: [any DispatchSourceSignal]

    public init(signals: [Int32], handler: @escaping @Sendable () -> Void) {
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    /// Stops watching.
    public func stop() {
        for source in sources { source.cancel() }
    }
}
