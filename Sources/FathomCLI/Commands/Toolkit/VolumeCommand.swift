import ArgumentParser
import FathomAPI
import FathomCore
import FathomToolkit
import Foundation

/// `fathom volume`: housekeeping of the volumes flows write to.
struct VolumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", abstract: "Housekeeping of run workspaces on volumes.", subcommands: [VolumeGCCommand.self])
}

/// `fathom volume gc`: removes expired run workspaces.
struct VolumeGCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove run workspaces (<volume>/fathom/runs/<run id>/) unchanged for longer than --older-than.",
        discussion: """
            Only run workspaces are removed: nothing else under the volume, never a workspace in use (the coordinator is
            asked: an active run's, a resumed attempt's chain's, and a Failed or Crashed run's within --keep-resumable,
            which can still be resumed; if it cannot be reached, nothing is removed), and symbolic links are never
            followed. Example: fathom volume gc --volume scratch --older-than 7d --dry-run
            """)

    @OptionGroup var client: ClientOptions

    @Option(help: "The volume: NAME=/path, or NAME alone (looked up in FATHOM_VOLUMES, then ./.fathom/volumes/NAME).")
    var volume: String

    @Option(name: .customLong("older-than"), help: "Age since the last change inside a workspace: 7d, 12h, 30m.")
    var olderThan: String

    @Option(name: .customLong("keep-resumable"), help: "How long a Failed or Crashed run keeps its workspace for a resume: 7d, 0s.")
    var keepResumable = "7d"

    @Flag(name: .customLong("dry-run"), help: "Print what would be removed; remove nothing.")
    var dryRun = false

    @Option(name: .customLong("data-dir"), help: "The data directory of `fathom dev`, for NAME alone.")
    var dataDirectory = ".fathom"

    func run() async throws {
        let seconds = try AgeParser.seconds(olderThan, field: "--older-than")
        let resumable = try AgeParser.seconds(keepResumable, field: "--keep-resumable")
        let path = try VolumePaths.resolve(volume, dataDirectory: dataDirectory)
        let active: Set<FlowRunID>
        do {
            active = Set(try await client.makeClient().workspacesInUse(resumableSeconds: resumable).workspaceIDs)
        } catch {
            throw ValidationError(
                "could not ask the coordinator which workspaces are in use (\(error)); nothing was removed. "
                    + "Start it or point --api-url / FATHOM_API_URL at it.")
        }
        let report = try WorkspaceCollector(volumePath: path).collect(olderThan: seconds, activeRuns: active, dryRun: dryRun)
        print(WorkspaceReportText.render(report, dryRun: dryRun, root: WorkspaceCollector(volumePath: path).workspaceRoot))
    }
}

/// Where a named volume is on this machine.
enum VolumePaths {
    static func resolve(_ argument: String, dataDirectory: String) throws -> String {
        if let equals = argument.firstIndex(of: "=") {
            return String(argument[argument.index(after: equals)...])
        }
        if let path = try VolumeEnvironment.volumes(from: ProcessInfo.processInfo.environment)[argument] {
            return path
        }
        let local = URL(fileURLWithPath: dataDirectory).appendingPathComponent("volumes/\(argument)").path
        guard FileManager.default.fileExists(atPath: local) else {
            throw ValidationError(
                "--volume \(argument): not in FATHOM_VOLUMES and no \(local); name the path: --volume \(argument)=/mnt/efs")
        }
        return local
    }
}
