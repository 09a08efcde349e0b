import Foundation
import Testing

/// The Dockerfile passes hadolint and builds with the commands the static binary test runs.
struct DockerfileTests {
    static var root: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    @Test func theDockerfilePassesHadolintAndMatchesTheTestedBuild() async throws {
        let dockerfile = Self.root + "/Dockerfile"
        // pip puts hadolint in Python's scripts folder, which may not be on PATH yet.
        let script = "PATH=\"$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path(\"scripts\"))')\" hadolint --no-color '\(dockerfile)' && echo clean"
        let result = try await runCommand("/bin/sh", ["-c", script])
        #expect(result.output.last == "clean", "\(result.output)")
        let text = try String(contentsOfFile: dockerfile, encoding: .utf8)
        for product in ["fathom", "fathom-examples"] {
            #expect(text.contains("swift build -c release --static-swift-stdlib --scratch-path .build-static --product \(product)"))
        }
        #expect(text.contains("AS runner") && text.contains("AS agent"))
    }
}
