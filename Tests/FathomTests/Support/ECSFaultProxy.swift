import AsyncHTTPClient
import FathomCore
import FathomProcess
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A loopback proxy in front of moto that plays what real ECS and CloudWatch Logs do and moto does
/// not, as the test's ``Scenario`` says. Each behaviour is documented AWS behaviour:
///
/// - DescribeTasks lists a just-started task as a `MISSING` failure for a while (ECS is eventually
///   consistent: "Amazon ECS API operations … might not be immediately visible", ECS API reference,
///   Eventual consistency);
/// - tasks sit in PROVISIONING and PENDING before RUNNING (task lifecycle);
/// - a task stops with `stopCode: TaskFailedToStart` and a real `stoppedReason`;
/// - RunTask answers 200 with `failures` (botocore's ECS model: RunTask "failures: Any failures
///   associated with the call"; reasons such as `RESOURCE:MEMORY`, `AGENT`);
/// - calls are throttled (`ThrottlingException`, "Rate exceeded") or denied (`AccessDeniedException`);
/// - RegisterTaskDefinition refuses parallel new revisions of a family (`ClientException: Too many
///   concurrent attempts to create a new revision of the specified family.`);
/// - GetLogEvents returns empty pages, with new tokens, before the data ("the response can
///   contain an empty list of events", botocore's Logs model for GetLogEvents).
final class ECSFaultProxy: Sendable {
    struct Scenario: Sendable {
        /// Tasks are MISSING this long after RunTask (nil: never; `.seconds(1e6)`: always).
        var missingFor: Duration?
        /// Tasks are PROVISIONING for the first half of this, PENDING for the second.
        var pendingFor: Duration?
        /// The n-th task started fails to start with the n-th reason (as long as there are reasons).
        var startFailures: [String] = []
        /// The first RunTask calls answer with these failures, one call each.
        var runTaskFailures: [String] = []
        /// Every DescribeTasks answers this error code (AccessDeniedException, ExpiredTokenException, …).
        var describeError: String?
        /// The first n DescribeTasks are throttled.
        var throttledDescribes = 0
        /// Each RegisterTaskDefinition is held this long; one of the same family arriving meanwhile is refused.
        var registrationHold: Duration?
        /// GetLogEvents from a stream's head answers this many empty pages first.
        var emptyLogPages = 0
        var logsDenied = false
        /// RunTask reaches moto (the task starts) but its answer is held this long: an agent that dies meanwhile never learns the ARN.
        var runTaskAnswerDelay: Duration?
        /// The first tasks started are reclaimed by Fargate Spot: STOPPED with `stopCode: SpotInterruption` and ECS's
        /// reason ("Your Spot Task was interrupted."), the container ended by the SIGTERM (exit 143).
        var spotInterruptions = 0
        /// StopTask as ECS does it, for a harness that reports container exits (podman): "the equivalent of docker stop
        /// is issued to the containers running in the task. This results in a SIGTERM value and a default 30-second
        /// timeout, after which the SIGKILL value is sent" (StopTask, Amazon ECS API Reference). Until the container has
        /// exited the task is `desiredStatus: STOPPED`, `lastStatus: DEACTIVATING`; then STOPPED with
        /// `stopCode: UserInitiated`, the caller's reason, and the container's exit code. moto stops the task at once.
        var drainOnStop = false
        /// What DescribeTasks reports of billing, which moto leaves out: the task's `cpu` and `memory` (task-level, as
        /// registered), `capacityProviderName` (the RunTask strategy's provider), the `ecs.cpu-architecture` attribute,
        /// and these epoch times as `pullStartedAt` and, once STOPPED, `stoppedAt` (botocore's ECS model, shape Task:
        /// "pullStartedAt: The Unix timestamp for the time when the container image pull began.").
        var billedTimes: (pullStartedAt: Double, stoppedAt: Double)?
    }

    let moto: MotoServer
    let scenario: Locked<Scenario>
    private let calls = Locked<[String: Int]>([:])
    private let firstCalls = Locked<[String: ContinuousClock.Instant]>([:])
    private let bodies = Locked<[String: [JSONValue]]>([:])
    private let startedAt = Locked<[String: ContinuousClock.Instant]>([:])
    private let failedTasks = Locked<[String: String]>([:])
    private let spotStopped = Locked<Set<String>>([])
    /// Tasks answered MISSING at least once: the first DescribeTasks of a task is MISSING however late it comes.
    private let reportedMissing = Locked<Set<String>>([])
    private let registering = Locked<Set<String>>([])
    /// Essential containers that exited, by task ARN: their exit code and ECS's container reason.
    private let exits = Locked<[String: (code: Int32, reason: String?)]>([:])
    /// Tasks StopTask was called for through the proxy: the caller's reason, and when.
    private let stops = Locked<[String: (reason: String, at: ContinuousClock.Instant)]>([:])

