import FathomAPI
import FathomClient
import FathomCore
import FathomProcess
import FathomRunner
import Foundation
import Synchronization

/// Runs each flow run as a child process on this machine: the agent fetches and verifies the run's bundle
/// into its cache (as `fathom execute` does in an ECS task), then starts `<bundle> run --flow-run ID` in its
/// own process group, with named volumes mapped to local directories.
public struct LocalLauncher: Launcher {
    public let kind = LauncherKind.local
    /// The coordinator URL the flow process talks to.
    public var apiURL: String
    /// The API token handed to the flow process (`FATHOM_TOKEN`), if the coordinator needs one.
    public var token: String?
    /// Volume name → local directory.
    public var volumes: [String: String]
    /// Where bundles come from and shipped process output goes.
    let client: APIClient
    /// Where verified bundles are cached, one file per sha256.
    let bundleCache: String

    /// A launcher that starts flow processes against `apiURL`, with `volumes` as `FATHOM_VOLUMES`; nil `bundleCache`
    /// is `FATHOM_BUNDLE_CACHE` or `~/.fathom/cache/bundles`.
    public init(apiURL: String, token: String?, volumes: [String: String], client: APIClient, bundleCache: String? = nil) {
        self.apiURL = apiURL
        self.token = token
        self.volumes = volumes
        self.client = client
        self.bundleCache = bundleCache ?? BundleRunner.defaultCacheDirectory(environment: ProcessInfo.processInfo.environment)
    }

    public func launch(_ claimed: ClaimedRun) async throws -> any LaunchedRun {
        let settings = try LocalRunSettings(claimed.version.runConfig.launcher == .local ? claimed.version.runConfig.settings : .object([:]))
        for (name, path) in volumes {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw LaunchError("volume '\(name)' maps to \(path), which cannot be created: \(error.localizedDescription)")
            }
        }
        let bundle: String
        do {
            bundle = try await BundleRunner(client: client, runID: claimed.run.id, cacheDirectory: bundleCache).fetch(claimed.version)
        } catch {
            throw LaunchError("cannot fetch the flow bundle: \(error)")
        }
        var environment = settings.env
        environment["FATHOM_API_URL"] = apiURL
        environment["FATHOM_FLOW_RUN_ID"] = claimed.run.id
        environment["FATHOM_BUNDLE_SHA256"] = claimed.version.bundleSHA256
        environment["FATHOM_VOLUMES"] = String(decoding: try JSONEncoder().encode(volumes), as: UTF8.self)
        if let token { environment["FATHOM_TOKEN"] = token }
        let process = ChildProcess(
            executable: bundle, arguments: ["run", "--flow-run", claimed.run.id, "--api-url", apiURL], environment: environment)
        return try await LocalLaunchedRun.start(process, runID: claimed.run.id, client: client)
    }
}

extension LocalLauncher {
    /// A flow process survives its agent (it has its own process group): watch it by its pid.
    /// Adopts a flow process an earlier agent of this name started, when it is on this machine, in this
    /// boot, and still the same process (a pid can be reused); one on another host is not this agent's to judge.
    public func reattach(_ run: FlowRun, version: FlowVersion) async throws -> (any LaunchedRun)? {
        guard let pid = run.infrastructure[.pid].flatMap({ Int32($0) }) else { return nil }
        if let boot = run.infrastructure[.bootID], boot != ProcessIdentity.bootID {
            throw NotThisAgentsRun(
                "its flow process is pid \(pid) on host \(run.infrastructure[.host] ?? "unknown") (another host or boot), which this agent cannot see; its heartbeats decide")
        }
        guard kill(pid, 0) == 0 else { return nil }
        if let started = run.infrastructure[.pidStart], !started.isEmpty, started != ProcessIdentity.startTime(of: pid) { return nil }
        return AdoptedProcess(pid: pid, infrastructure: run.infrastructure)
    }
}

/// A run an earlier agent of this name launched somewhere this one cannot reach: left to its heartbeats.
public struct NotThisAgentsRun: Error, CustomStringConvertible {
    /// What happened, in a line.
    public var description: String

