import FathomAPI
import FathomCore
import FathomECS
import FathomStorage
import Foundation
import Logging
import Synchronization

/// Settings of the coordinator's run rules.
public struct CoordinatorSettings: Sendable {
    /// A Running run whose heartbeat is older than this becomes Crashed.
    public var heartbeatTimeout: Duration = .seconds(90)
    /// How long a claim holds a Pending run before it is crashed if no agent renews it.
    public var leaseDuration: Duration = .seconds(60)
    /// The longest a long-poll may be held.
    public var maxWait: Duration = .seconds(60)
    /// Schedules make their runs this far ahead…
    public var scheduleHorizon: Duration = .seconds(3600)
    /// …but always at least this many (so a daily schedule shows what comes next)…
    public var minimumScheduledRuns = 3
    /// …and at most this many per schedule and look.
    public var maxScheduledRuns = 100
    /// A scheduled run still unclaimed this long after it fell due is flagged late.
    public var lateAfter: Duration = .seconds(60)
    /// An agent not heard from for this long no longer counts as serving its queue (the web UI flags it too).
    public var agentSilenceLimit: Duration = .seconds(120)
    /// A live agent claims at least every 20 s; silent this long, another process may take its name.
    public var agentTakeoverAfter: Duration = .seconds(45)
    /// Bundle URLs a registration may name besides the coordinator's own storage (e.g. `s3://bucket/fathom/`):
    /// an agent executes what the URL holds, so nothing else is accepted.
    public var bundleURLPrefixes: [String] = []
    /// The largest bundle an upload may send; a larger one is answered 413.
    public var maxBundleBytes: Int64 = 2 << 30
    /// The address people reach the web UI at (e.g. `https://fathom.example.com`), for links in alerts; none when nil.
    public var publicURL: String?
    /// Hosts alert targets may name (`hooks.slack.com`, `*.example.com`); any host but the cloud metadata
    /// addresses when empty.
    public var alertHosts: [String] = []
    /// Whether the server has a mail server for email alerts (`--smtp-url`); rules with email targets are refused without.
    public var sendsEmail = false

    /// The defaults: 90 s heartbeat timeout, 20 s long-polls, 2 GiB bundles.
    public init() {}
}

/// The coordinator's rules: validation, the state machine, claims and long-polls, over a ``Store``.
public final class Coordinator: Sendable {
    let store: any Store
    let storage: any FlowStorage
    let notifier = ChangeNotifier()
    let settings: CoordinatorSettings
    let logger: Logger
    let clock: @Sendable () -> Date
    /// The counters and histograms `/metrics` shows.
    public let metrics: ServerMetrics
    /// The last slot each schedule has runs for, as far as this process knows (a cache: the store decides).
    let scheduledThrough = Mutex<[String: Date]>([:])
    /// When ``dueAndLateRuns(now:)`` last looked.
    let lastDueCheck = Mutex<Date?>(nil)
    /// Since when the reaper could have heard every heartbeat: this process's start, or the end of the
    /// last store outage. Nobody is crashed for silence older than that (see ``reap()``).
    let watchingSince: Mutex<Date>
    /// Whether the next reap starts a fresh grace: at start, and after a round could not reach the store.
    let freshGrace = Mutex(FreshGrace.starting)
    /// The newest claim each agent made here: an agent waits on one claim at a time, so a newer one makes the
    /// older obsolete (its HTTP connection was dropped by the agent, which the server does not see).
    let latestClaim = Mutex<[AgentID: UInt64]>([:])
    /// When ``findOverdueRuns(now:)`` last looked.
    let lastDeadlineCheck = Mutex<Date?>(nil)

    enum FreshGrace { case starting, afterStoreOutage, given }

    /// The rules over `store` and `storage`; `clock` is the time every rule reads (tests move it by hand).
    public init(
        store: any Store, storage: any FlowStorage, settings: CoordinatorSettings = .init(), logger: Logger,
        metrics: ServerMetrics = ServerMetrics(), clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.storage = storage
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        self.clock = clock
        self.watchingSince = Mutex(clock())
    }

    /// The coordinator's clock: `Date.init`, or a test's.
    public var now: Date { clock() }

    // MARK: Flows

