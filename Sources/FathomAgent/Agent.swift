import FathomAPI
import FathomClient
import FathomCore
import Foundation
import Logging

/// How an agent claims work.
public struct AgentConfiguration: Sendable {
    /// The agent's name: one live process per name (the default is the host name).
    public var name: String
    /// The work queue it claims from.
    public var queue = "default"
    /// What it offers: it claims only runs whose flow labels it has, with the same values.
    public var labels: [String: String] = [:]
    /// The most runs it launches at once.
    public var maxConcurrentRuns = 8
    /// How long each claim long-poll may wait on the server.
    public var claimWait: Duration = .seconds(20)

    /// The defaults (queue `default`, no labels, 8 runs, 20 s claims) for `name`.
    public init(name: String) {
        self.name = name
    }
}

/// Claims runs from a work queue, launches each through a ``Launcher``, and watches it until it
/// ends. Anything that ends without the flow having reported a final state becomes Crashed, with
/// the reason; a cancel stops the infrastructure and ends the run Cancelled.
public actor Agent {
    let client: APIClient
    let launcher: any Launcher
    let configuration: AgentConfiguration
    let logger: Logger
    private var inFlight: [FlowRunID: any LaunchedRun] = [:]
    private var launching: Set<FlowRunID> = []
    private var watchers: [FlowRunID: Task<Void, Never>] = [:]
    /// The claim in flight while every slot is full: it only listens for cancels, so a slot that frees
    /// ends it at once and the next claim takes work.
    private var fullSlotsClaim: Task<ClaimResponse, any Error>?
    /// The id the coordinator gave this agent, once registered.
    public private(set) var agentID: AgentID?
    /// This process, as the coordinator knows it (a second live process with the same name is refused).
    public nonisolated let instance = Identifier.make()

    /// An agent that claims through `client` and launches through `launcher`; ``run()`` starts it.
    public init(client: APIClient, launcher: any Launcher, configuration: AgentConfiguration, logger: Logger) {
        self.client = client
        self.launcher = launcher
        self.configuration = configuration
        self.logger = logger
    }

    /// Registers, then claims and launches until the task is cancelled.
    public func run() async throws {
        let agent = try await register()
        logger.info("agent ready", metadata: ["agent": "\(agent.name)", "queue": "\(agent.queue)", "launcher": "\(launcher.kind)"])
        await reattachRuns(of: agent)
        var backoff = Duration.milliseconds(200)
        while !Task.isCancelled {
            let capacity = max(0, configuration.maxConcurrentRuns - inFlight.count - launching.count)
            do {
                let request = ClaimRequest(waitSeconds: configuration.claimWait.inSeconds, capacity: capacity)
                let response: ClaimResponse
                if capacity > 0 {
                    response = try await client.claim(agent: agent.id, request)
                } else {
                    // Nothing can be claimed on the server's side, so ending this claim early loses nothing: the
                    // runs to cancel are asked again by the next one.
                    let claim = Task { [client] in try await client.claim(agent: agent.id, request) }
                    fullSlotsClaim = claim
                    defer { fullSlotsClaim = nil }
                    do {
                        response = try await withTaskCancellationHandler { try await claim.value } onCancel: { claim.cancel() }
                    } catch where claim.isCancelled && !Task.isCancelled {
                        continue  // A slot freed.
                    }
                }
                backoff = .milliseconds(200)
                for runID in response.cancel { await cancel(runID) }
                for claimed in response.runs { start(claimed) }
            } catch is CancellationError {
                break
            } catch {
                if Task.isCancelled { break }
                logger.warning("claim failed; retrying", metadata: ["error": "\(error)", "in": "\(backoff)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(10))
            }
        }
        for watcher in watchers.values { watcher.cancel() }
        // Free the name for the next process at once (a restart need not wait for the takeover time).
        let client = self.client, instance = self.instance
        // Bounded: a stopping container has little time (ECS gives 30 s), and the name frees itself after 45 s anyway.
        try? await Task { try await client.agentStopped(agent.id, instance: instance, timeout: .seconds(5)) }.value
    }

    /// Picks up the runs an earlier process of this agent left in flight.
    private func reattachRuns(of agent: AgentInfo) async {
        // The list is asked until it answers: skipping it would leave running flows unwatched.
        let listed = await Retrying(attempts: 20).run(failed: { error in
            logger.warning("cannot list this agent's runs to re-attach; retrying", metadata: ["error": "\(error)"])
        }) { try await client.listRuns(agent: agent.id, activeOnly: true, limit: 1000).runs }
        guard let runs = listed else {
            logger.error("gave up listing this agent's runs: runs it had in flight are left to their heartbeats")
            return
        }
        for run in runs where run.state != .scheduled {
            let runID = run.id
            launching.insert(runID)
            watchers[runID] = Task {
                defer { self.finished(runID) }
                do {
                    let version = try await self.client.version(ofRun: runID)
                    if let launched = try await self.launcher.reattach(run, version: version) {
                        await self.adopt(runID, launched)
                        self.logger.info("re-attached to run", metadata: ["run": "\(runID)"])
                        let outcome = await launched.wait()
                        await self.settle(runID, outcome: outcome)
                    } else {
                        await self.settle(runID, outcome: LaunchOutcome(
                            summary: "its infrastructure (\(run.infrastructure[.taskArn] ?? run.infrastructure[.pid].map { "pid \($0)" } ?? "none recorded")) was gone when the agent restarted"))
                    }
                } catch let elsewhere as NotThisAgentsRun {
                    self.logger.warning("not re-attaching", metadata: ["run": "\(runID)", "reason": "\(elsewhere)"])
                } catch {
                    await self.settle(runID, outcome: LaunchOutcome(summary: "the agent restarted and could not re-attach: \(error)"))
                }
            }
        }
    }

    private func adopt(_ runID: FlowRunID, _ launched: any LaunchedRun) {
        launching.remove(runID)
        inFlight[runID] = launched
    }

    private func register() async throws -> AgentInfo {
        var delay = Duration.milliseconds(200)
        while true {
            do {
                let info = try await client.registerAgent(AgentRegistration(
                    name: configuration.name, queue: configuration.queue, labels: configuration.labels, launcher: launcher.kind,
                    instance: instance, host: ProcessInfo.processInfo.hostName))
                agentID = info.id
                return info
            } catch let error as APIClientError where error.status == nil && !Task.isCancelled {
                logger.warning("cannot reach the coordinator; retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            } catch let error as APIClientError where error.code == "agent_name_in_use" && !Task.isCancelled {
                // Another live process has this name: wait for it to stop rather than take its runs.
                logger.error("\(error); waiting for it")
                try await Task.sleep(for: .seconds(5))
            }
        }
    }

    private func start(_ claimed: ClaimedRun) {
        let runID = claimed.run.id
        launching.insert(runID)
        watchers[runID] = Task { await self.launchAndWatch(claimed) }
    }

    private func launchAndWatch(_ claimed: ClaimedRun) async {
        let runID = claimed.run.id
        defer { finished(runID) }
        let launched: any LaunchedRun
        do {
            launched = try await launcher.launch(claimed)
        } catch {
            launching.remove(runID)
            logger.error("launch failed", metadata: ["run": "\(runID)", "error": "\(error)"])
            await settle(runID, outcome: LaunchOutcome(
                summary: "the \(launcher.kind) launcher could not start the run: \(error)", cause: (error as? LaunchError)?.cause))
            return
        }
        launching.remove(runID)
        inFlight[runID] = launched
        guard await recordInfrastructure(launched.infrastructure, of: runID) else {
            // Without the record a restarted agent could not find the run's infrastructure: stop it now.
            await launched.stop(reason: "the coordinator did not take the run's infrastructure record")
            await settle(runID, outcome: LaunchOutcome(summary: "the coordinator did not accept the run's infrastructure record, so the agent stopped it"))
            return
        }
        let outcome = await launched.wait()
        await settle(runID, outcome: outcome)
    }

    /// Stores where the run runs (pid, task ARN), retrying with backoff for about half a minute.
    private func recordInfrastructure(_ infrastructure: [String: String], of runID: FlowRunID) async -> Bool {
        await Retrying(attempts: 8).run(failed: { error in
            logger.warning("cannot record the run's infrastructure; retrying", metadata: ["run": "\(runID)", "error": "\(error)"])
        }) {
            _ = try await client.setInfrastructure(runID, infrastructure)
        } != nil
    }

    private func finished(_ runID: FlowRunID) {
        inFlight[runID] = nil
        launching.remove(runID)
        watchers[runID] = nil
        fullSlotsClaim?.cancel()
    }

    private func cancel(_ runID: FlowRunID) async {
        if let launched = inFlight[runID] {
            logger.info("stopping run on request", metadata: ["run": "\(runID)"])
            await launched.stop(reason: "cancelled by user")
        } else if !launching.contains(runID) {
            // Not ours any more (e.g. after an agent restart): nothing runs, so it is cancelled.
            await settle(runID, outcome: LaunchOutcome(summary: "no infrastructure was running"))
        }
    }

    /// After the infrastructure ended: Cancelled if a cancel was asked, Crashed if the flow never
    /// reported a final state, nothing if it did.
    func settle(_ runID: FlowRunID, outcome: LaunchOutcome) async {
        for _ in 0..<5 {
            do {
                let run = try await client.run(runID)
                if run.state.isFinal { return }
                let next: FlowRunState = run.state == .cancelling ? .cancelled : .crashed
                var message = run.state == .cancelling
                    ? "cancelled; \(outcome.summary)"
                    : "\(outcome.summary) before the flow reported a final state (it was \(run.state))"
                if next == .crashed && !outcome.details.isEmpty {
                    message += "\nlast output:\n  " + outcome.details.suffix(10).joined(separator: "\n  ")
                }
                try await client.setState(runID, SetStateRequest(
                    state: next, message: message, expected: run.state, cause: next == .crashed ? outcome.cause : nil))
                logger.info("run ended", metadata: ["run": "\(runID)", "state": "\(next)"])
                return
            } catch let error as APIClientError where error.status == 409 {
                continue  // It moved meanwhile; look again.
            } catch is CancellationError {
                return  // The agent is shutting down; the coordinator's reaper covers what is left.
            } catch {
                if Task.isCancelled { return }
                logger.error("cannot report how a run ended; retrying", metadata: ["run": "\(runID)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Runs this agent is watching now.
    public var runsInFlight: [FlowRunID] { Array(inFlight.keys) + Array(launching) }
}
