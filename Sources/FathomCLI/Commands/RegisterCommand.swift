import ArgumentParser
import FathomAPI
import FathomCore
import Foundation

/// `fathom register BUNDLE`: registers every flow the bundle describes.
struct RegisterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register", abstract: "Register every flow of a flow bundle (a new version of each).")

    @OptionGroup var client: ClientOptions

    @Argument(help: "The flow bundle executable.")
    var bundle: String

    @Option(name: .customLong("run-config"), help: "A run config file (YAML or JSON) with one launcher key: local: or ecs:.")
    var runConfig: String?

    @Option(name: .customLong("label"), help: "A label an agent must have to run these flows (key=value); repeat for more.")
    var labels: [String] = []

    @Option(help: "The work queue runs of these flows go to.")
    var queue: String?

    @Option(help: "Store the bundle in S3 (s3://bucket/prefix) with this machine's AWS credentials, instead of in the coordinator.")
    var storage: String?

    @OptionGroup var retry: RetryPolicyOptions

    func run() async throws {
        let config = try runConfig.map(RunConfigFile.load)
        let retryPolicy = try retry.policy()
        let versions = try await BundleRegistrar(client: client.makeClient()).register(
            bundleAt: bundle, runConfig: config, labels: try KeyValueArguments.parse(labels, option: "--label"), queue: queue,
            storage: storage ?? ProcessInfo.processInfo.environment["FATHOM_STORAGE"], retryPolicy: retryPolicy)
        if let stored = versions.first?.storageURL { print("bundle \(versions[0].bundleSHA256.prefix(12)) stored at \(stored)") }
        for version in versions {
            let parameters = version.parameters.map { "\($0.name): \($0.type.rawValue)" }.joined(separator: ", ")
            let retry = version.retryPolicy.map { "; " + RetryPolicyOptions.describe($0) } ?? ""
            print("registered \(version.flowName) v\(version.version) (\(version.runConfig.launcher); parameters: \(parameters.isEmpty ? "none" : parameters)\(retry))")
        }
    }
}