    /// Registers every flow of a bundle as a new version, after checking the bundle is stored.
    public func register(_ request: RegisterFlowsRequest) async throws -> [FlowVersion] {
        var problems: [ValidationError] = []
        if !StorageError.isValidSHA256(request.bundleSHA256) {
            problems.append(ValidationError(
                code: "invalid_sha256", field: "bundleSHA256", problem: "'\(request.bundleSHA256)' is not a sha256",
                fix: "Pass the 64 lowercase hex characters of the bundle's sha256."))
        }
        if request.flows.isEmpty {
            problems.append(ValidationError(
                code: "no_flows", field: "flows", problem: "the bundle describes no flows",
                fix: "Declare at least one flow in the bundle's FlowBundle type."))
        }
        for (index, flow) in request.flows.enumerated() where !Names.isValid(flow.name) {
            problems.append(ValidationError(
                code: "invalid_flow_name", field: "flows[\(index)].name", problem: "'\(flow.name)' is not a valid flow name",
                fix: "Use letters, digits, '.', '_' and '-', starting with a letter or digit."))
        }
        for (index, flow) in request.flows.enumerated() {
            do { try flow.retryPolicy?.validate(field: "flows[\(index)].retryPolicy") } catch { problems.append(error) }
        }
        do { try request.retryPolicy?.validate(field: "retryPolicy") } catch { problems.append(error) }
        if let config = request.runConfig {
            do {
                switch config.launcher {
                case .local: try LocalRunSettings.validate(config.settings)
                case .ecs: _ = try ECSRunConfig(config.settings)
                }
            } catch {
                problems += error.errors
            }
        }
        if !problems.isEmpty { throw CoordinatorError(validation: ValidationErrors(problems)) }
        let storageURL: String
        if let given = request.storageURL, given != storage.url(forSHA256: request.bundleSHA256) {
            guard settings.bundleURLPrefixes.contains(where: { !$0.isEmpty && given.hasPrefix($0) }) else {
                throw CoordinatorError(
                    .invalid, code: "storage_url_not_allowed",
                    message: "storageURL '\(given.prefix(300))' is neither this coordinator's storage nor an allowed bundle prefix: agents execute what it names",
                    field: "storageURL",
                    fix: "Upload the bundle (PUT /api/v1/bundles/{sha256}; 'fathom register' does it), or start the server with --allow-bundle-prefix \(Self.prefixSuggestion(given)).")
            }
            storageURL = given
        } else {
            guard try await storage.contains(sha256: request.bundleSHA256) else {
                throw CoordinatorError(
                    .invalid, code: "bundle_missing",
                    message: "bundle \(request.bundleSHA256) is not in the coordinator's storage. Upload it first (PUT /api/v1/bundles/{sha256}); 'fathom register' does this for you.",
                    field: "bundleSHA256")
            }
            storageURL = storage.url(forSHA256: request.bundleSHA256)
        }
        let now = clock()
        var unchanged: [FlowVersion] = []
        var changed: [FlowDescription] = []
        for flow in request.flows {
            if let latest = try await store.version(flowName: flow.name, number: nil),
               latest.bundleSHA256 == request.bundleSHA256, latest.storageURL == storageURL, latest.summary == flow.summary,
               latest.parameters == flow.parameters, latest.runConfig == (request.runConfig ?? .local),
               latest.labels == (request.labels ?? [:]), latest.queue == (request.queue ?? "default"),
               latest.retryPolicy == (request.retryPolicy ?? flow.retryPolicy) {
                unchanged.append(latest)
            } else {
                changed.append(flow)
            }
        }
        let versions = changed.map { flow in
            FlowVersion(
                id: Identifier.make(), flowName: flow.name, version: 0, bundleSHA256: request.bundleSHA256,
                storageURL: storageURL, summary: flow.summary, parameters: flow.parameters,
                runConfig: request.runConfig ?? .local, labels: request.labels ?? [:], queue: request.queue ?? "default",
                createdAt: now, retryPolicy: request.retryPolicy ?? flow.retryPolicy)
        }
        // Registering the same bundle and settings again is a no-op: it returns the current versions.
        let inserted = versions.isEmpty ? [] : try await store.insertVersions(versions)
        for version in inserted { try await refreshSchedules(ofFlow: version.flowName) }
        return unchanged + inserted
    }

    // MARK: Runs