    /// Records a container's exit, which DescribeTasks then reports as ECS does: `stopCode: EssentialContainerExited`,
    /// the container's `exitCode` and `reason` (e.g. "OutOfMemoryError: Container killed due to memory usage").
    func containerExited(arn: String, exitCode: Int32, reason: String?) {
        exits.withLock { $0[arn] = (exitCode, reason) }
    }
    private let server: LoopbackServer

    var url: String { server.url }

    /// Lets the server's handler reach the proxy; emptied on stop, so the two do not keep each other alive.
    private final class ProxyBox: Sendable {
        let proxy = Locked<ECSFaultProxy?>(nil)
    }

    private let box = ProxyBox()

    init(moto: MotoServer, scenario: Scenario) async throws {
        self.moto = moto
        self.scenario = Locked(scenario)
        let box = self.box
        server = try await LoopbackServer { request in
            guard let proxy = box.proxy.value else { return LoopbackServer.text("gone", status: .serviceUnavailable) }
            return try await proxy.handle(request)
        }
        box.proxy.withLock { $0 = self }
    }

    func stop() async {
        await server.stop()
        box.proxy.withLock { $0 = nil }
    }

    /// How many calls of an action (`RunTask`, `StopTask`, …) reached the proxy.
    func count(_ action: String) -> Int { calls.value[action] ?? 0 }

    /// The request bodies of an action's calls, in order (what the agent sent, e.g. RunTask's overrides).
    func requests(_ action: String) -> [JSONValue] { bodies.value[action] ?? [] }

    /// When the first call of an action reached the proxy: bounds are measured from it, not from the test's start,
    /// so a loaded machine's slow claim and registration do not count against the launcher.
    func firstCall(_ action: String) -> ContinuousClock.Instant? { firstCalls.value[action] }

