import Foundation

/// The AWS services Fathom talks to.
public enum AWSService: String, Sendable, CaseIterable {
    case ecs, efs, ec2, s3, logs, sts, cloudformation, secretsmanager

    /// The SigV4 signing name.
    public var signingName: String {
        switch self {
        case .efs: return "elasticfilesystem"
        default: return rawValue
        }
    }

    /// The endpoint host prefix.
    var hostPrefix: String {
        switch self {
        case .efs: return "elasticfilesystem"
        default: return rawValue
        }
    }

    /// The `AWS_ENDPOINT_URL_<ID>` suffix, from the service's SDK id.
    public var endpointEnvironmentKey: String {
        switch self {
        case .logs: return "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"
        case .secretsmanager: return "AWS_ENDPOINT_URL_SECRETS_MANAGER"
        default: return "AWS_ENDPOINT_URL_\(rawValue.uppercased())"
        }
    }
}

/// Region and endpoints, resolved the way the AWS CLI does.
public struct AWSConfiguration: Sendable {
    public var region: String
    /// Where the region came from, for `fathom aws whoami`.
    public var regionSource: String
    let environment: [String: String]
    /// Endpoints set in code (tests); they win over the environment.
    public var endpointOverrides: [AWSService: String] = [:]

    /// Region from `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's `region`; `explicitRegion` wins.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, region explicitRegion: String? = nil) throws {
        self.environment = environment
        if let explicitRegion, !explicitRegion.isEmpty {
            region = explicitRegion
            regionSource = "configuration"
        } else if let value = environment["AWS_REGION"], !value.isEmpty {
            region = value
            regionSource = "AWS_REGION"
        } else if let value = environment["AWS_DEFAULT_REGION"], !value.isEmpty {
            region = value
            regionSource = "AWS_DEFAULT_REGION"
        } else if let value = SharedConfigFiles(environment: environment).configValue("region") {
            region = value
            regionSource = "profile \(SharedConfigFiles(environment: environment).profileName)"
        } else {
            throw AWSError.credentials("no AWS region set: set AWS_REGION (e.g. eu-west-1), or 'region' in ~/.aws/config, or 'region:' in the run config")
        }
    }

    /// The endpoint for a service: an override, `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, or AWS's own.
    public func endpoint(for service: AWSService) -> String {
        if let override = endpointOverrides[service] { return trimmed(override) }
        if let value = environment[service.endpointEnvironmentKey], !value.isEmpty { return trimmed(value) }
        if let value = environment["AWS_ENDPOINT_URL"], !value.isEmpty { return trimmed(value) }
        return "https://\(service.hostPrefix).\(region).\(partition.dnsSuffix)"
    }

    /// The partition of the region: its endpoints' DNS suffix and its ARNs' prefix.
    public var partition: AWSPartition { AWSPartition(region: region) }

    /// Whether the endpoint is a custom one (moto, LocalStack): S3 then uses path-style addressing.
    public func hasCustomEndpoint(for service: AWSService) -> Bool {
        !endpoint(for: service).hasSuffix("." + partition.dnsSuffix)
    }

    private func trimmed(_ url: String) -> String {
        url.hasSuffix("/") ? String(url.dropLast()) : url
    }
}

/// An AWS partition, chosen by the region's prefix as botocore's `partitions.json` does (`regionRegex`).
public struct AWSPartition: Sendable, Equatable {
    /// The ARN prefix: `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b`.
    public var name: String
    /// The endpoints' DNS suffix: `amazonaws.com`, `amazonaws.com.cn`, `c2s.ic.gov`, `sc2s.sgov.gov`.
    public var dnsSuffix: String

    public init(region: String) {
        if region.hasPrefix("cn-") {
            (name, dnsSuffix) = ("aws-cn", "amazonaws.com.cn")
        } else if region.hasPrefix("us-gov-") {
            (name, dnsSuffix) = ("aws-us-gov", "amazonaws.com")
        } else if region.hasPrefix("us-isob-") {
            (name, dnsSuffix) = ("aws-iso-b", "sc2s.sgov.gov")
        } else if region.hasPrefix("us-iso-") {
            (name, dnsSuffix) = ("aws-iso", "c2s.ic.gov")
        } else {
            (name, dnsSuffix) = ("aws", "amazonaws.com")
        }
    }
}
