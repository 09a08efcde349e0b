import FathomAPI
import FathomClient
import FathomCLI
import FathomCore
import FathomServer
import FathomStorage
import Foundation
import Synchronization
import Testing

/// The coordinator's API over real HTTP on loopback, with a real SQLite file.
@Suite(.serialized)
struct APITests {
    @Test func aRunMovesThroughClaimToCompletedWithHistory() async throws {
        try await withCoordinator { _, client in
            try await registerTestFlows(client)
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper", parameters: ["seconds": .int(2)]))
            #expect(run.state == .scheduled)
            // JSON has one number type: 2 and 2.0 are the same value, and the flow decodes it as a Double.
            #expect(run.parameters["seconds"] == .int(2) || run.parameters["seconds"] == .double(2))
            let agent = try await client.registerAgent(AgentRegistration(name: "a1"))
            let claim = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
            #expect(claim.runs.map(\.run.id) == [run.id])
            #expect(claim.runs.first?.run.state == .pending)
            #expect(claim.runs.first?.version.flowName == "sleeper")
            try await client.setState(run.id, SetStateRequest(state: .running, expected: .pending))
            try await client.setState(run.id, SetStateRequest(state: .completed, message: "done"))
            let final = try await client.run(run.id)
            #expect(final.history?.map(\.state) == [.scheduled, .pending, .running, .completed])
            #expect(final.startedAt != nil && final.endedAt != nil)
            #expect(final.agentID == agent.id)
        }
    }

    @Test func registeringTheSameBundleTwiceMakesNoNewVersion() async throws {
        try await withCoordinator { _, client in
            let first = try await registerTestFlows(client)
            let second = try await registerTestFlows(client)
            #expect(first.map(\.id) == second.map(\.id))
            #expect(try await client.flow(named: "sleeper").versionCount == 1)
        }
    }

