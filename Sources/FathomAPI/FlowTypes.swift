import FathomCore
import Foundation

/// What a flow bundle prints for `describe`: the flows it holds.
public struct BundleDescription: Codable, Sendable, Equatable {
    /// The describe format's version.
    public var format: Int
    public var flows: [FlowDescription]

    public init(format: Int = 1, flows: [FlowDescription]) {
        self.format = format
        self.flows = flows
    }
}

/// One flow of a bundle: its name, summary and parameters.
public struct FlowDescription: Codable, Sendable, Equatable {
    public var name: String
    public var summary: String
    public var parameters: [ParameterSpec]
    /// The flow's whole-run retry policy, if it declares one.
    public var retryPolicy: RunRetryPolicy?

    public init(name: String, summary: String = "", parameters: [ParameterSpec], retryPolicy: RunRetryPolicy? = nil) {
        self.name = name
        self.summary = summary
        self.parameters = parameters
        self.retryPolicy = retryPolicy
    }
}

/// Registers every flow of a stored bundle as a new flow version.
public struct RegisterFlowsRequest: Codable, Sendable {
    /// The bundle's sha256, hex.
    public var bundleSHA256: String
    /// Where the bundle is stored; `nil` means the coordinator's own storage.
    public var storageURL: String?
    public var flows: [FlowDescription]
    public var runConfig: RunConfig?
    /// Labels an agent must match to claim runs of these flows.
    public var labels: [String: String]?
    /// The work queue runs go to; `default` when absent.
    public var queue: String?
    /// A retry policy for every flow of the bundle, in place of what the flows declare.
    public var retryPolicy: RunRetryPolicy?

    public init(
        bundleSHA256: String, storageURL: String? = nil, flows: [FlowDescription],
        runConfig: RunConfig? = nil, labels: [String: String]? = nil, queue: String? = nil, retryPolicy: RunRetryPolicy? = nil
    ) {
        self.retryPolicy = retryPolicy
        self.bundleSHA256 = bundleSHA256
        self.storageURL = storageURL
        self.flows = flows
        self.runConfig = runConfig
        self.labels = labels
        self.queue = queue
    }
}

/// One registered version of a flow.
public struct FlowVersion: Codable, Sendable, Equatable {
    public var id: String
    public var flowName: String
    public var version: Int
    public var bundleSHA256: String
    public var storageURL: String
    public var summary: String
    public var parameters: [ParameterSpec]
    public var runConfig: RunConfig
    public var labels: [String: String]
    public var queue: String
    public var createdAt: Date
    /// Failed and Crashed runs of this version are retried by this policy.
    public var retryPolicy: RunRetryPolicy?

    public init(
        id: String, flowName: String, version: Int, bundleSHA256: String, storageURL: String, summary: String,
        parameters: [ParameterSpec], runConfig: RunConfig, labels: [String: String], queue: String, createdAt: Date,
        retryPolicy: RunRetryPolicy? = nil
    ) {
        self.retryPolicy = retryPolicy
        self.id = id
        self.flowName = flowName
        self.version = version
        self.bundleSHA256 = bundleSHA256
        self.storageURL = storageURL
        self.summary = summary
        self.parameters = parameters
        self.runConfig = runConfig
        self.labels = labels
        self.queue = queue
        self.createdAt = createdAt
    }
}

/// The answer to a registration.
public struct RegisterFlowsResponse: Codable, Sendable {
    public var versions: [FlowVersion]

    public init(versions: [FlowVersion]) {
        self.versions = versions
    }
}

/// A flow with its latest version and last run.
public struct FlowSummary: Codable, Sendable {
    public var name: String
    public var latest: FlowVersion
    public var versionCount: Int
    public var lastRun: FlowRun?
    /// Every registered version number, newest first.
    public var versions: [Int]
    /// The flow's schedules.
    public var schedules: [Schedule]

    public init(
        name: String, latest: FlowVersion, versionCount: Int, lastRun: FlowRun?, versions: [Int] = [], schedules: [Schedule] = []
    ) {
        self.versions = versions
        self.schedules = schedules
        self.name = name
        self.latest = latest
        self.versionCount = versionCount
        self.lastRun = lastRun
    }
}

/// The answer to a bundle upload.
public struct StoredBundleInfo: Codable, Sendable {
    public var sha256: String
    public var size: Int64
    public var storageURL: String

    public init(sha256: String, size: Int64, storageURL: String) {
        self.sha256 = sha256
        self.size = size
        self.storageURL = storageURL
    }
}
