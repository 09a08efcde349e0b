import FathomAPI
import FathomCore
import Foundation

/// Starts the infrastructure of a claimed run: a local process, an ECS task, …
public protocol Launcher: Sendable {
    /// The runs it launches: those whose run config names this kind.
    var kind: LauncherKind { get }
    /// Starts the run's infrastructure. Throwing means it could not be started; the run is crashed with the error.
    func launch(_ claimed: ClaimedRun) async throws -> any LaunchedRun
    /// After an agent restart: the infrastructure of a run this agent had started, if it still
    /// exists (nil: it is gone, and the run is crashed with that reason).
    func reattach(_ run: FlowRun, version: FlowVersion) async throws -> (any LaunchedRun)?
}

/// Something a launcher started, which the agent watches until it ends.
public protocol LaunchedRun: Sendable {
    /// Facts to show on the run: process id, task ARN, …
    var infrastructure: [String: String] { get }
    /// Waits until the infrastructure has ended and says how.
    func wait() async -> LaunchOutcome
    /// Stops the infrastructure (cancel). ``wait()`` returns once it has stopped.
    func stop(reason: String) async
}

/// How a run's infrastructure ended.
public struct LaunchOutcome: Sendable, Equatable {
    /// One line: "exited with status 0", "killed by signal 9 (SIGKILL)", "ECS task stopped: …".
    public var summary: String
    /// Extra lines for a crash message: the last stderr lines, a diagnosis hint, …
    public var details: [String]
    /// Why it ended, when the launcher can tell (out of memory, a Spot interruption, no capacity).
    public var cause: EndCause?

    /// An outcome described by `summary`, with `details` for the crash message.
    public init(summary: String, details: [String] = [], cause: EndCause? = nil) {
        self.summary = summary
        self.details = details
        self.cause = cause
    }
}
