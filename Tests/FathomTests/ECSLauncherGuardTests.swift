import FathomAPI
import FathomClient
import FathomAgent
import Foundation
import Testing

/// The ECS launcher refuses what containers cannot use.
struct ECSLauncherGuardTests {
    @Test(arguments: ["http://127.0.0.1:4200", "http://localhost:4200", "http://[::1]:4200", "http://0.0.0.0:4200", "not a url"])
    func aLoopbackRunnerURLIsRefused(_ url: String) {
        #expect(throws: LaunchError.self) {
            _ = try ECSLauncher(api: APIClient(baseURL: "http://127.0.0.1:4200"), runnerAPIURL: url, token: nil, environment: [:])
        }
    }

    @Test func theAgentCommandNeedsARunnerURLForECS() async throws {
        let result = try await runCommand(TestPaths.fathom, ["agent", "--launcher", "ecs", "--api-url", "http://127.0.0.1:9"])
        #expect(result.exit.exitCode != 0)
        #expect(result.output.contains { $0.contains("--launcher ecs needs --runner-api-url") })
        let loopback = try await runCommand(
            TestPaths.fathom, ["agent", "--launcher", "ecs", "--runner-api-url", "http://127.0.0.1:4200", "--api-url", "http://127.0.0.1:9"])
        #expect(loopback.exit.exitCode != 0)
        #expect(loopback.output.contains { $0.contains("is not reachable from an ECS task") })
    }
}