    /// Creates a Scheduled run after checking its parameters against the flow version.
    public func createRun(_ request: CreateFlowRunRequest) async throws -> FlowRun {
        guard let version = try await store.version(flowName: request.flow, number: request.version) else {
            if request.version != nil, try await store.version(flowName: request.flow, number: nil) != nil {
                throw CoordinatorError.notFound(
                    "version \(request.version!) of flow", request.flow, fix: "List versions with 'fathom flows'.")
            }
            throw CoordinatorError.notFound("flow", request.flow, fix: "Register it with 'fathom register BUNDLE', or list flows with 'fathom flows'.")
        }
        let parameters: [String: JSONValue]
        do {
            parameters = try ParameterValidator.resolve(request.parameters ?? [:], against: version.parameters, flowName: version.flowName)
        } catch {
            throw CoordinatorError(validation: error)
        }
        let id = Identifier.make()
        let tags: [String]
        do {
            tags = try RunTags.checked(request.tags, field: "tags")
        } catch {
            throw CoordinatorError(validation: ValidationErrors([error]))
        }
        let run = try await store.insertRun(NewFlowRun(
            id: id, version: version, parameters: parameters, idempotencyKey: request.idempotencyKey,
            createdAt: clock(), tags: tags))
        if run.id != id, let key = request.idempotencyKey {
            // The key was used before: the same request gets the same run; another request is a conflict.
            guard run.flowName == version.flowName, run.parameters == parameters,
                  request.version == nil || run.versionID == version.id
            else {
                throw CoordinatorError(
                    .conflict, code: "idempotency_key_reused", message: "the idempotency key '\(key)' was used for run \(run.id) of flow '\(run.flowName)' with other parameters or another version",
                    field: "idempotencyKey", fix: "Use a new key for a different run, or send the same request again to get run \(run.id).")
            }
            return run
        }
        metrics.transition(to: .scheduled)
        notifier.signal(.queue(version.queue))
        return run
    }

    /// `s3://bucket/prefix/` of a bundle URL, for the fix of a refused one.
    static func prefixSuggestion(_ url: String) -> String {
        guard url.hasPrefix("s3://"), let bundles = url.range(of: "/bundles/", options: .backwards) else { return "s3://BUCKET/PREFIX/" }
        return String(url[..<bundles.upperBound].dropLast("bundles/".count))
    }

    /// A run with its state history; ``CoordinatorError`` `notFound` when there is none.
    public func run(_ id: FlowRunID) async throws -> FlowRun {
        guard let run = try await store.run(id: id, includeHistory: true) else { throw CoordinatorError.runNotFound(id) }
        return run
    }

    /// Moves a run to `request.state`, enforcing the state machine with compare-and-set.
    public func setState(_ id: FlowRunID, _ request: SetStateRequest) async throws -> FlowRun {
        while true {
            let current = try await run(id)
            if let expected = request.expected, expected != current.state {
                throw CoordinatorError(
                    .conflict, code: "state_changed",
                    message: "flow run \(id) is \(current.state), not \(expected) as expected; it was not moved to \(request.state).",
                    field: "expected")
            }
            guard current.state.canTransition(to: request.state) else {
                let allowed = current.state.allowedNextStates.map(\.rawValue).sorted()
                throw CoordinatorError(
                    .conflict, code: "illegal_transition",
                    message: "flow run \(id) cannot move from \(current.state) to \(request.state). "
                        + (allowed.isEmpty ? "\(current.state) is final." : "From \(current.state) it may move to: \(allowed.joined(separator: ", ")).") ,
                    field: "state")
            }
            let write = StateWrite(
                runID: id, from: current.state, to: request.state, message: request.message ?? "", at: clock(),
                agentID: current.agentID, leaseExpiresAt: nil, cause: request.state.isFinal ? request.cause : nil)
            if let updated = try await store.compareAndSetState(write) {
                await transitioned(updated)
                return updated
            }
            // Someone else moved it between the read and the write: look again.
        }
    }

