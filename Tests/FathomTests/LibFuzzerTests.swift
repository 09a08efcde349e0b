import Foundation
import Testing

/// libFuzzer (the toolchain's `-sanitize=fuzzer`) on the parsers of user input, through scripts/fuzz
/// (scripts/test builds it first): each target runs its stated number of inputs, seed 1, and must end
/// with no crash, hang (10 s an input) or leak. The planted self-check shows that a finding fails the run.
@Suite(.serialized) struct LibFuzzerTests {
    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/fuzz").path
    }

    @Test(arguments: [("form", 300_000), ("cron", 150_000), ("sizes", 300_000), ("bzip2", 5_000)])
    func aParserRunsItsStatedInputsWithoutAFinding(target: String, runs: Int) async throws {
        // At the lowest priority: the fuzzer takes a core for seconds, and the timing tests running beside it keep theirs.
        let (exit, output) = try await runCommand("/usr/bin/nice", ["-n", "19", Self.script, target])
        let text = output.joined(separator: "\n")
        #expect(exit.exitCode == 0, "\(target): \(text.suffix(3000))")
        #expect(text.contains("Done \(runs) runs"), "\(target) ran \(runs) inputs: \(text.suffix(3000))")
        #expect(text.contains("inline 8-bit counters"), "the code under test is instrumented")
    }

    @Test func aFindingFailsTheRun() async throws {
        let (exit, output) = try await runCommand("/usr/bin/nice", ["-n", "19", Self.script, "self-check", "5000000"])
        let text = output.joined(separator: "\n")
        #expect(exit.exitCode == 1, "\(text.suffix(3000))")
        #expect(text.contains("libFuzzer found the planted input") && text.contains("found a problem"), "\(text.suffix(3000))")
    }
}
