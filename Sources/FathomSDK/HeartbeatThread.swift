import Dispatch
import FathomAPI
import FathomCore
import Foundation

/// Sends a run's heartbeats from a thread of its own, every `interval` until stopped, and calls
/// `onCancel` when the coordinator answers that the run is Cancelling (or already final).
///
/// Not a task: flow code that blocks every thread of Swift's cooperative pool (a tight loop, a
/// synchronous read of a huge file) would hold a task's heartbeats up until the reaper took the
/// run for dead. This thread only sleeps and waits on the HTTP client's event loop.
final class HeartbeatThread: Sendable {
    private let stopSignal = DispatchSemaphore(value: 0)

    init(client: APIClient, runID: FlowRunID, every interval: Duration, onCancel: @escaping @Sendable () -> Void) {
        let milliseconds = Int(clamping: interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000)
        let thread = Thread { [stopSignal] in
            while stopSignal.wait(timeout: .now() + .milliseconds(max(milliseconds, 10))) == .timedOut {
                guard let answer = try? client.heartbeatBlocking(runID) else { continue }  // a missed beat is retried next interval; the executor's coordinator grace bounds an outage
                if answer.state == .cancelling || answer.state.isFinal { onCancel() }
            }
        }
        thread.name = "fathom-heartbeat"
        thread.start()
    }

    /// Ends the thread after its current heartbeat, if one is in flight.
    func stop() {
        stopSignal.signal()
    }
}