    /// Cancels a run: at once if no agent has it, else through Cancelling and the agent.
    public func cancel(_ id: FlowRunID) async throws -> FlowRun {
        // The run can move on between the read and the write (an agent claims it, the flow starts): then look again.
        // A run moves forward only a few times before it is final, so this ends.
        while true {
            let current = try await run(id)
            let request: SetStateRequest
            switch current.state {
            case .scheduled:
                request = SetStateRequest(state: .cancelled, message: "cancelled before it started", expected: .scheduled)
            case .pending, .running:
                request = SetStateRequest(state: .cancelling, message: "cancel requested", expected: current.state)
            case .cancelling:
                return current
            case .completed, .failed, .crashed, .cancelled:
                throw CoordinatorError(
                    .conflict, code: "illegal_transition",
                    message: "flow run \(id) is already \(current.state) and cannot be cancelled.", field: "state")
            }
            do {
                return try await setState(id, request)
            } catch let error as CoordinatorError where error.body.error.code == "state_changed" {
                continue
            }
        }
    }

    /// Wakes whoever waits on the run, counts the transition, and on a final state frees its
    /// concurrency slot, records its duration and schedules a retry if its flow's policy asks for one.
    func transitioned(_ run: FlowRun) async {
        notifier.signal(.run(run.id))
        metrics.transition(to: run.state)
        if run.state == .cancelling, let agent = run.agentID { notifier.signal(.agent(agent)) }
        guard run.state.isFinal else { return }
        notifier.signal(.queue(run.queue))
        notifier.signal(.alerts)  // its alert event was written with the state: send it now
        if let ended = run.endedAt {
            metrics.runEnded(flow: run.flowName, state: run.state, seconds: ended.timeIntervalSince(run.startedAt ?? run.createdAt))
        }
        do {
            try await retryIfPolicyAllows(run)
        } catch {
            logger.error("could not schedule a retry", metadata: ["run": "\(run.id)", "error": "\(error)"])
        }
    }

    /// Records a heartbeat and answers the run's state. A run the reaper crashed on silence alone is alive
    /// after all when its own flow speaks again (a partition, a stalled host): it becomes Running again,
    /// unless a later attempt of it has already been taken.
    public func heartbeat(_ id: FlowRunID) async throws -> FlowRunState {
        let now = clock()
        guard let state = try await store.recordHeartbeat(runID: id, at: now) else { throw CoordinatorError.runNotFound(id) }
        guard state == .crashed else { return state }
        let crashedAt = try await store.run(id: id, includeHistory: false)?.endedAt ?? now
        let message = "its heartbeat came back \(Int(now.timeIntervalSince(crashedAt))) s after it was crashed for silence: the flow was alive; running again"
        guard let (revived, withdrawn) = try await store.revive(runID: id, message: message, at: now) else { return state }
        logger.warning("flow run revived", metadata: ["run": "\(id)", "withdrawn retries": "\(withdrawn)"])
        let retries = withdrawn.isEmpty ? "" : " (the retry made for the crash, \(withdrawn.joined(separator: ", ")), never ran and was withdrawn)"
        _ = try await store.appendLogs(
            runID: id, [LogEntry(timestamp: now, level: .warning, message: "Running again: \(message)\(retries)", source: .coordinator)])
        await transitioned(revived)
        return revived.state
    }

    /// Merges a launcher's facts (pid, task ARN, log stream) into the run's; facts are checked by key and size.
    public func setInfrastructure(_ id: FlowRunID, _ facts: [String: String]) async throws -> FlowRun {
        guard let run = try await store.mergeInfrastructure(runID: id, facts: facts, at: clock()) else {
            throw CoordinatorError.runNotFound(id)
        }
        return run
    }

    // MARK: Logs and task runs

    /// Appends lines; `infrastructure` facts are merged into the run's in the same transaction.
    /// Once the run has ended only its process output (`processOutput`, sent by its agent) is kept,
    /// marked late; other lines are refused with 409 `run_final`. A `batchID` the run accepted before stores nothing
    /// and answers as the first time, marked repeated.
    public func appendLogs(
        _ id: FlowRunID, _ logs: [LogEntry], infrastructure: [String: String] = [:], processOutput: Bool = false, batchID: String? = nil
    ) async throws -> LogAccepted {
        let checkedBatchID: String?
        do {
            checkedBatchID = try LogBatch.checked(batchID: batchID)
        } catch {
            throw CoordinatorError(.malformed, code: error.code, message: "\(error.field): \(error.problem)", field: error.field, fix: error.fix)
        }
        do {
            let accepted = try await store.appendLogs(
                runID: id, logs, infrastructure: infrastructure, afterEnd: processOutput ? .markLate : .refuse, batchID: checkedBatchID)
            guard accepted.repeated != true else { return accepted }
            metrics.logLines.increment(by: logs.count)
            notifier.signal(.run(id))
            return accepted
        } catch StoreError.runNotFound {
            throw CoordinatorError.runNotFound(id)
        } catch StoreError.runFinal(_, let state) {
            throw CoordinatorError(
                .conflict, code: "run_final",
                message: "flow run \(id) has ended (\(state)): its log takes no more lines; these \(logs.count) were not stored",
                field: "logs",
                fix: "Send a run's lines before its final state. An agent copying the process's own output sends them with processOutput: true; they are kept, marked late.")
        }
    }