    @Test func badInputIsA4xxThatNamesTheProblemAndStoresNothing() async throws {
        try await withCoordinator { coordinator, client in
            try await registerTestFlows(client)
            let url = coordinator.url + "/api/v1"

            let unknownFlow = try await RawHTTP.send(.POST, url + "/flow-runs", body: #"{"flow":"nope"}"#)
            #expect(unknownFlow.status == 404)
            #expect(unknownFlow.error?.error.message.contains("flow 'nope' does not exist") == true)

            let wrongType = try await RawHTTP.send(.POST, url + "/flow-runs", body: #"{"flow":"sleeper","parameters":{"seconds":"soon"}}"#)
            #expect(wrongType.status == 422)
            #expect(wrongType.error?.error.code == "invalid_parameter_type")
            #expect(wrongType.error?.error.field == "parameters.seconds")

            let unknownParameter = try await RawHTTP.send(.POST, url + "/flow-runs", body: #"{"flow":"sleeper","parameters":{"secs":1}}"#)
            #expect(unknownParameter.status == 422)
            #expect(unknownParameter.error?.error.code == "unknown_parameter")
            #expect(unknownParameter.error?.error.message.contains("Did you mean 'seconds'?") == true)

            let malformed = try await RawHTTP.send(.POST, url + "/flow-runs", body: #"{"flow": "sleeper""#)
            #expect(malformed.status == 400)
            #expect(malformed.error?.error.code == "malformed_json")

            let missingField = try await RawHTTP.send(.POST, url + "/flow-runs", body: #"{"parameters":{}}"#)
            #expect(missingField.status == 400)
            #expect(missingField.error?.error.field == "flow")

            #expect(try await client.listRuns().total == 0, "no rejected request stored a run")

            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            let illegal = try await RawHTTP.send(.POST, url + "/flow-runs/\(run.id)/state", body: #"{"state":"Completed"}"#)
            #expect(illegal.status == 409)
            #expect(illegal.error?.error.code == "illegal_transition")
            #expect(illegal.error?.error.message.contains("cannot move from Scheduled to Completed") == true)
            #expect(try await client.run(run.id).state == .scheduled)
            #expect(try await client.run(run.id).history?.count == 1)

            let stale = try await RawHTTP.send(.POST, url + "/flow-runs/\(run.id)/state", body: #"{"state":"Running","expected":"Pending"}"#)
            #expect(stale.status == 409)
            #expect(stale.error?.error.code == "state_changed")

            let claimedSHA = FileHashing.sha256(of: Data("the bundle we claim to send".utf8))
            let tampered = try await RawHTTP.send(
                .PUT, url + "/bundles/\(claimedSHA)", body: "other bytes", headers: ["Content-Type": "application/octet-stream"])
            #expect(tampered.status == 422)
            #expect(tampered.error?.error.code == "hash_mismatch")
            #expect(try await RawHTTP.send(.GET, url + "/bundles/\(claimedSHA)").status == 404)
            let actualSHA = FileHashing.sha256(of: Data("other bytes".utf8))
            #expect(try await RawHTTP.send(.GET, url + "/bundles/\(actualSHA)").status == 404, "nothing was stored")

            let unstored = try await RawHTTP.send(
                .POST, url + "/flows", body: #"{"bundleSHA256":"\#(claimedSHA)","flows":[{"name":"x","summary":"","parameters":[]}]}"#)
            #expect(unstored.status == 422)
            #expect(unstored.error?.error.code == "bundle_missing")
            await #expect(throws: APIClientError.self) { try await client.flow(named: "x") }
        }
    }

    @Test func fourAgentsRacingForTwoHundredRunsClaimEachExactlyOnce() async throws {
        try await withCoordinator { _, client in
            try await registerTestFlows(client)
            var created: Set<FlowRunID> = []
            for _ in 0..<200 { created.insert(try await client.createRun(CreateFlowRunRequest(flow: "sleeper")).id) }
            let claims = try await withThrowingTaskGroup(of: [FlowRunID].self) { group in
                for index in 0..<4 {
                    group.addTask {
                        let agent = try await client.registerAgent(AgentRegistration(name: "racer-\(index)"))
                        var mine: [FlowRunID] = []
                        while true {
                            let response = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 0, capacity: 3))
                            if response.runs.isEmpty { return mine }
                            mine += response.runs.map(\.run.id)
                        }
                    }
                }
                var all: [[FlowRunID]] = []
                for try await claimed in group { all.append(claimed) }
                return all
            }
            let flat = claims.flatMap { $0 }
            #expect(flat.count == 200, "every run claimed once: \(flat.count) claims")
            #expect(Set(flat) == created)
            #expect(claims.filter { !$0.isEmpty }.count >= 2, "the agents really raced")
            #expect(try await client.listRuns(state: .pending, limit: 1).total == 200)
        }
    }

    @Test func aClaimLongPollReturnsAsSoonAsARunIsCreated() async throws {
        try await withCoordinator { _, client in
            try await registerTestFlows(client)
            let agent = try await client.registerAgent(AgentRegistration(name: "waiter"))
            let started = ContinuousClock.now
            async let claim = client.claim(agent: agent.id, ClaimRequest(waitSeconds: 60, capacity: 1))
            try await Task.sleep(for: .milliseconds(300))
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            let response = try await claim
            #expect(response.runs.map(\.run.id) == [run.id])
            // Far below the 60 s wait; not tighter, since a loaded 2-core machine has stalled a test process for 12 s.
            #expect(ContinuousClock.now - started < .seconds(20))
        }
    }

    /// A full agent drops its claim when a slot frees and claims again; the server does not see the drop, so
    /// the newer claim must end the older one (left waiting, each woke for every run and cost a store round:
    /// 48 rounds per run on PostgreSQL in the coordinators benchmark).
    @Test func aNewerClaimOfTheSameAgentEndsTheOlderOne() async throws {
        try await withCoordinator { _, client in
            try await registerTestFlows(client)
            let agent = try await client.registerAgent(AgentRegistration(name: "full"))
            let other = try await client.registerAgent(AgentRegistration(name: "other"))
            let started = ContinuousClock.now
            async let older = client.claim(agent: agent.id, ClaimRequest(waitSeconds: 60, capacity: 0))
            async let otherAgents = client.claim(agent: other.id, ClaimRequest(waitSeconds: 3, capacity: 0))
            try await Task.sleep(for: .milliseconds(500))
            let newer = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 0, capacity: 0))
            #expect(newer.runs.isEmpty)
            #expect(try await older.runs.isEmpty)
            // Far below the older claim's 60 s; another agent's claim is left to its own wait.
            #expect(ContinuousClock.now - started < .seconds(20), "ended by the newer claim")
            _ = try await otherAgents
            #expect(ContinuousClock.now - started >= .seconds(3), "another agent's claim waits its time")
        }
    }

    @Test func aLogFollowerWakesOnANewLine() async throws {
        try await withCoordinator { _, client in
            try await registerTestFlows(client)
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            async let page = client.logs(run.id, after: 0, waitSeconds: 10)
            try await Task.sleep(for: .milliseconds(200))
            try await client.sendLogs(run.id, [LogEntry(timestamp: Date(), level: "info", message: "hello")])
            let lines = try await page.lines
            #expect(lines.map(\.message) == ["hello"])
            #expect(lines.map(\.seq) == [1])
        }
    }

    @Test func aRunWhoseHeartbeatStopsIsCrashedWithAReason() async throws {
        try await withCoordinator(configure: {
            $0.coordinator.heartbeatTimeout = .seconds(1)
            $0.reaperInterval = .milliseconds(100)
        }) { _, client in
            try await registerTestFlows(client)
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            let agent = try await client.registerAgent(AgentRegistration(name: "a"))
            _ = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
            try await client.setState(run.id, SetStateRequest(state: .running))
            try await client.heartbeat(run.id)
            #expect(await eventually(timeout: .seconds(60)) { (try? await client.run(run.id).state) == .crashed })
            let crashed = try await client.run(run.id)
            #expect(crashed.stateMessage.contains("no heartbeat for"))
            #expect(crashed.stateMessage.contains("timeout 1 s"))
            let logs = try await client.logs(run.id).lines
            #expect(logs.contains { $0.source == "coordinator" && $0.message.hasPrefix("Crashed: no heartbeat") })
        }
    }

    @Test func aClaimWhoseLeaseRunsOutIsCrashed() async throws {
        try await withCoordinator(configure: { $0.reaperInterval = .milliseconds(100) }) { _, client in
            try await registerTestFlows(client)
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            let agent = try await client.registerAgent(AgentRegistration(name: "vanishing"))
            _ = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1, leaseSeconds: 0.3))
            #expect(await eventually(timeout: .seconds(60)) { (try? await client.run(run.id).state) == .crashed })
            #expect(try await client.run(run.id).stateMessage.contains("did not start it before its lease ran out"))
        }
    }

    @Test func cancellingGoesThroughTheAgent() async throws {
        try await withCoordinator { _, client in
            try await registerTestFlows(client)
            let waiting = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            #expect(try await client.cancel(waiting.id).state == .cancelled, "an unclaimed run is cancelled at once")
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            let agent = try await client.registerAgent(AgentRegistration(name: "a"))
            _ = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 0, capacity: 1))
            try await client.setState(run.id, SetStateRequest(state: .running))
            #expect(try await client.cancel(run.id).state == .cancelling)
            let next = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 5, capacity: 0))
            #expect(next.cancel == [run.id])
            #expect(try await client.heartbeat(run.id).state == .cancelling, "the flow learns of the cancel from its heartbeat")
        }
    }

    @Test func agentsOnlyClaimRunsWhoseLabelsTheyHave() async throws {
        try await withCoordinator { _, client in
            let description = try await BundleRegistrar.describe(bundleAt: TestPaths.testFlows)
            let (sha, size) = try FathomStorageHash.of(TestPaths.testFlows)
            _ = try await client.uploadBundle(at: TestPaths.testFlows, sha256: sha, size: size)
            _ = try await client.registerFlows(RegisterFlowsRequest(bundleSHA256: sha, flows: description.flows, labels: ["zone": "efs"]))
            let run = try await client.createRun(CreateFlowRunRequest(flow: "sleeper"))
            let plain = try await client.registerAgent(AgentRegistration(name: "plain"))
            #expect(try await client.claim(agent: plain.id, ClaimRequest(waitSeconds: 0, capacity: 5)).runs.isEmpty)
            let labelled = try await client.registerAgent(AgentRegistration(name: "labelled", labels: ["zone": "efs", "extra": "x"]))
            #expect(try await client.claim(agent: labelled.id, ClaimRequest(waitSeconds: 0, capacity: 5)).runs.map(\.run.id) == [run.id])
        }
    }

    @Test func runsAnAgentCannotServeNeverStandInFrontOfOnesItCan() async throws {
        try await withCoordinator { _, client in
            let description = try await BundleRegistrar.describe(bundleAt: TestPaths.testFlows)
            let (sha, size) = try FathomStorageHash.of(TestPaths.testFlows)
            _ = try await client.uploadBundle(at: TestPaths.testFlows, sha256: sha, size: size)
            let sleeper = description.flows.filter { $0.name == "sleeper" }, ticker = description.flows.filter { $0.name == "ticker" }
            _ = try await client.registerFlows(RegisterFlowsRequest(bundleSHA256: sha, flows: sleeper, labels: ["gpu": "a100"]))
            _ = try await client.registerFlows(RegisterFlowsRequest(bundleSHA256: sha, flows: ticker, labels: ["zone": "efs"]))
            for _ in 0..<100 { _ = try await client.createRun(CreateFlowRunRequest(flow: "sleeper")) }
            let servable = try await client.createRun(CreateFlowRunRequest(flow: "ticker"))
            let agent = try await client.registerAgent(AgentRegistration(name: "efs-only", labels: ["zone": "efs", "gpu": "none"]))
            let started = ContinuousClock.now
            let claimed = try await client.claim(agent: agent.id, ClaimRequest(waitSeconds: 60, capacity: 1))
            #expect(claimed.runs.map(\.run.id) == [servable.id], "behind 100 runs it lacks the label for")
            #expect(ContinuousClock.now - started < .seconds(20), "at once, not after the 60 s long-poll")
        }
    }

    @Test func aRestartedAgentKeepsItsID() async throws {
        try await withCoordinator { _, client in
            let first = try await client.registerAgent(AgentRegistration(name: "worker-1", queue: "batch"))
            let again = try await client.registerAgent(AgentRegistration(name: "worker-1", queue: "batch"))
            let other = try await client.registerAgent(AgentRegistration(name: "worker-2", queue: "batch"))
            #expect(first.id == again.id)
            #expect(first.id != other.id)
        }
    }

    @Test func idempotencyKeysReturnTheFirstRun() async throws {
        try await withCoordinator { _, client in
            try await registerTestFlows(client)
            let first = try await client.createRun(CreateFlowRunRequest(flow: "sleeper", idempotencyKey: "slot-1"))
            let second = try await client.createRun(CreateFlowRunRequest(flow: "sleeper", idempotencyKey: "slot-1"))
            #expect(first.id == second.id)
            #expect(try await client.listRuns().total == 1)
        }
    }

    @Test func aTokenGuardsEveryAPICall() async throws {
        var open = ServerConfiguration(dataDirectory: "/tmp/unused")
        open.host = "0.0.0.0"
        #expect(throws: FathomCore.ValidationError.self) { try open.validate() }
        try await withCoordinator(token: "s3cret-token") { coordinator, client in
            #expect(try await client.listFlows().isEmpty)
            let anonymous = try await RawHTTP.send(.GET, coordinator.url + "/api/v1/flows")
            #expect(anonymous.status == 401)
            #expect(anonymous.error?.error.code == "unauthorized")
            let wrong = try await RawHTTP.send(.GET, coordinator.url + "/api/v1/flows", headers: ["Authorization": "Bearer nope"])
            #expect(wrong.status == 401)
            #expect(!wrong.body.contains("s3cret-token"))
            #expect(try await RawHTTP.send(.GET, coordinator.url + "/healthz").status == 200)
        }
    }
}
