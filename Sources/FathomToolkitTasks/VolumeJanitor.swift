import FathomSDK
import Foundation

/// The built-in flow that expires run workspaces on a volume, as `fathom volume gc` does; run it on a schedule.
///
/// Workspaces the coordinator reports in use are kept: of active runs (a resumed attempt's is its chain's first
/// run's), and of Failed or Crashed runs within `keepResumable` that can still be resumed; so is this run's own.
/// If the coordinator cannot be asked, the run fails and nothing is removed.
public struct VolumeJanitor: Flow {
    public static let name = "volume-janitor"
    public static let summary = "Remove run workspaces on a volume unchanged for longer than a given age."

    public struct Parameters: FlowParameters {
        /// The volume's name, as mounted in this run.
        public var volume = "scratch"
        /// Age since the last change inside a workspace: 7d, 12h, 30m.
        public var olderThan = "7d"
        /// How long a Failed or Crashed run keeps its workspace for a resume: 7d, 0s.
        public var keepResumable = "7d"
        public var dryRun = false

        public init() {}
    }

    public static func run(_ parameters: Parameters, context: FlowContext) async throws {
        let seconds = try AgeParser.seconds(parameters.olderThan, field: "olderThan")
        let resumable = try AgeParser.seconds(parameters.keepResumable, field: "keepResumable")
        let path = try context.volume(parameters.volume)
        guard let coordinator = context.coordinator else {
            throw VolumeError("the volume janitor needs the coordinator to know which runs are active; none is set")
        }
        var active = Set(try await coordinator.workspacesInUse(resumableSeconds: resumable).workspaceIDs)
        active.insert(context.runID)
        active.insert(context.workspaceID)
        let collector = WorkspaceCollector(volumePath: path)
        let dryRun = parameters.dryRun
        let keep = active
        let report = try await context.blocking { try collector.collect(olderThan: seconds, activeRuns: keep, dryRun: dryRun) }
        for line in WorkspaceReportText.render(report, dryRun: parameters.dryRun, root: collector.workspaceRoot).split(separator: "\n") {
            context.logger.info("\(line)")
        }
    }
}
