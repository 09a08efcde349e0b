import Foundation
import Testing

/// `swift build -c release --static-swift-stdlib` makes a `fathom` and example bundles that run where
/// no Swift is installed. Slow: a release build (scripts/test builds it before the tests run, so
/// this only checks it is up to date).
@Suite(.serialized)
struct StaticBinaryTests {
    static var root: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    static var directory: String { root + "/.build-static/release" }

    /// The same commands as the Dockerfile's build stage.
    static func build() async throws {
        for product in ["fathom", "fathom-examples"] {
            let result = try await runCommand("/bin/sh", ["-c",
                "cd '\(root)' && swift build -c release --static-swift-stdlib --scratch-path .build-static --product \(product) 2>&1 | tail -5"])
            #expect(result.exit.exitCode == 0, "\(result.output)")
        }
    }

    @Test(.timeLimit(.minutes(30))) func theStaticBinariesRunWithACleanEnvironment() async throws {
        try await Self.build()
        let fathom = Self.directory + "/fathom"
        let examples = Self.directory + "/fathom-examples"
        for binary in [fathom, examples] {
            let ldd = try await runCommand("/usr/bin/ldd", [binary])
            let swiftLibraries = ldd.output.filter { $0.contains("libswift") || $0.contains("libFoundation") || $0.contains("libdispatch") || $0.contains("/opt/swift") }
            #expect(swiftLibraries.isEmpty, "\(binary) needs Swift's libraries: \(swiftLibraries)")
        }
        let work = TemporaryDirectory("fathom-static")
        let clean = ["-i", "PATH=/usr/bin:/bin", "HOME=\(work.path)"]
        let help = try await runCommand("/usr/bin/env", clean + [fathom, "--help"])
        #expect(help.exit.exitCode == 0)
        #expect(help.output.contains { $0.contains("USAGE: fathom") })
        let describe = try await runCommand("/usr/bin/env", clean + [examples, "describe"])
        #expect(describe.exit.exitCode == 0)
        #expect(describe.output.joined().contains("\"name\":\"hello\""))
        let demo = try await runCommand(
            "/usr/bin/env", clean + [fathom, "demo", "--data-dir", work.path + "/.fathom", "--bundle", examples])
        #expect(demo.exit.exitCode == 0, "\(demo.output.suffix(10))")
        #expect(demo.output.last?.contains("(hello) Completed") == true)
    }
}
