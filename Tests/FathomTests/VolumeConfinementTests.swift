import FathomAPI
import FathomCore
import Foundation
import Testing

/// Paths a flow takes from its parameters stay on their volume: `..`, absolute paths elsewhere and
/// symbolic links that lead out are refused, with the field named (the janitor's links: ToolkitFlowTests).
@Suite(.serialized)
struct VolumeConfinementTests {
    /// The run's final state and everything it logged.
    func outcome(_ stack: DevStack, _ runID: FlowRunID) async throws -> (state: FlowRunState, text: String) {
        #expect(await eventually(timeout: .seconds(30)) { (try? await stack.client.run(runID).state.isFinal) == true })
        let run = try await stack.client.run(runID)
        let logs = try await stack.client.logs(runID, limit: 1000).lines.map(\.message)
        return (run.state, ([run.stateMessage] + logs).joined(separator: "\n"))
    }

    @Test func helloAndSortCompressStayOnTheirVolume() async throws {
        let stack = try await DevStack()
        defer { Task { await stack.process.stop() } }
        #expect(try await stack.fathom(["register", TestPaths.examples]).exit == 0)
        let outside = TemporaryDirectory("fathom-outside")
        try "secret\n".write(toFile: outside.file("in.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: stack.scratch, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: stack.scratch + "/link", withDestinationPath: outside.path)
        let escape = ConfinedPathTestPaths.lexical(stack.scratch + "/../../../escape-test")

        for (folder, reason) in [
            ("../../../escape-test", "leads outside"), (outside.path, "leads outside"), ("link", "symbolic link"), ("link/deeper", "symbolic link"),
        ] {
            let run = try await stack.startRun("hello", ["folder=\(folder)"])
            let (state, text) = try await outcome(stack, run)
            #expect(state == .failed, "folder=\(folder): \(state)")
            #expect(text.contains("folder") && text.contains(reason), "folder=\(folder): \(text)")
        }
        #expect(!FileManager.default.fileExists(atPath: escape), "nothing was written at \(escape)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path) == ["in.txt"], "nothing was written through the link")

        for input in ["../../../../\(outside.path)/in.txt", outside.file("in.txt"), "link/in.txt"] {
            let run = try await stack.startRun("sort-compress", ["input=\(input)"])
            let (state, text) = try await outcome(stack, run)
            #expect(state == .failed && text.contains("input"), "input=\(input): \(state) \(text)")
        }
        // A huge size is refused before a run exists (the flow's declared range), not trapped on.
        let (hugeExit, hugeOutput) = try await stack.fathom(["run", "sort-compress", "--param", "gib=1e300"])
        #expect(hugeExit != 0 && hugeOutput.joined().contains("parameters.gib") && hugeOutput.joined().contains("maximum 4096"), "\(hugeOutput)")

        // Paths that stay inside work, nested or through a link that stays inside.
        try FileManager.default.createDirectory(atPath: stack.scratch + "/real", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: stack.scratch + "/inner", withDestinationPath: stack.scratch + "/real")
        for folder in ["nested/deeper", "inner/hello", "./a/../b"] {
            let run = try await stack.startRun("hello", ["folder=\(folder)"])
            let (state, text) = try await outcome(stack, run)
            #expect(state == .completed, "folder=\(folder): \(text)")
        }
        #expect(FileManager.default.fileExists(atPath: stack.scratch + "/real/hello"))
    }
}

/// The lexical normalisation the tests compare with (`/a/b/../c` → `/a/c`).
enum ConfinedPathTestPaths {
    static func lexical(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
