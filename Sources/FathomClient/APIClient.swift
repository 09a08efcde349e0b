import FathomAPI
import AsyncHTTPClient
import FathomCore
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// An error answer from the coordinator, or a failure to reach it.
public enum APIClientError: Error, Sendable, CustomStringConvertible {
    /// The coordinator answered with an error status.
    case server(status: Int, body: APIErrorBody?, raw: String)
    /// The coordinator could not be reached.
    case unreachable(url: String, underlying: String)
    /// The answer was not the expected JSON.
    case badResponse(String)

    /// The coordinator's message with its fix, or the transport error.
    public var description: String {
        switch self {
        case .server(let status, let body, let raw):
            if let body {
                // The fix, when the message does not already carry it.
                guard let fix = body.error.fix, !fix.isEmpty, !body.error.message.contains(fix) else { return body.error.message }
                return body.error.message + ". " + fix
            }
            return "the coordinator answered HTTP \(status): \(raw.prefix(300))"
        case .unreachable(let url, let underlying):
            return "cannot reach the Fathom coordinator at \(url) (\(underlying)). Start one with 'fathom server' or 'fathom dev', or pass --api-url / set FATHOM_API_URL."
        case .badResponse(let detail):
            return "unexpected answer from the coordinator: \(detail)"
        }
    }

    /// The HTTP status, when the coordinator answered.
    public var status: Int? {
        if case .server(let status, _, _) = self { return status }
        return nil
    }

    /// The error code from the body, when the coordinator answered with one.
    public var code: String? {
        if case .server(_, let body, _) = self { return body?.error.code }
        return nil
    }
}

/// A typed client for the coordinator's `/api/v1`.
///
/// It may know several coordinators (`http://a:4200,http://b:4200`: several servers on one PostgreSQL database).
/// A call goes to the one in use; when that one cannot be reached (the request never left this machine, or for a
/// read, any transport failure), the call moves to the next, and later calls stay there.
public struct APIClient: Sendable {
    /// Every coordinator URL this client may use, in order.
    public let baseURLs: [String]
    let token: String?
    let httpClient: HTTPClient
    private let inUse: EndpointChoice

    /// The coordinator in use now, e.g. `http://127.0.0.1:4200`.
    public var baseURL: String { baseURLs[inUse.index % baseURLs.count] }

    /// Every URL, comma-separated, as `--api-url` and `FATHOM_API_URL` take them (for a process this one starts).
    public var urlList: String { baseURLs.joined(separator: ",") }

    /// The default coordinator address.
    public static let defaultURL = "http://127.0.0.1:4200"

    /// A process-wide HTTP client that fails fast when the coordinator is down (callers retry
    /// themselves, with their own backoff), instead of retrying connections until the deadline.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// A client of the coordinator at `baseURL` (e.g. `http://127.0.0.1:4200`; several, comma-separated, for
    /// failover), sending `token` as a bearer token.
    public init(baseURL: String, token: String? = nil, httpClient: HTTPClient = APIClient.sharedHTTPClient) {
        let urls = baseURL.split(separator: ",").map { part -> String in
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            return trimmed.hasSuffix("/") ? String(trimmed.dropLast()) : trimmed
        }.filter { !$0.isEmpty }
        self.baseURLs = urls.isEmpty ? [Self.defaultURL] : urls
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        self.httpClient = httpClient
        self.inUse = EndpointChoice()
    }

    // MARK: Flows and bundles

    /// Uploads a bundle into the coordinator's storage as a stream of `size` bytes (a file's chunks:
    /// `BundleFiles.withChunks`); the coordinator stores it only if it hashes to `sha256`.
    public func uploadBundle<Chunks: AsyncSequence & Sendable>(
        _ chunks: Chunks, size: Int64, sha256: String
    ) async throws -> StoredBundleInfo where Chunks.Element == ByteBuffer {
        var request = makeRequest(.PUT, "/api/v1/bundles/\(sha256)")
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.body = .stream(chunks, length: .known(size))
        return try await perform(request, timeout: .minutes(10))
    }

    /// Downloads a bundle from the coordinator's storage: `consume` gets the body as it arrives
    /// (to stream it into a file, hashing it: `BundleFiles.write`).
    public func downloadBundle<Result>(sha256: String, _ consume: (HTTPClientResponse.Body) async throws -> Result) async throws -> Result {
        let request = makeRequest(.GET, "/api/v1/bundles/\(sha256)")
        let response = try await execute(request, timeout: .minutes(10))
        guard response.status == .ok else { throw try await errorFrom(response) }
        return try await consume(response.body)
    }

