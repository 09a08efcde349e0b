import AWS
import ArgumentParser
import FathomCore
import Foundation

/// `fathom aws …`: AWS helpers.
struct AWSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aws", abstract: "Check the AWS setup Fathom will use.", subcommands: [WhoAmICommand.self, S3CopyCommand.self])
}

/// `fathom aws whoami`: who Fathom is in AWS, and where that came from.
struct WhoAmICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whoami", abstract: "Print the AWS account, ARN, region, endpoint and credential source (never the secret).")

    @Option(help: "The region (default: AWS_REGION, AWS_DEFAULT_REGION, or the profile's).")
    var region: String?

    func run() async throws {
        let configuration = try AWSConfiguration(region: region)
        let chain = CredentialChain.standard()
        let client = AWSClient(configuration: configuration, credentials: chain)
        let identity = try await STSClient(client: client).getCallerIdentity()
        let credentials = try await chain.resolve()
        print("account:     \(identity.account)")
        print("arn:         \(identity.arn)")
        print("user id:     \(identity.userID)")
        print("region:      \(configuration.region) (from \(configuration.regionSource))")
        print("endpoint:    \(configuration.endpoint(for: .sts))")
        print("credentials: \(credentials.accessKeyID) from \(credentials.source)\(credentials.expiration.map { ", expires \($0.formatted(.iso8601))" } ?? "")")
    }
}

/// `fathom aws cp`: copy a file to or from S3, streamed (multipart above 64 MiB).
struct S3CopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cp", abstract: "Copy a local file to s3://bucket/key, or an S3 object to a local file.")

    @Argument(help: "The source: a local path or s3://bucket/key.")
    var source: String

    @Argument(help: "The destination: a local path or s3://bucket/key.")
    var destination: String

    @Option(help: "The region (default: AWS_REGION, AWS_DEFAULT_REGION, or the profile's).")
    var region: String?

    func run() async throws {
        let client = AWSClient(configuration: try AWSConfiguration(region: region), credentials: CredentialChain.standard())
        let s3 = S3Client(client: client)
        let started = ContinuousClock.now
        let bytes: Int64
        switch (S3Location(source), S3Location(destination)) {
        case (nil, let target?):
            guard FileManager.default.fileExists(atPath: source) else { throw ValidationError("no such file: \(source)") }
            try await s3.putObject(bucket: target.bucket, key: target.key, fromFile: source)
            bytes = (try FileManager.default.attributesOfItem(atPath: source)[.size] as? NSNumber)?.int64Value ?? 0
        case (let origin?, nil):
            bytes = try await s3.getObject(bucket: origin.bucket, key: origin.key, toFile: destination)
        default:
            throw ValidationError("exactly one of SOURCE and DESTINATION must be s3://bucket/key")
        }
        let seconds = (ContinuousClock.now - started).inSeconds
        print(String(format: "copied %lld bytes in %.2f s (%.1f MiB/s)", bytes, seconds, Double(bytes) / 1_048_576 / max(seconds, 1e-9)))
    }
}

/// `s3://bucket/key`.
struct S3Location {
    var bucket: String
    var key: String

    init?(_ text: String) {
        guard text.hasPrefix("s3://") else { return nil }
        let rest = text.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex else { return nil }
        bucket = String(rest[..<slash])
        key = String(rest[rest.index(after: slash)...])
        guard !key.isEmpty else { return nil }
    }
}
