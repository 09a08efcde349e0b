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
            Only run workspaces are removed: nothing else under the volume, never a workspace whose run is still active
            (the coordinator is asked; if it cannot be reached, nothing is removed), and symbolic links are never
            followed. Example: fathom volume gc --volume scratch --older-than 7d --dry-run
            """)

    @OptionGroup var client: ClientOptions

    @Option(help: "The volume: NAME=/path, or NAME alone (looked up in FATHOM_VOLUMES, then ./.fathom/volumes/NAME).")
    var volume: String

    @Option(name: .customLong("older-than"), help: "Age since the last change inside a workspace: 7d, 12h, 30m.")
    var olderThan: String

    @Flag(name: .customLong("dry-run"), help: "Print what would be removed; remove nothing.")
    var dryRun = false

    @Option(name: .customLong("data-dir"), help: "The data directory of `fathom dev`, for NAME alone.")
    var dataDirectory = ".fathom"

    func run() async throws {
        let seconds = try AgeParser.seconds(olderThan, field: "--older-than")
        let path = try VolumePaths.resolve(volume, dataDirectory: dataDirectory)
        let active: Set<FlowRunID>
        do {
            active = try await client.makeClient().activeRunIDs()
        } catch {
            throw ValidationError(
                "could not ask the coordinator which runs are active (\(error)); nothing was removed. "
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
