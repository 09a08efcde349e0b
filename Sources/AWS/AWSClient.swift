import AsyncHTTPClient
import FathomClient
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1

/// Shared HTTP plumbing for AWS calls.
public enum AWSHTTP {
    /// One client for every AWS call of the process; it fails fast, and ``AWSClient`` retries.
    public static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()
}

/// What a request carries.
public enum AWSBody: Sendable {
    case empty
    case data(Data)
    /// `length` bytes of a file from `offset`, streamed in 1 MiB reads and signed as `UNSIGNED-PAYLOAD`.
    case file(path: String, offset: Int64, length: Int64)
}

/// One AWS API call before signing.
public struct AWSRequest: Sendable {
    public var service: AWSService
    public var method: HTTPMethod
    /// The path, already percent-encoded.
    public var path: String
    public var query: [(String, String)]
    public var headers: [(String, String)]
    public var body: AWSBody
    /// A name for errors and retries, e.g. `ecs:RunTask`.
    public var operation: String
    /// Put before the endpoint's host (S3 virtual-hosted style: `bucket.`).
    public var hostPrefix: String?
    /// How long one attempt may take, answer included; nil: the client's ``AWSClient/requestTimeout``
    /// (transfers of files and streamed answers get ``AWSClient/transferTimeout``).
    public var timeout: Duration?
    /// Whether sending it twice does no harm. A call that is not (RegisterTaskDefinition makes a new
    /// revision each time) is repeated only when AWS shows it was not acted on: throttled, or never sent.
    public var isIdempotent = true
    /// Whether to sign it; the few calls that carry their own proof are not (AssumeRoleWithWebIdentity).
    public var isSigned = true

    public init(
        service: AWSService, operation: String, method: HTTPMethod = .POST, path: String = "/",
        query: [(String, String)] = [], headers: [(String, String)] = [], body: AWSBody = .empty
    ) {
        self.service = service
        self.operation = operation
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }
}

/// A complete answer.
public struct AWSResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data
}

/// How each protocol family reports errors.
public enum AWSErrorFormat: Sendable {
    /// JSON 1.1 (`__type`, `message`): ECS, CloudWatch Logs.
    case json
    /// REST-JSON (`x-amzn-ErrorType`, `ErrorCode`/`Message`): EFS.
    case restJSON
    /// Query/EC2 XML (`<Errors><Error><Code>` or `<ErrorResponse><Error><Code>`): EC2, STS.
    case xml
}

/// Bounded retries with exponential backoff and full jitter.
public struct RetryPolicy: Sendable {
    public var maxAttempts = 5
    public var baseDelay: Duration = .milliseconds(100)
    public var maxDelay: Duration = .seconds(20)
    /// No retry starts after this much time has passed since the first attempt.
    public var maxElapsed: Duration = .seconds(60)

    public init() {}

    /// A random delay in [0, min(maxDelay, baseDelay × 2^(attempt-1))].
    func delay(afterAttempt attempt: Int) -> Duration {
        let cap = min(maxDelay, baseDelay * (1 << min(attempt - 1, 20)))
        let nanoseconds = Int64(cap.components.seconds) * 1_000_000_000 + cap.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: 0...max(0, nanoseconds)))
    }
}

/// Signs, sends and retries AWS calls; decodes errors into ``AWSError``.
public struct AWSClient: Sendable {
    public let configuration: AWSConfiguration
    public let credentials: any CredentialProvider
    public var retry = RetryPolicy()
    /// How long one API call may take before it fails (and is retried): an ECS or CloudWatch call
    /// that hangs must not hold a watcher for minutes.
    public var requestTimeout: Duration = .seconds(30)
    /// The same for calls that move a file or stream an answer (S3 bundles).
    public var transferTimeout: Duration = .seconds(900)
    /// How far this machine's clock is from AWS's, learnt from a clock-skew error; signatures use the corrected time.
    public let clockSkew: AWSClockSkew
    let httpClient: HTTPClient
    let logger: Logger
    let now: @Sendable () -> Date

