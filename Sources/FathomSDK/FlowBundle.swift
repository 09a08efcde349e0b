import FathomAPI
import FathomCore
import Foundation

/// A flow bundle: an executable that declares its flows with one `@main` type.
///
/// ```swift
/// @main
/// struct MyFlows: FlowBundle {
///     static let flows: [any Flow.Type] = [Hello.self, SortCompress.self]
/// }
/// ```
/// The executable answers `describe` (JSON: its flows and their parameters) and
/// `run --flow-run ID` (executes that run against the coordinator at `FATHOM_API_URL`).
public protocol FlowBundle {
    /// Every flow this bundle holds.
    static var flows: [any Flow.Type] { get }
}

extension FlowBundle {
    /// The bundle's entry point.
    public static func main() async {
        let code = await BundleCommand(flows: flows).run(arguments: Array(CommandLine.arguments.dropFirst()))
        exit(code)
    }

    /// What `describe` prints.
    public static var bundleDescription: BundleDescription {
        BundleDescription(flows: flows.map { $0.flowDescription })
    }
}

/// Parses a bundle's command line.
struct BundleCommand {
    let flows: [any Flow.Type]

    static let usage = """
        usage: BUNDLE describe
               BUNDLE run --flow-run ID [--api-url URL]

        Environment: FATHOM_API_URL, FATHOM_TOKEN, FATHOM_VOLUMES (JSON {"name": "/path"}).
        """

    func run(arguments: [String]) async -> Int32 {
        switch arguments.first {
        case "describe":
            let description = BundleDescription(flows: flows.map { $0.flowDescription })
            let data: Data
            do {
                data = try APICoding.encode(description)
            } catch {
                fail("cannot describe the bundle's flows: \(error)")
                return 1
            }
            FileHandle.standardOutput.write(data + Data("\n".utf8))
            return 0
        case "run":
            var runID: String?
            var apiURL = ProcessInfo.processInfo.environment["FATHOM_API_URL"] ?? APIClient.defaultURL
            var index = 1
            while index < arguments.count {
                switch arguments[index] {
                case "--flow-run" where index + 1 < arguments.count: runID = arguments[index + 1]; index += 2
                case "--api-url" where index + 1 < arguments.count: apiURL = arguments[index + 1]; index += 2
                default:
                    fail("unknown argument '\(arguments[index])'\n\(Self.usage)")
                    return 64
                }
            }
            guard let runID, Identifier.isValid(runID) else {
                fail("--flow-run needs a flow run id\n\(Self.usage)")
                return 64
            }
            let environment = ProcessInfo.processInfo.environment
            let volumes: [String: String]
            do {
                volumes = try VolumeEnvironment.volumes(from: environment)
            } catch {
                fail(error.description)  // the agent puts the last stderr lines in the run's Crashed reason
                return 78
            }
            let client = APIClient(baseURL: apiURL, token: environment["FATHOM_TOKEN"])
            let executor = FlowRunExecutor(
                client: client, runID: runID, flows: flows, volumes: volumes,
                heartbeatInterval: .seconds(Double(environment["FATHOM_HEARTBEAT_SECONDS"] ?? "").flatMap { (0.05...3600).contains($0) ? $0 : nil } ?? 10),
                maxConcurrentTasks: Int(environment["FATHOM_TASK_CONCURRENCY"] ?? "").flatMap { (1...10_000).contains($0) ? $0 : nil } ?? 16,
                coordinatorGrace: .seconds(
                    Double(environment["FATHOM_COORDINATOR_GRACE"] ?? "").flatMap { (0...86_400).contains($0) ? $0 : nil } ?? 120))
            return await executor.execute()
        case "-h", "--help", "help", nil:
            print(Self.usage)
            return arguments.isEmpty ? 64 : 0
        default:
            fail("unknown command '\(arguments[0])'\n\(Self.usage)")
            return 64
        }
    }

    func fail(_ message: String) {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    }
}