    /// Log lines after `after`; waits up to `wait` for a new line or a state change when there are none.
    public func logs(_ id: FlowRunID, after: Int64, limit: Int, wait: Duration) async throws -> LogPage {
        let deadline = ContinuousClock.now + min(wait, settings.maxWait)
        while true {
            let since = notifier.generation(of: [.run(id)])
            let current = try await run(id)
            let lines = try await store.logs(runID: id, after: after, limit: limit)
            let remaining = deadline - ContinuousClock.now
            if !lines.isEmpty || current.state.isFinal || remaining <= .zero {
                return LogPage(lines: lines, next: lines.last?.seq ?? after, state: current.state)
            }
            let stateBefore = current.state
            await notifier.wait(on: [.run(id)], since: since, timeout: remaining)
            let state = try await run(id).state
            if notifier.isClosed || state != stateBefore {
                let fresh = try await store.logs(runID: id, after: after, limit: limit)
                return LogPage(lines: fresh, next: fresh.last?.seq ?? after, state: state)
            }
        }
    }

    /// Records task runs' latest states, as the SDK sends them in batches.
    public func upsertTaskRuns(_ id: FlowRunID, _ updates: [TaskRunUpdate]) async throws {
        try Self.checkTaskRuns(updates)
        do {
            try await store.upsertTaskRuns(runID: id, updates)
        } catch StoreError.runNotFound {
            throw CoordinatorError.runNotFound(id)
        }
    }

    /// Task runs as the SDK sends them: an id and a name, an attempt from 1, a bounded batch.
    static func checkTaskRuns(_ updates: [TaskRunUpdate]) throws {
        func refuse(_ index: Int, _ field: String, _ problem: String, _ fix: String) -> CoordinatorError {
            CoordinatorError(.invalid, code: "invalid_task_run", message: "taskRuns[\(index)].\(field) \(problem)",
                     field: "taskRuns[\(index)].\(field)", fix: fix)
        }
        guard updates.count <= 10_000 else {
            throw CoordinatorError(.invalid, code: "too_many_task_runs", message: "\(updates.count) task runs in one batch",
                           field: "taskRuns", fix: "Send at most 10,000 task runs per request.")
        }
        for (index, update) in updates.enumerated() {
            guard (1...200).contains(update.id.utf8.count) else {
                throw refuse(index, "id", "must be 1 to 200 bytes long", "Send the task run's id (the SDK makes a UUID).")
            }
            guard (1...1000).contains(update.name.utf8.count) else {
                throw refuse(index, "name", "must be 1 to 1,000 bytes long", "Name the task.")
            }
            guard update.attempt >= 1 else {
                throw refuse(index, "attempt", "is \(update.attempt); attempts count from 1", "Send 1 for a first attempt.")
            }
            if let key = update.cacheKey, !(1...200).contains(key.utf8.count) {
                throw refuse(index, "cacheKey", "must be 1 to 200 bytes long", "Send the SDK's hex digest, or leave it out.")
            }
            if let source = update.cachedFrom, !Identifier.isValid(source) {
                throw refuse(index, "cachedFrom", "is not a flow run id", "Name the run the result was taken from.")
            }
            if let reference = update.resultRef {
                let schemeOK = reference.url.hasPrefix("file:///") || reference.url.hasPrefix("s3://")
                guard schemeOK, (8...4096).contains(reference.url.utf8.count), reference.size >= 0,
                      reference.sha256.utf8.count == 64, reference.sha256.allSatisfy(\.isHexDigit)
                else {
                    throw refuse(
                        index, "resultRef", "needs a file:/// or s3:// url of at most 4,096 bytes, a size of at least 0 and a hex sha256",
                        "Send the reference the SDK's result store made.")
                }
            }
            if let outputs = update.outputs {
                guard outputs.count <= 1000 else {
                    throw refuse(index, "outputs", "lists \(outputs.count) files", "Declare at most 1,000 output files per task.")
                }
                for (number, file) in outputs.enumerated() {
                    guard (1...4096).contains(file.path.utf8.count), file.size >= 0 else {
                        throw refuse(
                            index, "outputs[\(number)]", "needs a path of 1 to 4,096 bytes and a size of at least 0",
                            "Send the file's absolute path and size as the SDK does.")
                    }
                }
            }
        }
    }