    public init(
        configuration: AWSConfiguration, credentials: any CredentialProvider, httpClient: HTTPClient = AWSHTTP.sharedClient,
        logger: Logger = Logger(label: "fathom.aws"), clockSkew: AWSClockSkew = .shared, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.configuration = configuration
        self.credentials = credentials
        self.httpClient = httpClient
        self.logger = logger
        self.clockSkew = clockSkew
        self.now = now
    }

    /// Sends a request and returns the whole answer, or throws ``AWSError``.
    public func send(_ request: AWSRequest, errors format: AWSErrorFormat) async throws -> AWSResponse {
        var prepared = request
        if case .file = prepared.body, prepared.timeout == nil { prepared.timeout = transferTimeout }
        return try await withRetries(prepared) { response in
            let body = try await response.body.collect(upTo: 256 << 20)
            let answer = AWSResponse(status: Int(response.status.code), headers: response.headers, body: Data(body.readableBytesView))
            if answer.status >= 300 { throw serviceError(answer, request: request, format: format) }
            return answer
        }
    }

    /// Sends a request and hands a successful streamed answer to `consume`.
    public func stream<T: Sendable>(
        _ request: AWSRequest, errors format: AWSErrorFormat, consume: @Sendable (HTTPClientResponse) async throws -> T
    ) async throws -> T {
        var prepared = request
        if prepared.timeout == nil { prepared.timeout = transferTimeout }
        return try await withRetries(prepared) { response in
            if response.status.code >= 300 {
                let body = try await response.body.collect(upTo: 1 << 20)
                let answer = AWSResponse(status: Int(response.status.code), headers: response.headers, body: Data(body.readableBytesView))
                throw serviceError(answer, request: request, format: format)
            }
            return try await consume(response)
        }
    }

    /// Decodes an error answer and counts it in `fathom_aws_api_errors_total{service, operation, code}`.
    /// A clock-skew error corrects ``clockSkew`` from the answer's `Date` header.
    func serviceError(_ answer: AWSResponse, request: AWSRequest, format: AWSErrorFormat) -> AWSError {
        var error = AWSErrorDecoder.decode(answer, service: request.service, operation: request.operation, format: format)
        error.retryAfter = answer.headers.first(name: "Retry-After").flatMap { RetryAfter.parse($0, now: now()) }
        if error.isClockSkew, let serverDate = answer.headers.first(name: "Date").flatMap(HTTPDate.parse) {
            error.clockCorrected = clockSkew.correct(serverDate: serverDate, localNow: now())
        }
        Counter(
            label: "fathom_aws_api_errors_total",
            dimensions: [("service", error.service), ("operation", error.operation), ("code", error.code)]
        ).increment()
        return AWSError.service(error)
    }

