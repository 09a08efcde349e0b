import FathomAPI
import FathomClient
import FathomCore
import Foundation
import Testing

/// schemathesis (installed by scripts/test) against docs/openapi.yaml and a real `fathom server --token`:
/// every operation of the API and the web UI, every check, all four phases (examples, coverage, fuzzing,
/// and the stateful phase that follows the spec's links), a fixed seed, 20 examples an operation.
/// The settings and the command are in Support/contract/schemathesis.toml. About two minutes: a slow suite.
@Suite struct SchemathesisContractTests {
    static let token = "contract-token"

    @Test func theCoordinatorAnswersAsItsSpecSays() async throws {
        let data = TemporaryDirectory("fathom-contract")
        let server = BackgroundProcess(TestPaths.fathom, [
            "server", "--port", "0", "--data-dir", data.path, "--token", Self.token,
            // Long-polls and event streams answer within 0.2 s (1 s), so the run fits CI.
            "--max-long-poll", "0.2", "--allow-bundle-prefix", "file:///nowhere",
            // Alert rules the fuzzer makes may only name this machine: nothing leaves loopback.
            "--alert-host", "127.0.0.1", "--alert-host", "localhost",
        ])
        defer { Task { await server.stop() } }
        let url = try #require(BackgroundProcess.url(in: try await server.waitForLine { $0.contains("listening on http://") }))
        // Runs and schedules of real flows, so the stateful phase reaches claims, states, logs and retries.
        try await registerTestFlows(APIClient(baseURL: url, token: Self.token))
        let signIn = try await RawHTTP.send(
            .POST, url + "/login", body: "token=\(Self.token)", headers: ["Content-Type": "application/x-www-form-urlencoded"])
        let cookie = try #require(signIn.headers["set-cookie"]?.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last)

        // schemathesis at the lowest priority (its generation is CPU-heavy); the timing tests beside it keep their cores.
        let (exit, output) = try await runCommand(
            "/usr/bin/nice", [
                "-n", "19", "st", "--config-file", Self.configPath,
                "run", OpenAPITests.specPath, "--url", url,
                "--checks", "all", "--exclude-checks", "ensure_resource_availability", "--seed", "1", "--max-examples", "20", "--workers", "1", "--no-color",
            ],
            environment: ["FATHOM_CONTRACT_TOKEN": Self.token, "FATHOM_CONTRACT_SESSION": String(cookie)])
        let report = output.joined(separator: "\n")
        let summary = String(report[(report.range(of: "SUMMARY")?.lowerBound ?? report.startIndex)...])
        #expect(exit.exitCode == 0, "schemathesis found problems:\n\(report.suffix(12_000))")

        // Every operation was tested, in every phase, and nothing failed or errored.
        let operations = try OpenAPITests().documentedRoutes().count
        #expect(summary.contains("Selected: \(operations)/\(operations)") && summary.contains("Tested: \(operations)"), "\(summary)")
        for phase in ["Examples", "Coverage", "Fuzzing", "Stateful"] {
            #expect(summary.contains("✅ \(phase)"), "\(phase) did not pass:\n\(summary)")
        }
        #expect(!summary.contains("failure") && !summary.contains("error"), "\(summary)")
        #expect(try await RawHTTP.send(.GET, url + "/healthz").status == 200, "the server lived through the run")
    }

    static var configPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Support/contract/schemathesis.toml").path
    }
}