    private func handle(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 16 << 20)
        let target = request.headers[HTTPField.Name("X-Amz-Target")!] ?? ""
        let action = String(target.split(separator: ".").last ?? "")
        calls.withLock { $0[action, default: 0] += 1 }
        let now = ContinuousClock.now
        firstCalls.withLock { if $0[action] == nil { $0[action] = now } }
        let input = (try? JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView))) ?? .null
        bodies.withLock { $0[action, default: []].append(input) }
        let plan = scenario.value
        switch action {
        case "DescribeTasks":
            if let code = plan.describeError { return Self.error(code, Self.deniedMessage(code, "ecs:DescribeTasks")) }
            if count(action) <= plan.throttledDescribes { return Self.error("ThrottlingException", "Rate exceeded") }
            return Self.json(rewriteDescribe(try await forwardJSON(request, body: body), plan: plan))
        case "RunTask":
            let failing = count(action) <= plan.runTaskFailures.count
            if failing {
                let reason = plan.runTaskFailures[count(action) - 1]
                return Self.json(["tasks": [], "failures": [["arn": "arn:aws:ecs:eu-west-1:123456789012:container-instance/x", "reason": .string(reason)]]])
            }
            let answer = try await forwardJSON(request, body: Self.motoRunTaskBody(input) ?? body)
            for task in answer["tasks"].arrayValue ?? [] {
                guard let arn = task["taskArn"].stringValue else { continue }
                startedAt.withLock { $0[arn] = .now }
                let index = startedAt.value.count - 1
                if index < plan.startFailures.count { failedTasks.withLock { $0[arn] = plan.startFailures[index] } }
                if index < plan.spotInterruptions { spotStopped.withLock { _ = $0.insert(arn) } }
            }
            if let delay = plan.runTaskAnswerDelay { try await Task.sleep(for: delay) }
            return Self.json(answer)
        case "StopTask":
            let answer = try await forwardJSON(request, body: body)
            if let arn = answer["task"]["taskArn"].stringValue {
                stops.withLock { stops in
                    if stops[arn] == nil { stops[arn] = (input["reason"].stringValue ?? "", .now) }
                }
            }
            return Self.json(answer)
        case "RegisterTaskDefinition":
            guard let hold = plan.registrationHold else { return try await forward(request, body: body) }
            let family = input["family"].stringValue ?? ""
            guard registering.withLock({ $0.insert(family).inserted }) else {
                return Self.error("ClientException", "Too many concurrent attempts to create a new revision of the specified family.")
            }
            defer { _ = registering.withLock { $0.remove(family) } }
            try await Task.sleep(for: hold)
            return try await forward(request, body: body)
        case "GetLogEvents":
            if plan.logsDenied { return Self.error("AccessDeniedException", Self.deniedMessage("AccessDeniedException", "logs:GetLogEvents")) }
            let token = input["nextToken"].stringValue
            if plan.emptyLogPages > 0, token == nil || token!.hasPrefix("f/fault-empty-") {
                let page = token.flatMap { Int($0.dropFirst("f/fault-empty-".count)) } ?? 0
                if page < plan.emptyLogPages {
                    return Self.json(["events": [], "nextForwardToken": .string("f/fault-empty-\(page + 1)"), "nextBackwardToken": "b/fault"])
                }
                var stripped = input
                if case .object(var fields) = stripped { fields["nextToken"] = nil; stripped = .object(fields) }
                return try await forward(request, body: ByteBuffer(bytes: try JSONEncoder().encode(stripped)))
            }
            return try await forward(request, body: body)
        default:
            return try await forward(request, body: body)
        }
    }

    /// moto runs Fargate tasks only by `launchType` and fails a `capacityProviderStrategy` (it looks for EC2
    /// instances), while ECS takes a strategy of the FARGATE and FARGATE_SPOT providers on a cluster that has them
    /// ("Fargate capacity providers", Amazon ECS Developer Guide). The strategy is recorded as sent; moto is asked
    /// for a FARGATE task instead.
    static func motoRunTaskBody(_ input: JSONValue) -> ByteBuffer? {
        guard case .object(var fields) = input, let strategy = fields["capacityProviderStrategy"]?.arrayValue,
              strategy.allSatisfy({ ($0["capacityProvider"].stringValue ?? "").hasPrefix("FARGATE") })
        else { return nil }
        fields["capacityProviderStrategy"] = nil
        fields["launchType"] = "FARGATE"
        return (try? JSONEncoder().encode(JSONValue.object(fields))).map { ByteBuffer(bytes: $0) }  // a JSON value always encodes
    }

    /// Plays MISSING, PROVISIONING/PENDING and failed starts on moto's DescribeTasks answer.
    private func rewriteDescribe(_ answer: JSONValue, plan: Scenario) -> JSONValue {
        var tasks: [JSONValue] = []
        var failures = answer["failures"].arrayValue ?? []
        let now = ContinuousClock.now
        for task in answer["tasks"].arrayValue ?? [] {
            guard case .object(var fields) = task, let arn = fields["taskArn"]?.stringValue else { tasks.append(task); continue }
            let age = startedAt.value[arn].map { now - $0 } ?? .seconds(1_000_000)
            // On a loaded machine the agent's first DescribeTasks may come after the window: it is MISSING still, so
            // the test sees the wait it is about.
            if let missing = plan.missingFor, age < missing || !reportedMissing.value.contains(arn) {
                reportedMissing.withLock { _ = $0.insert(arn) }
                failures.append(["arn": .string(arn), "reason": "MISSING"])
                continue
            }
            if let reason = failedTasks.value[arn], fields["lastStatus"]?.stringValue != "STOPPED" {
                fields["lastStatus"] = "STOPPED"
                fields["desiredStatus"] = "STOPPED"
                fields["stopCode"] = "TaskFailedToStart"
                fields["stoppedReason"] = .string(reason)
                fields["containers"] = .array((fields["containers"]?.arrayValue ?? []).map { container in
                    guard case .object(var c) = container else { return container }
                    c["lastStatus"] = "STOPPED"
                    c["exitCode"] = nil
                    return .object(c)
                })
            } else if spotStopped.value.contains(arn) {
                fields["lastStatus"] = "STOPPED"
                fields["desiredStatus"] = "STOPPED"
                fields["stopCode"] = "SpotInterruption"
                fields["stoppedReason"] = "Your Spot Task was interrupted."
                fields["containers"] = .array((fields["containers"]?.arrayValue ?? []).map { container in
                    guard case .object(var c) = container else { return container }
                    c["lastStatus"] = "STOPPED"
                    c["exitCode"] = 143
                    return .object(c)
                })
            } else if plan.drainOnStop, let stop = stops.value[arn] {
                // Draining until the container exits (or ECS's 30 s stop timeout passes and SIGKILL ends it).
                let exit = exits.value[arn] ?? (now - stop.at > .seconds(30) ? (137, nil) : nil)
                fields["desiredStatus"] = "STOPPED"
                fields["lastStatus"] = exit == nil ? "DEACTIVATING" : "STOPPED"
                fields["stopCode"] = exit == nil ? nil : "UserInitiated"
                fields["stoppedReason"] = exit == nil ? nil : .string(stop.reason)
                fields["containers"] = .array((fields["containers"]?.arrayValue ?? []).map { container in
                    guard case .object(var c) = container else { return container }
                    c["lastStatus"] = exit == nil ? "RUNNING" : "STOPPED"
                    c["exitCode"] = exit.map { .int(Int64($0.code)) } ?? .null
                    return .object(c)
                })
            } else if let exit = exits.value[arn], fields["lastStatus"]?.stringValue == "STOPPED" {
                fields["stopCode"] = "EssentialContainerExited"
                fields["stoppedReason"] = "Essential container in task exited"
                fields["containers"] = .array((fields["containers"]?.arrayValue ?? []).map { container in
                    guard case .object(var c) = container else { return container }
                    c["lastStatus"] = "STOPPED"
                    c["exitCode"] = .int(Int64(exit.code))
                    c["reason"] = exit.reason.map(JSONValue.string) ?? .null
                    return .object(c)
                })
            } else if let pending = plan.pendingFor, age < pending, fields["lastStatus"]?.stringValue != "STOPPED" {
                fields["lastStatus"] = age < pending / 2 ? "PROVISIONING" : "PENDING"
            }
            if let times = plan.billedTimes { addBilling(&fields, times: times) }
            tasks.append(.object(fields))
        }
        var rewritten = answer.objectValue ?? [:]
        rewritten["tasks"] = .array(tasks)
        rewritten["failures"] = .array(failures)
        return .object(rewritten)
    }

    private func addBilling(_ fields: inout [String: JSONValue], times: (pullStartedAt: Double, stoppedAt: Double)) {
        let definition = requests("RegisterTaskDefinition").last ?? .null
        fields["cpu"] = definition["cpu"].stringValue.map(JSONValue.string) ?? .null
        fields["memory"] = definition["memory"].stringValue.map(JSONValue.string) ?? .null
        if let provider = requests("RunTask").last?["capacityProviderStrategy"].arrayValue?.first?["capacityProvider"].stringValue {
            fields["capacityProviderName"] = .string(provider)
        }
        fields["attributes"] = [["name": "ecs.cpu-architecture", "value": "x86_64"]]
        fields["pullStartedAt"] = .double(times.pullStartedAt)
        if fields["lastStatus"]?.stringValue == "STOPPED" { fields["stoppedAt"] = .double(times.stoppedAt) }
    }

    private func forward(_ request: Request, body: ByteBuffer) async throws -> Response {
        try await LoopbackServer.forward(request, body: body, to: moto.url).response
    }

    /// moto's JSON answer (or its error answer, passed through by the caller's checks).
    private func forwardJSON(_ request: Request, body: ByteBuffer) async throws -> JSONValue {
        let answer = try await LoopbackServer.forward(request, body: body, to: moto.url)
        guard answer.status.code < 300 else { throw TestFailure("moto answered \(answer.status.code): \(String(buffer: answer.body))") }
        return try JSONDecoder().decode(JSONValue.self, from: Data(answer.body.readableBytesView))
    }

    static func json(_ value: JSONValue) -> Response {
        LoopbackServer.json(String(decoding: (try? JSONEncoder().encode(value)) ?? Data(), as: UTF8.self))
    }

    /// An error answer of the JSON 1.1 protocol, as ECS and CloudWatch Logs send it.
    static func error(_ code: String, _ message: String) -> Response {
        LoopbackServer.json(
            String(decoding: (try? JSONEncoder().encode(["__type": code, "message": message])) ?? Data(), as: UTF8.self),
            status: .badRequest, headers: [HTTPField.Name("x-amzn-RequestId")!: UUID().uuidString])
    }

    static func deniedMessage(_ code: String, _ action: String) -> String {
        code == "AccessDeniedException"
            ? "User: arn:aws:sts::123456789012:assumed-role/fathom-agent/i-0abc is not authorized to perform: \(action) on resource: * because no identity-based policy allows the \(action) action"
            : "The security token included in the request is expired"
    }
}