    func withRetries<T: Sendable>(
        _ request: AWSRequest, handle: @Sendable (HTTPClientResponse) async throws -> T
    ) async throws -> T {
        let started = ContinuousClock.now
        var attempt = 0
        while true {
            attempt += 1
            var delay = retry.delay(afterAttempt: attempt)
            do {
                let signed = try await sign(request)
                let response = try await httpClient.execute(signed, timeout: .nanoseconds(Self.nanoseconds(request.timeout ?? requestTimeout)))
                return try await handle(response)
            } catch let error as AWSError {
                guard case .service(let serviceError) = error, attempt < retry.maxAttempts,
                      serviceError.clockCorrected || (serviceError.isRetryable && (request.isIdempotent || serviceError.isThrottling))
                else { throw error }
                if serviceError.clockCorrected { delay = .zero }
                if let retryAfter = serviceError.retryAfter { delay = max(delay, retryAfter) }
                guard ContinuousClock.now - started + delay < retry.maxElapsed else { throw error }
                logger.debug("retrying AWS call", metadata: ["operation": "\(request.operation)", "code": "\(serviceError.code)", "attempt": "\(attempt)"])
                try await Task.sleep(for: delay)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                let endpoint = configuration.endpoint(for: request.service)
                let unreachable = AWSError.unreachable(service: request.operation, endpoint: endpoint, underlying: "\(error)")
                guard attempt < retry.maxAttempts, ContinuousClock.now - started < retry.maxElapsed,
                      request.isIdempotent || TransportFailure.neverSent(error)
                else { throw unreachable }
                try await Task.sleep(for: delay)
            }
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow ? .max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// Builds and signs the HTTP request.
    func sign(_ request: AWSRequest) async throws -> HTTPClientRequest {
        let credentials: AWSCredentials?
        if !request.isSigned {
            credentials = nil
        } else if let chain = self.credentials as? CredentialChain {
            credentials = try await chain.resolve()
        } else if let found = try await self.credentials.credentials() {
            credentials = found
        } else {
            throw AWSError.credentials(NoCredentialsError(tried: [self.credentials.name]).description)
        }
        guard let endpoint = URL(string: configuration.endpoint(for: request.service)), let host = endpoint.host else {
            throw AWSError.credentials("invalid endpoint URL '\(configuration.endpoint(for: request.service))'")
        }
        let basePath = endpoint.path == "/" ? "" : endpoint.path
        let payloadHash: String
        switch request.body {
        case .empty: payloadHash = SigV4Signer.emptyPayloadHash
        case .data(let data): payloadHash = SigV4Signer.payloadHash(data)
        case .file: payloadHash = SigV4Signer.unsignedPayload
        }
        var headers = request.headers.map { (name: $0.0, value: $0.1) }
        headers.append((name: "User-Agent", value: "fathom/1"))
        var signable = SignableRequest(
            method: request.method.rawValue, scheme: endpoint.scheme ?? "https", host: (request.hostPrefix ?? "") + host, port: endpoint.port,
            encodedPath: basePath + request.path, encodedQuery: AWSURI.canonicalQuery(request.query), headers: headers,
            payloadHash: payloadHash)
        if let credentials {
            SigV4Signer(service: request.service.signingName, region: configuration.region)
                .sign(&signable, credentials: credentials, date: clockSkew.corrected(now()))
        }
        var http = HTTPClientRequest(url: signable.url)
        http.method = request.method
        for (name, value) in signable.headers { http.headers.add(name: name, value: value) }
        switch request.body {
        case .empty:
            break
        case .data(let data):
            http.body = .bytes(ByteBuffer(bytes: data))
        case .file(let path, let offset, let length):
            http.body = .stream(FileChunks(path: path, offset: offset, length: length), length: .known(length))
        }
        return http
    }
}

/// A file region as an async sequence of 1 MiB buffers.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    let offset: Int64
    let length: Int64

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        var remaining: Int64
        /// Why the region could not be opened or reached: the first `next()` throws it, so a part is never
        /// sent with bytes from the wrong place.
        var failure: AWSError?

        mutating func next() async throws -> ByteBuffer? {
            if let failure { throw failure }
            guard remaining > 0 else { return nil }
            guard let handle else {
                throw AWSError.malformedResponse(service: "file", detail: "cannot open \(remaining) bytes to send")
            }
            let count = Int(Swift.min(remaining, 1 << 20))
            guard let data = try handle.read(upToCount: count), !data.isEmpty else {
                throw AWSError.malformedResponse(service: "file", detail: "file ended \(remaining) bytes early")
            }
            remaining -= Int64(data.count)
            if remaining == 0 { try? handle.close() }  // the whole file was read; a failed close loses nothing
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            return AsyncIterator(handle: nil, remaining: length, failure: AWSError.malformedResponse(service: "file", detail: "cannot open \(path)"))
        }
        do {
            try handle.seek(toOffset: UInt64(clamping: offset))
        } catch {
            return AsyncIterator(handle: nil, remaining: length, failure: AWSError.malformedResponse(service: "file", detail: "cannot seek to \(offset) in \(path): \(error)"))
        }
        return AsyncIterator(handle: handle, remaining: length)
    }
}