    /// The error with its line.
    public init(_ description: String) {
        self.description = description
    }
}

/// What tells a process apart beyond its pid: the machine's boot and the process's start time.
enum ProcessIdentity {
    /// This boot of this machine (`/proc/sys/kernel/random/boot_id`).
    static let bootID: String = {
        let text = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? ""  // no boot id (not Linux): pids are then matched by start time alone
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }()

    /// When `pid` started, in clock ticks since boot (field 22 of `/proc/<pid>/stat`); nil when unknown.
    static func startTime(of pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),  // no such process (or not Linux): nil means unknown
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command's closing parenthesis start at field 3.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }
}

/// A flow process started by an earlier agent: not our child, so its exit status is unknown.
final class AdoptedProcess: LaunchedRun {
    let pid: Int32
    let infrastructure: [String: String]

    init(pid: Int32, infrastructure: [String: String]) {
        self.pid = pid
        self.infrastructure = infrastructure
    }

    func wait() async -> LaunchOutcome {
        while kill(pid, 0) == 0 { try? await Task.sleep(for: .milliseconds(500)) }
        return LaunchOutcome(summary: "the flow process \(pid) (adopted after an agent restart) exited")
    }

    func stop(reason: String) async {
        ChildProcess.terminateGroup(pid, grace: .seconds(10))
    }
}

/// A launch that failed before anything ran.
public struct LaunchError: Error, CustomStringConvertible {
    /// What happened, in a line.
    public var description: String
    /// Why the launch failed, when a retry rule can act on it (no capacity).
    public var cause: EndCause?

    /// The error with its line.
    public init(_ description: String, cause: EndCause? = nil) {
        self.description = description
        self.cause = cause
    }
}

/// A running child process and the task that watches it.
final class LocalLaunchedRun: LaunchedRun {
    let infrastructure: [String: String]
    private let watcher: Task<LaunchOutcome, Never>

    private init(infrastructure: [String: String], watcher: Task<LaunchOutcome, Never>) {
        self.infrastructure = infrastructure
        self.watcher = watcher
    }

    /// Starts the process and returns once it has a process id (or failed to start).
    static func start(_ process: ChildProcess, runID: FlowRunID, client: APIClient) async throws -> LocalLaunchedRun {
        // The process's own output: kept even when it arrives after the run ended (marked late).
        let sink = CoordinatorEventSink(client: client, runID: runID, processOutput: true)
        let (started, startedContinuation) = AsyncStream<Result<Int32, any Error>>.makeStream()
        let watcher = Task<LaunchOutcome, Never> {
            do {
                let exit = try await process.run(onStart: { pid in startedContinuation.yield(.success(pid)) }) { stream, line in
                    sink.log(LogEntry(timestamp: Date(), level: stream == .stderr ? .warning : .info, message: line, source: LogSource(rawValue: stream.rawValue)))
                }
                await sink.close()
                return LaunchOutcome(summary: "the flow process \(exit)", details: exit.crashReport)
            } catch {
                startedContinuation.yield(.failure(error))
                await sink.close()
                return LaunchOutcome(summary: "the flow process could not be run: \(error)")
            }
        }
        var iterator = started.makeAsyncIterator()
        switch await iterator.next() {
        case .success(let pid):
            return LocalLaunchedRun(
                infrastructure: [String: String](facts: [
                    .launcher: LauncherKind.local.rawValue, .pid: String(pid), .command: ([process.executable] + process.arguments).joined(separator: " "),
                    .host: ProcessInfo.processInfo.hostName, .bootID: ProcessIdentity.bootID,
                    .pidStart: ProcessIdentity.startTime(of: pid) ?? "",
                ]),
                watcher: watcher)
        case .failure(let error):
            throw LaunchError("cannot start \(process.executable): \(error)")
        case nil:
            throw LaunchError("cannot start \(process.executable)")
        }
    }

    func wait() async -> LaunchOutcome {
        await watcher.value
    }

    func stop(reason: String) async {
        watcher.cancel()
    }
}