    // MARK: Agents

    /// Registers an agent process; another live process with the same name is refused (409) until it has
    /// been silent for ``CoordinatorSettings/agentTakeoverAfter``.
    public func registerAgent(_ registration: AgentRegistration) async throws -> AgentInfo {
        guard Names.isValid(registration.name) else {
            throw CoordinatorError(
                .invalid, code: "invalid_agent_name", message: "agent name '\(registration.name)' is not valid",
                field: "name", fix: "Use letters, digits, '.', '_' and '-'.")
        }
        guard Names.isValid(registration.queue) else {
            throw CoordinatorError(
                .invalid, code: "invalid_queue", message: "queue name '\(registration.queue.prefix(200))' is not valid",
                field: "queue", fix: "Use letters, digits, '.', '_' and '-', starting with a letter or digit.")
        }
        // The same agent name on the same queue keeps its id, so a restarted agent still owns its runs...
        let existing = try await store.agents().first { $0.name == registration.name && $0.queue == registration.queue }
        // ...but only once the process that had it is gone: stopped cleanly, or silent for a while.
        if let existing, let live = existing.instance, let instance = registration.instance, live != instance {
            let silent = clock().timeIntervalSince(existing.lastSeenAt)
            let takeover = settings.agentTakeoverAfter.inSeconds
            if silent < takeover {
                throw CoordinatorError(
                    .conflict, code: "agent_name_in_use",
                    message: "agent '\(registration.name)' on queue '\(registration.queue)' is live in another process (host \(existing.host ?? "unknown"), last seen \(Int(saturating: silent)) s ago)",
                    field: "name",
                    fix: "Give each agent its own --name (the default is the host name), or stop the other one; a name whose agent stopped without a word is free after \(Int(takeover)) s.")
            }
        }
        return try await store.upsertAgent(registration, id: existing?.id ?? Identifier.make(), at: clock())
    }

    /// An agent process that stops cleanly frees its name at once.
    public func agentStopped(_ id: AgentID, instance: String) async throws -> AgentInfo {
        _ = try await store.agentStopped(id: id, instance: instance)
        guard let agent = try await store.agent(id: id) else { throw CoordinatorError.notFound("agent", id, fix: "Nothing to stop.") }
        return agent
    }

    /// Hands scheduled runs to an agent, waiting up to `request.waitSeconds` when there are none.
    public func claim(agentID: AgentID, _ request: ClaimRequest) async throws -> ClaimResponse {
        guard let agent = try await store.agent(id: agentID) else {
            throw CoordinatorError.notFound("agent", agentID, fix: "Register the agent again (restart 'fathom agent').")
        }
        let wait = min(try checked { try NumberCheck.seconds(request.waitSeconds, field: "waitSeconds", in: 0...3600) }, settings.maxWait)
        let lease = try request.leaseSeconds.map { seconds in
            try checked { try NumberCheck.seconds(seconds, field: "leaseSeconds", in: 0.1...86_400) }
        } ?? settings.leaseDuration
        let capacity = try checked { try NumberCheck.count(request.capacity, field: "capacity", in: 0...1000) }
        let deadline = ContinuousClock.now + wait
        // A claim that can take no run (the agent's slots are full) waits for cancels only: waking it for every
        // run made or ended on the queue would cost a store round for nothing.
        let keys: [ChangeTopic] = capacity > 0 ? [.queue(agent.queue), .agent(agent.id)] : [.agent(agent.id)]
        let number = latestClaim.withLock { latest in
            let next = (latest[agent.id] ?? 0) &+ 1
            latest[agent.id] = next
            return next
        }
        defer { latestClaim.withLock { if $0[agent.id] == number { $0[agent.id] = nil } } }
        notifier.signal(.agent(agent.id))  // ends this agent's older claims still waiting here
        while true {
            let since = notifier.generation(of: keys)
            if latestClaim.withLock({ $0[agent.id] }) != number || Task.isCancelled { return ClaimResponse(runs: [], cancel: []) }
            let now = clock()
            let result = try await store.claim(
                agent: agent, capacity: capacity, leaseExpiresAt: now.addingTimeInterval(lease.inSeconds), now: now)
            for claimed in result.runs {
                notifier.signal(.run(claimed.run.id))
                metrics.transition(to: .pending)
                metrics.claimed(after: now.timeIntervalSince(claimed.run.scheduledFor ?? claimed.run.createdAt))
            }
            let remaining = deadline - ContinuousClock.now
            if !result.runs.isEmpty || !result.cancel.isEmpty || remaining <= .zero {
                return ClaimResponse(runs: result.runs, cancel: result.cancel)
            }
            metrics.claimWaiting(1)
            await notifier.wait(on: keys, since: since, timeout: remaining)
            metrics.claimWaiting(-1)
            if Task.isCancelled || notifier.isClosed { return ClaimResponse(runs: [], cancel: []) }
        }
    }

