import FathomAPI
import FathomClient
import FathomCore
import Foundation
import Testing

/// A `fathom dev` process on a free port, with its own data directory and bundle cache.
final class DevStack: Sendable {
    let directory = TemporaryDirectory("fathom-e2e")
    let process: BackgroundProcess
    let url: String
    let client: APIClient

    var scratch: String { directory.path + "/.fathom/volumes/scratch" }
    var environment: [String: String] { ["FATHOM_API_URL": url, "FATHOM_BUNDLE_CACHE": directory.path + "/cache"] }

    init() async throws {
        let data = directory.path + "/.fathom"
        process = BackgroundProcess(
            TestPaths.fathom, ["dev", "--port", "0", "--data-dir", data],
            environment: ["FATHOM_BUNDLE_CACHE": directory.path + "/cache"])
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

    func startRun(_ flow: String, _ parameters: [String] = []) async throws -> FlowRunID {
        let (exit, output) = try await fathom(["run", flow] + parameters.flatMap { ["--param", $0] })
        #expect(exit == 0, "fathom run failed: \(output)")
        let line = try #require(output.first { $0.hasPrefix("flow run ") })
        return String(line.split(separator: " ")[2])
    }

    func waitFor(_ runID: FlowRunID, _ state: FlowRunState, timeout: Duration = .seconds(20)) async -> Bool {
        await eventually(timeout: timeout, every: .milliseconds(10)) { (try? await client.run(runID).state) == state }
    }
}
