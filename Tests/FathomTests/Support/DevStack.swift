import FathomAPI
import FathomClient
import FathomCore
import Foundation
import Testing

/// A `fathom dev` process on a free port, with its own data directory and bundle cache.
final class DevStack: Sendable {
    let directory: TemporaryDirectory
    let process: BackgroundProcess
    let url: String
    let client: APIClient
    /// What `fathom dev` (and so each flow process) was started with.
    let serverEnvironment: [String: String]

    var scratch: String { directory.path + "/.fathom/volumes/scratch" }
    var environment: [String: String] { serverEnvironment.merging(["FATHOM_API_URL": url]) { _, new in new } }

    /// `fathom dev` in `directory` (a new one by default), started with `environment` (by default only a bundle
    /// cache of its own).
    init(directory: TemporaryDirectory = TemporaryDirectory("fathom-e2e"), environment: [String: String]? = nil) async throws {
        self.directory = directory
        let data = directory.path + "/.fathom"
        serverEnvironment = environment ?? ["FATHOM_BUNDLE_CACHE": directory.path + "/cache"]
        process = BackgroundProcess(TestPaths.fathom, ["dev", "--port", "0", "--data-dir", data], environment: serverEnvironment)
        do {
            let line = try await process.waitForLine { $0.contains("coordinator on http://") }
            url = try #require(BackgroundProcess.url(in: line))
        } catch {
            await process.stop()
            throw error
        }
        client = APIClient(baseURL: url)
    }

    func fathom(_ arguments: [String]) async throws -> (exit: Int32?, output: [String]) {
        let (exit, output) = try await runCommand(TestPaths.fathom, arguments, environment: environment)
        return (exit.exitCode, output)
    }

    func startRun(_ flow: String, _ parameters: [String] = [], tags: [String] = []) async throws -> FlowRunID {
        let (exit, output) = try await fathom(["run", flow] + parameters.flatMap { ["--param", $0] } + tags.flatMap { ["--tag", $0] })
        #expect(exit == 0, "fathom run failed: \(output)")
        let line = try #require(output.first { $0.hasPrefix("flow run ") })
        return String(line.split(separator: " ")[2])
    }

    /// Waits for `runID` to reach `state`. A liveness wait, not a speed check: it allows at least a minute, since CI
    /// runs every suite at once on two cores and was seen to need several times a test's time alone.
    func waitFor(_ runID: FlowRunID, _ state: FlowRunState, timeout: Duration = .seconds(20)) async -> Bool {
        await eventually(timeout: max(timeout, .seconds(60)), every: .milliseconds(10)) { (try? await client.run(runID).state) == state }
    }
}