    /// Registers flow versions from a bundle already stored (see ``uploadBundle(_:size:sha256:)``).
    public func registerFlows(_ body: RegisterFlowsRequest) async throws -> RegisterFlowsResponse {
        try await send(.POST, "/api/v1/flows", body: body)
    }

    /// Every registered flow with its latest version, last run and schedules.
    public func listFlows() async throws -> [FlowSummary] {
        try await send(.GET, "/api/v1/flows")
    }

    /// One flow with its versions; 404 when it was never registered.
    public func flow(named name: String) async throws -> FlowSummary {
        try await send(.GET, "/api/v1/flows/\(escape(name))")
    }

    /// A flow's runs over the last `days` days: counts, estimated cost and workspace bytes, per day.
    public func flowUsage(_ name: String, days: Int = 30) async throws -> FlowUsage {
        try await send(.GET, "/api/v1/flows/\(escape(name))/usage?days=\(days)")
    }

    // MARK: Runs

    /// Creates a run (Scheduled); with an idempotency key, a repeat gets the first run back.
    public func createRun(_ body: CreateFlowRunRequest) async throws -> FlowRun {
        try await send(.POST, "/api/v1/flow-runs", body: body)
    }

    /// A run with its state history.
    public func run(_ id: FlowRunID) async throws -> FlowRun {
        try await send(.GET, "/api/v1/flow-runs/\(escape(id))")
    }

    /// A page of runs, newest first, with the total.
    public func listRuns(
        flow: String? = nil, state: FlowRunState? = nil, agent: AgentID? = nil, activeOnly: Bool = false, limit: Int = 50, offset: Int = 0
    ) async throws -> FlowRunList {
        var query = ["limit=\(limit)", "offset=\(offset)"]
        if let agent { query.append("agent=\(escape(agent))") }
        if activeOnly { query.append("active=true") }
        if let flow { query.append("flow=\(escape(flow))") }
        if let state { query.append("state=\(state.rawValue)") }
        return try await send(.GET, "/api/v1/flow-runs?" + query.joined(separator: "&"))
    }

    /// The run workspaces a volume's janitor must keep: of active runs, and of Failed or Crashed runs created within
    /// `resumableSeconds` that can still be resumed.
    /// - Parameter resumableSeconds: held to 0 ... 10 years, the range the coordinator takes.
    public func workspacesInUse(resumableSeconds: Double) async throws -> WorkspacesInUse {
        let seconds = Int(min(max(resumableSeconds.isNaN ? 0 : resumableSeconds, 0), 3650 * 86_400))
        return try await send(.GET, "/api/v1/workspaces/in-use?resumableSeconds=\(seconds)")
    }

    /// The ids of every run not yet in a final state, read page by page.
    public func activeRunIDs() async throws -> Set<FlowRunID> {
        var ids = Set<FlowRunID>()
        var offset = 0
        while true {
            let page = try await listRuns(activeOnly: true, limit: 1000, offset: offset)
            ids.formUnion(page.runs.map(\.id))
            offset += page.runs.count
            if page.runs.isEmpty || offset >= page.total { return ids }
        }
    }

    /// The version a run was created from.
    public func version(ofRun id: FlowRunID) async throws -> FlowVersion {
        try await send(.GET, "/api/v1/flow-runs/\(escape(id))/version")
    }

    /// Moves a run to a new state (compare-and-set when `expected` is given).
    @discardableResult
    public func setState(_ id: FlowRunID, _ body: SetStateRequest) async throws -> FlowRun {
        try await send(.POST, "/api/v1/flow-runs/\(escape(id))/state", body: body)
    }

    @discardableResult
    /// Asks for a run to stop: Cancelling while its agent stops it, or Cancelled at once if it never started.
    public func cancel(_ id: FlowRunID) async throws -> FlowRun {
        try await send(.POST, "/api/v1/flow-runs/\(escape(id))/cancel", body: EmptyBody())
    }

    /// Runs a finished run again as a new attempt; with `resume`, the attempt reuses the results of the tasks
    /// the run finished and runs only the rest.
    public func retryRun(_ id: FlowRunID, resume: Bool = false) async throws -> FlowRun {
        try await send(.POST, "/api/v1/flow-runs/\(escape(id))/retry", body: RetryRunRequest(resume: resume))
    }

    @discardableResult
    /// Says the run is alive; the answer is its state (Cancelling means stop).
    public func heartbeat(_ id: FlowRunID) async throws -> HeartbeatResponse {
        try await send(.POST, "/api/v1/flow-runs/\(escape(id))/heartbeat", body: EmptyBody())
    }

