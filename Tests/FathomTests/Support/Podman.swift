import Crypto
import FathomProcess
import Foundation

/// Real containers for the ECS tests: Debian's podman with runc (crun fails on this kernel's cgroups),
/// a Debian base image made by debootstrap with the runner's packages (no image registry), and the runner
/// image built from the Dockerfile's `runner` stage with the static binaries built on the host.
enum Podman {
    static let baseImage = "localhost/fathom-base:bookworm"
    static let runtimeArguments = ["--runtime", "runc"]
    /// Limits passed explicitly, within this process's own hard limits: podman's defaults (and anything
    /// above the hard limit) fail on these machines with "error setting rlimits … operation not permitted".
    static let ulimits: [String] = {
        func hard(_ resource: UInt32, cap: rlim_t) -> rlim_t {
            var limit = rlimit()
            guard getrlimit(__rlimit_resource_t(resource), &limit) == 0 else { return 1024 }
            return min(limit.rlim_max, cap)
        }
        let files = hard(7, cap: 65536)  // RLIMIT_NOFILE
        let processes = hard(6, cap: 8192)  // RLIMIT_NPROC
        return ["--ulimit", "nofile=\(files):\(files)", "--ulimit", "nproc=\(processes):\(processes)"]
    }()

    /// Why real containers cannot run here, or nil when they can (podman, runc and debootstrap
    /// installed, running as root, the static binaries built).
    static let unavailableReason: String? = {
        for tool in ["/usr/bin/podman", "/usr/sbin/runc", "/usr/sbin/debootstrap"] where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is missing (apt-get install podman runc debootstrap; scripts/test installs them)"
        }
        guard getuid() == 0 else { return "rootless podman is not set up here; run the tests as root" }
        for binary in ["fathom", "fathom-examples"] where !FileManager.default.isExecutableFile(atPath: StaticBinaries.directory + "/" + binary) {
            return "\(StaticBinaries.directory)/\(binary) is not built (scripts/test builds it first)"
        }
        return nil
    }()

    static var isUsable: Bool { unavailableReason == nil }

    /// Runs `podman ARGS` and returns its exit status and output lines.
    @discardableResult
    static func run(_ arguments: [String]) async throws -> (status: Int32, output: [String]) {
        let result = try await runCommand("/usr/bin/podman", arguments)
        return (result.exit.exitCode ?? -1, result.output)
    }

    /// Runs `podman ARGS`, failing the test with its output when it fails.
    @discardableResult
    static func must(_ arguments: [String]) async throws -> [String] {
        let (status, output) = try await run(arguments)
        guard status == 0 else { throw TestFailure("podman \(arguments.prefix(4).joined(separator: " ")) … exited \(status): \(output.suffix(8))") }
        return output
    }

    /// The runner image for the static binaries as they are now: built once per binary content.
    static func runnerImage() async throws -> String {
        try await ImageBuilds.shared.runnerImage()
    }
}