    /// Ends the long-polls in flight, so a stopping server does not wait for them.
    public func closeLongPolls() {
        notifier.close()
    }

    // MARK: Reaping

    /// Crashes runs whose heartbeat stopped and Pending runs whose lease ran out. Returns what it crashed.
    ///
    /// Silence only counts while the coordinator could have heard: after it starts, or after its store
    /// comes back from an outage, every run gets a full heartbeat timeout (and every claim a full lease)
    /// before it is judged, so an outage of the coordinator is never taken for the death of its runs.
    @discardableResult
    public func reap() async throws -> [FlowRun] {
        let now = clock()
        var crashed: [FlowRun] = []
        let timeout = settings.heartbeatTimeout.inSeconds
        let grace = freshGrace.withLock { $0 }
        if grace != .given {
            // Agents could not renew their claims while nobody answered: every Pending run gets a full lease.
            let extended = try await store.extendLeases(until: now.addingTimeInterval(settings.leaseDuration.inSeconds))
            freshGrace.withLock { $0 = .given }
            if grace == .afterStoreOutage {
                watchingSince.withLock { $0 = now }
                logger.notice("the store answers again: every run gets a fresh \(Int(timeout)) s before a missing heartbeat counts, \(extended) claims a fresh lease")
            }
        }
        let since = watchingSince.withLock { $0 }
        let stale = try await store.runsWithHeartbeat(olderThan: now.addingTimeInterval(-timeout), in: [.running, .cancelling])
        for run in stale where now.timeIntervalSince(since) >= timeout {
            let last = run.heartbeatAt ?? run.startedAt ?? run.updatedAt
            let message = "no heartbeat for \(Int(now.timeIntervalSince(last))) s (timeout \(Int(timeout)) s; last at \(last.formatted(.iso8601))): the flow process or its host died without reporting a final state"
            if let updated = try await crash(run, message: message, at: now, revivable: true) { crashed.append(updated) }
        }
        for run in try await store.runsWithExpiredLease(now: now) {
            let message = "agent \(run.agentID ?? "?") claimed the run but did not start it before its lease ran out; the agent may have died"
            if let updated = try await crash(run, message: message, at: now) { crashed.append(updated) }
        }
        return crashed
    }

    private func crash(_ run: FlowRun, message: String, at now: Date, revivable: Bool = false) async throws -> FlowRun? {
        let write = StateWrite(
            runID: run.id, from: run.state, to: .crashed, message: message, at: now, agentID: run.agentID, revivable: revivable)
        guard let updated = try await store.compareAndSetState(write) else { return nil }
        logger.warning("flow run crashed", metadata: ["run": "\(run.id)", "reason": "\(message)"])
        await note(LogEntry(timestamp: now, level: .error, message: "Crashed: \(message)", source: .coordinator), in: run.id)
        await transitioned(updated)
        return updated
    }

    /// Adds the coordinator's own line to a run's log. The line repeats what the run's state message already
    /// holds, so a store that refuses it loses no fact; the refusal goes to the server's log.
    func note(_ entry: LogEntry, in runID: FlowRunID) async {
        do {
            _ = try await store.appendLogs(runID: runID, [entry])
        } catch {
            logger.warning("could not add a line to a run's log", metadata: ["run": "\(runID)", "error": "\(error)"])
        }
    }
}