    /// A heartbeat sent and awaited on the calling thread: for a thread of its own, which flow code that
    /// blocks Swift's cooperative pool cannot hold up. Never call it on an event loop or in a task.
    /// A heartbeat changes nothing twice, so any transport failure moves it to the next coordinator.
    public func heartbeatBlocking(_ id: FlowRunID, timeout: TimeAmount = .seconds(30)) throws -> HeartbeatResponse {
        let first = inUse.index
        var answer: HTTPClient.Response?
        var lastError: (any Error)?
        for offset in 0..<baseURLs.count where answer == nil {
            let index = (first + offset) % baseURLs.count
            var request = try HTTPClient.Request(url: baseURLs[index] + "/api/v1/flow-runs/\(escape(id))/heartbeat", method: .POST)
            request.headers.add(name: "Content-Type", value: "application/json")
            if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            request.body = .string("{}")
            do {
                answer = try httpClient.execute(request: request, deadline: .now() + timeout).wait()
                if offset > 0 { inUse.move(from: first, to: index) }
            } catch {
                lastError = error
            }
        }
        guard let response = answer else { throw lastError ?? APIClientError.unreachable(url: urlList, underlying: "no coordinator answered") }
        let data = response.body.map { Data($0.readableBytesView) } ?? Data()
        guard (200..<300).contains(response.status.code) else { throw Self.serverError(status: Int(response.status.code), data) }
        return try Self.decodeAnswer(data)
    }

    @discardableResult
    /// Merges launcher facts (pid, task ARN) into the run's.
    public func setInfrastructure(_ id: FlowRunID, _ facts: [String: String]) async throws -> FlowRun {
        try await send(.POST, "/api/v1/flow-runs/\(escape(id))/infrastructure", body: InfrastructureUpdate(facts))
    }

    @discardableResult
    /// Appends lines to a run's logs; `infrastructure` facts (a read position) are stored with them atomically.
    /// `processOutput`: the lines are the process's own output as its agent copies it,
    /// kept after the run ended (marked late); other lines sent to an ended run are refused (409 `run_final`).
    /// `batchID`: the same on every attempt to send these lines (``Identifier/make()`` once, before the first), so that
    /// an attempt whose answer was lost does not store them twice.
    public func sendLogs(
        _ id: FlowRunID, _ logs: [LogEntry], infrastructure: [String: String]? = nil, processOutput: Bool = false, batchID: String? = nil
    ) async throws -> LogAccepted {
        try await send(
            .POST, "/api/v1/flow-runs/\(escape(id))/logs",
            body: LogBatch(logs: logs, infrastructure: infrastructure, processOutput: processOutput, batchID: batchID))
    }

    /// Log lines after `after`; with `waitSeconds`, holds until there is a line or the run's state changes.
    public func logs(_ id: FlowRunID, after: Int64 = 0, limit: Int = 1000, waitSeconds: Double = 0) async throws -> LogPage {
        let path = "/api/v1/flow-runs/\(escape(id))/logs?after=\(after)&limit=\(limit)&wait=\(waitSeconds)"
        return try await send(.GET, path, timeout: .milliseconds(Int64(Int(saturating: (waitSeconds + 30) * 1000))))
    }

    /// Records task runs' latest states.
    public func sendTaskRuns(_ id: FlowRunID, _ updates: [TaskRunUpdate]) async throws {
        let _: TaskRunList = try await send(.POST, "/api/v1/flow-runs/\(escape(id))/task-runs", body: TaskRunBatch(taskRuns: updates))
    }

    /// A run's task runs, in start order.
    public func taskRuns(_ id: FlowRunID) async throws -> [TaskRunUpdate] {
        let list: TaskRunList = try await send(.GET, "/api/v1/flow-runs/\(escape(id))/task-runs")
        return list.taskRuns
    }

    // MARK: Agents

    /// Registers this agent process; 409 while another live process holds the name.
    public func registerAgent(_ body: AgentRegistration) async throws -> AgentInfo {
        try await send(.POST, "/api/v1/agents", body: body)
    }

    /// Every agent that registered, last seen first.
    public func listAgents() async throws -> [AgentInfo] {
        let list: AgentList = try await send(.GET, "/api/v1/agents")
        return list.agents
    }

    /// Says this agent process stops, so the next process with its name need not wait.
    @discardableResult
    public func agentStopped(_ agent: AgentID, instance: String, timeout: TimeAmount = .seconds(30)) async throws -> AgentInfo {
        try await send(.POST, "/api/v1/agents/\(escape(agent))/stop", body: AgentStop(instance: instance), timeout: timeout)
    }

