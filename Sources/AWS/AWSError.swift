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
        Self.throttlingCodes.contains(code) || httpStatus == 429 || [500, 502, 503, 504].contains(httpStatus)
            || code == "InternalError" || code == "ServiceUnavailable" || code == "RequestTimeout"
    }
}
