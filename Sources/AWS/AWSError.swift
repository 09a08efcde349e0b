import Foundation

/// Every AWS failure, as one typed error.
public enum AWSError: Error, Sendable, CustomStringConvertible {
    /// The service answered with an error.
    case service(AWSServiceError)
    /// The service could not be reached (after retries).
    case unreachable(service: String, endpoint: String, underlying: String)
    /// Credentials could not be obtained.
    case credentials(String)
    /// The answer could not be read.
    case malformedResponse(service: String, detail: String)

    public var description: String {
        switch self {
        case .service(let error): return error.description
        case .unreachable(let service, let endpoint, let underlying):
            return "\(service): cannot reach \(endpoint): \(underlying)"
        case .credentials(let detail): return "AWS credentials: \(detail)"
        case .malformedResponse(let service, let detail): return "\(service): unreadable response: \(detail)"
        }
    }

    /// The service error, if the service answered.
    public var serviceError: AWSServiceError? {
        if case .service(let error) = self { return error }
        return nil
    }
}

/// An error answer from an AWS service.
public struct AWSServiceError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The signing name: `ecs`, `s3`, …
    public var service: String
    /// The call, e.g. `ecs:RunTask`.
    public var operation: String
    /// The error code, e.g. `ClusterNotFoundException`, `NoSuchKey`, `ThrottlingException`.
    public var code: String
    public var message: String
    public var httpStatus: Int
    public var requestID: String?
    /// How long the service asked the caller to wait (`Retry-After`), if it said.
    public var retryAfter: Duration?
    /// Whether this answer corrected the client's clock skew, so signing again will succeed.
    public var clockCorrected = false

    public init(service: String, operation: String, code: String, message: String, httpStatus: Int, requestID: String?) {
        self.service = service
        self.operation = operation
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.requestID = requestID
    }

    public var description: String {
        "\(operation): \(code) (HTTP \(httpStatus)): \(message)\(requestID.map { " [request \($0)]" } ?? "")"
    }

    static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
        "ProvisionedThroughputExceededException", "TransactionInProgressException", "RequestLimitExceeded",
        "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException",
    ]

    /// Throttling and server errors are worth retrying; client errors never are.
    public var isRetryable: Bool {
        isThrottling || [500, 502, 503, 504].contains(httpStatus)
            || code == "InternalError" || code == "ServiceUnavailable" || code == "RequestTimeout"
    }

    /// AWS refused the call before acting on it, for its rate: safe to repeat any call.
    public var isThrottling: Bool { Self.throttlingCodes.contains(code) || httpStatus == 429 }

    /// The codes the AWS SDKs treat as clock skew (aws-sdk-js-v3 `service-error-classification`, `CLOCK_SKEW_ERROR_CODES`).
    static let clockSkewCodes: Set<String> = [
        "RequestTimeTooSkewed", "RequestExpired", "InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure",
        "RequestInTheFuture",
    ]

    /// The signature's time was refused, or could have been.
    public var isClockSkew: Bool { Self.clockSkewCodes.contains(code) }
}

extension AWSServiceError {
    static let accessDeniedCodes: Set<String> = [
        "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException", "AuthorizationError",
    ]
    static let expiredCodes: Set<String> = ["ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"]
    static let badCredentialCodes: Set<String> = [
        "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "InvalidSignatureException",
        "IncompleteSignature", "MissingAuthenticationToken",
    ]

    /// The identity lacks a permission.
    public var isAccessDenied: Bool { Self.accessDeniedCodes.contains(code) }

    /// The IAM action the call needs, e.g. `ecs:DescribeTasks` (the operation, with EFS's IAM prefix).
    public var iamAction: String {
        operation.hasPrefix("efs:") ? "elasticfilesystem:" + operation.dropFirst(4) : operation
    }

    /// What to do about this error, in one sentence, or nil when the message says it all.
    public var advice: String? {
        if isAccessDenied {
            return "The agent's AWS identity is not allowed \(iamAction): add it to the agent's IAM policy (docs/ecs-efs.md lists them all)."
        }
        if Self.expiredCodes.contains(code) {
            return "The agent's AWS credentials expired: renew them (a new session for the profile or role); Fathom re-reads them on the next call."
        }
        if Self.badCredentialCodes.contains(code) {
            return "AWS does not accept the agent's credentials (an unknown key id or a wrong secret): check them with 'fathom aws whoami'."
        }
        if code == "ClusterNotFoundException" {
            return "The cluster does not exist in this region: check ecs.cluster and ecs.region ('aws ecs list-clusters')."
        }
        if isRetryable {
            return "AWS is throttling or failing these calls; Fathom keeps trying with backoff."
        }
        return nil
    }
}

extension AWSError {
    /// One line for a run's logs: the error with its code, and what to do.
    public var explained: String {
        switch self {
        case .service(let error): return error.advice.map { "\(error.description). \($0)" } ?? error.description
        case .unreachable: return "\(description). Check the agent's network route to AWS (proxy, DNS, VPC endpoints)."
        default: return description
        }
    }
}