    /// Long-polls for runs to launch and runs to cancel.
    public func claim(agent: AgentID, _ body: ClaimRequest) async throws -> ClaimResponse {
        try await send(
            .POST, "/api/v1/agents/\(escape(agent))/claim", body: body,
            timeout: .milliseconds(Int64(Int(saturating: (body.waitSeconds + 30) * 1000))))
    }

    // MARK: Plumbing

    struct EmptyBody: Codable {}

    func escape(_ component: String) -> String {
        component.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?&=#"))) ?? component
    }

    /// A request for `path`; ``execute(_:timeout:)`` puts the coordinator's URL in front.
    func makeRequest(_ method: HTTPMethod, _ path: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return request
    }

    /// Sends a JSON request and decodes the JSON answer.
    public func send<Response: Decodable>(
        _ method: HTTPMethod, _ path: String, timeout: TimeAmount = .seconds(30)
    ) async throws -> Response {
        try await perform(makeRequest(method, path), timeout: timeout)
    }

    /// Sends a JSON request with a body and decodes the JSON answer.
    public func send<Body: Encodable, Response: Decodable>(
        _ method: HTTPMethod, _ path: String, body: Body, timeout: TimeAmount = .seconds(30)
    ) async throws -> Response {
        var request = makeRequest(method, path)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try APICoding.encode(body)))
        return try await perform(request, timeout: timeout)
    }

    /// Sends `request` (its URL a path) to the coordinator in use, moving on to the next while one cannot be reached.
    func execute(_ request: HTTPClientRequest, timeout: TimeAmount) async throws -> HTTPClientResponse {
        let path = request.url
        let first = inUse.index
        var failures: [String] = []
        for offset in 0..<baseURLs.count {
            let index = (first + offset) % baseURLs.count
            var attempt = request
            attempt.url = baseURLs[index] + path
            do {
                let response = try await httpClient.execute(attempt, timeout: timeout)
                if offset > 0 { inUse.move(from: first, to: index) }
                return response
            } catch let error as CancellationError {
                throw error
            } catch {
                failures.append("\(baseURLs[index]): \(error)")
                // Another coordinator may take the call only if this one cannot have acted on it.
                let safe = TransportFailure.neverSent(error) || request.method == .GET || request.method == .HEAD
                guard safe, offset + 1 < baseURLs.count else {
                    let url = baseURLs.count == 1 ? baseURLs[index] : baseURLs.joined(separator: ", ")
                    throw APIClientError.unreachable(url: url, underlying: failures.joined(separator: "; "))
                }
            }
        }
        throw APIClientError.unreachable(url: baseURLs.joined(separator: ", "), underlying: failures.joined(separator: "; "))
    }

    func perform<Response: Decodable>(_ request: HTTPClientRequest, timeout: TimeAmount) async throws -> Response {
        let response = try await execute(request, timeout: timeout)
        guard (200..<300).contains(response.status.code) else { throw try await errorFrom(response) }
        let body = try await response.body.collect(upTo: 256 << 20)
        return try Self.decodeAnswer(Data(body.readableBytesView))
    }

    func errorFrom(_ response: HTTPClientResponse) async throws -> APIClientError {
        let body = try await response.body.collect(upTo: 1 << 20)
        return Self.serverError(status: Int(response.status.code), Data(body.readableBytesView))
    }

    /// A 2xx answer's JSON, or `badResponse`.
    static func decodeAnswer<Response: Decodable>(_ data: Data) throws -> Response {
        do {
            return try APICoding.makeDecoder().decode(Response.self, from: data)
        } catch {
            throw APIClientError.badResponse("\(error)")
        }
    }

    /// An error answer, with its `ErrorBody` when it has one.
    static func serverError(status: Int, _ data: Data) -> APIClientError {
        let decoded = try? APICoding.makeDecoder().decode(APIErrorBody.self, from: data)  // a body that is not Fathom's error JSON (a proxy's page) is kept raw
        return .server(status: status, body: decoded, raw: String(decoding: data, as: UTF8.self))
    }
}

/// Which of a client's coordinators is in use; shared by copies of the client.
final class EndpointChoice: Sendable {
    private let current = Mutex(0)

    var index: Int { current.withLock { $0 } }

    /// Moves to `index` unless another call already moved on from `from`.
    func move(from: Int, to index: Int) {
        current.withLock { if $0 == from { $0 = index } }
    }
}