/// Builds the images once per test process, even when suites ask at once.
actor ImageBuilds {
    static let shared = ImageBuilds()
    private var runner: Task<String, any Error>?

    func runnerImage() async throws -> String {
        if let runner { return try await runner.value }
        let task = Task { try await Self.buildRunner() }
        runner = task
        return try await task.value
    }

    /// `FROM` the base image, then the runner stage's instructions: its `RUN` (packages and the user) is
    /// what debootstrap and the chroot did for the base; `COPY --from=build /out/…` takes the host's
    /// static binaries; USER, WORKDIR, ENTRYPOINT and CMD as written.
    static func buildRunner() async throws -> String {
        let stage = RunnerStage.read()
        try await ensureBase(packages: stage.packages, setup: stage.userSetup)
        let context = TemporaryDirectory("runner-image")
        var hasher = SHA256()
        var lines = ["FROM \(Podman.baseImage)"]
        for instruction in stage.instructions {
            if instruction.hasPrefix("COPY --from=build ") {
                let words = instruction.split(separator: " ").map(String.init).dropFirst(2)
                let sources = words.dropLast().map { ($0 as NSString).lastPathComponent }
                for name in sources {
                    let data = try Data(contentsOf: URL(fileURLWithPath: StaticBinaries.directory + "/" + name))
                    hasher.update(data: data)
                    try data.write(to: URL(fileURLWithPath: context.file(name)))
                    chmod(context.file(name), 0o755)
                }
                lines.append("COPY \(sources.joined(separator: " ")) \(words.last ?? "/usr/local/bin/")")
            } else {
                hasher.update(data: Data(instruction.utf8))
                lines.append(instruction)
            }
        }
        let tag = "localhost/fathom-runner:test-" + hasher.finalize().prefix(6).map { String(format: "%02x", $0) }.joined()
        if try await Podman.run(["image", "exists", tag]).status == 0 { return tag }
        try lines.joined(separator: "\n").appending("\n").write(toFile: context.file("Containerfile"), atomically: true, encoding: .utf8)
        try await Podman.must(["build", "--quiet", "--tag", tag, context.path])
        return tag
    }

    /// `debootstrap --variant=minbase --include=PACKAGES bookworm` with the runner's user, imported as the base image.
    static func ensureBase(packages: [String], setup: String) async throws {
        let tag = Podman.baseImage + "-" + Insecure.SHA1.hash(data: Data((packages.joined(separator: ",") + setup).utf8)).prefix(4).map { String(format: "%02x", $0) }.joined()
        if try await Podman.run(["image", "exists", tag]).status == 0 {
            try await Podman.must(["tag", tag, Podman.baseImage])
            return
        }
        let root = TemporaryDirectory("rootfs")
        let mirror = "http://deb.debian.org/debian"
        let bootstrap = try await runCommand("/usr/sbin/debootstrap", [
            "--variant=minbase", "--include=\(packages.joined(separator: ","))", "bookworm", root.file("fs"), mirror,
        ])
        guard bootstrap.exit.exitCode == 0 else { throw TestFailure("debootstrap failed: \(bootstrap.output.suffix(10))") }
        if !setup.isEmpty {
            let chrooted = try await runCommand("/usr/sbin/chroot", [root.file("fs"), "/bin/sh", "-c", setup])
            guard chrooted.exit.exitCode == 0 else { throw TestFailure("\(setup) in the rootfs failed: \(chrooted.output.suffix(5))") }
        }
        let imported = try await runCommand("/bin/sh", ["-c", "tar -C '\(root.file("fs"))' -c . | /usr/bin/podman import - '\(tag)'"])
        guard imported.exit.exitCode == 0 else { throw TestFailure("podman import failed: \(imported.output.suffix(5))") }
        try await Podman.must(["tag", tag, Podman.baseImage])
    }
}

/// The Dockerfile's `runner` stage, read for the image build.
struct RunnerStage {
    /// Packages its `RUN apt-get install` installs.
    var packages: [String]
    /// The rest of that `RUN` after the apt lines (creating the user).
    var userSetup: String
    /// Its other instructions, continuation lines joined.
    var instructions: [String]

    static func read(dockerfile: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../Dockerfile").standardized.path) -> RunnerStage {
        let text = (try? String(contentsOfFile: dockerfile, encoding: .utf8)) ?? ""
        let joined = text.replacingOccurrences(of: "\\\n", with: " ")
        var inStage = false
        var stage = RunnerStage(packages: [], userSetup: "", instructions: [])
        for raw in joined.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.uppercased().hasPrefix("FROM ") {
                inStage = line.hasSuffix(" AS runner")
                continue
            }
            guard inStage else { continue }
            if line.hasPrefix("RUN ") {
                for command in line.dropFirst(4).components(separatedBy: "&&").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                    if command.hasPrefix("apt-get install") {
                        stage.packages += command.split(separator: " ").dropFirst(2).map(String.init).filter { !$0.hasPrefix("-") }
                    } else if !command.hasPrefix("apt-get") && !command.hasPrefix("rm -rf /var/lib/apt") {
                        stage.userSetup += (stage.userSetup.isEmpty ? "" : " && ") + command
                    }
                }
            } else {
                stage.instructions.append(line)
            }
        }
        return stage
    }
}

/// Where the static binaries are (`swift build -c release --static-swift-stdlib --scratch-path .build-static`).
enum StaticBinaries {
    static var directory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../.build-static/release").standardized.path
    }
}
