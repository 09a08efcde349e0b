import AWS
import FathomAPI
import FathomCore
import Foundation
import Testing

/// ECS runs in real containers: podman (with runc) runs each task's container from the registered task
/// definition and the runner image built from the Dockerfile's runner stage, with the static binaries.
/// Slow: the first test builds the base image with debootstrap (about 30 s). Runs in CI, which installs
/// podman, runc and debootstrap; skipped, with the reason, only where those cannot run.
@Suite(.serialized, .enabled(if: Podman.isUsable, "real containers need podman, runc, debootstrap, root and the static binaries: \(Podman.unavailableReason ?? "")"))
struct ECSContainerTests {
    typealias Stack = ECSLauncherTests.ECSStack

    /// A stack whose tasks run as podman containers, a fault proxy that reports their exits as ECS does, and an agent.
    func start(settings: [String: JSONValue] = [:], retryPolicy: RunRetryPolicy? = nil) async throws -> (Stack, ECSFaultProxy) {
        let image = try await Podman.runnerImage()
        let stack = try await Stack(engine: .podman(image: image, coordinatorHost: Stack.coordinatorHost))
        chmod(stack.efs.path, 0o777)  // the runner image runs as uid 1000, as an access point's POSIX user would
        var scenario = ECSFaultProxy.Scenario()
        scenario.drainOnStop = true
        let proxy = try await ECSFaultProxy(moto: stack.moto, scenario: scenario)
        stack.harness.onExit.withLock { $0 = { arn, code, reason in proxy.containerExited(arn: arn, exitCode: code, reason: reason) } }
        try await stack.register(StaticBinaries.directory + "/fathom-examples", settings: settings, retryPolicy: retryPolicy)
        try stack.startAgent(endpoint: proxy.url, runnerAPIURL: stack.runnerURL)
        stack.harness.start()
        return (stack, proxy)
    }

    func stop(_ stack: Stack, _ proxy: ECSFaultProxy) async {
        await stack.stop()
        await proxy.stop()
    }

    @Test func helloRunsInARealContainerWithItsEFSVolume() async throws {
        let (stack, proxy) = try await start()
        defer { Task { await stop(stack, proxy) } }
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        let completed = await stack.waitFor(run.id, .completed, timeout: .seconds(60))
        let message = (try? await stack.api.run(run.id).stateMessage) ?? ""
        let logs = ((try? await stack.api.logs(run.id, limit: 1000).lines) ?? []).map(\.message)
        #expect(completed, "\(message)\n\(logs.joined(separator: "\n"))")
        // podman composed the process: the task's entryPoint ["fathom"] replaced the image's ENTRYPOINT, RunTask's command its CMD.
        let arguments = try #require(stack.harness.podmanRuns.value.values.first)
        #expect(arguments.contains("--entrypoint") && arguments.contains(#"["fathom"]"#), "\(arguments)")
        #expect(Array(arguments.suffix(3)) == ["execute", "--flow-run", run.id], "\(arguments)")
        // The file the flow wrote on the "EFS" volume, owned by the image's user.
        let files = try FileManager.default.contentsOfDirectory(atPath: stack.efs.path + "/hello")
        #expect(files.count == 1)
        let owner = try FileManager.default.attributesOfItem(atPath: stack.efs.path + "/hello/" + files[0])[.ownerAccountID] as? Int
        #expect(owner == 1000, "written as uid 1000, the runner image's USER")
        // The container's own output, shipped to CloudWatch as awslogs would, reached the run's logs.
        let copied = await eventually(timeout: .seconds(60)) {
            ((try? await stack.api.logs(run.id, limit: 1000).lines) ?? []).contains { $0.source == "container" && $0.message.contains("fathom: flow run \(run.id) (hello) starting") }
        }
        #expect(copied)
    }

    @Test func aContainerKilledForMemoryComesBackAsECSsStopReason() async throws {
        // A sort whose budget (300M) is over the container's hard limit (96 MiB): the kernel's OOM killer
        // ends it (exit 137), and ECS reports "OutOfMemoryError: Container killed due to memory usage".
        let (stack, proxy) = try await start(settings: [
            "taskDefinition": [
                "family": "fathom-test", "cpu": "256", "memory": "512",
                "containerDefinitions": [["name": "flow", "image": "fathom-runner:test", "essential": true, "memory": 96]],
            ],
        ])
        defer { Task { await stop(stack, proxy) } }
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "sort-compress", parameters: ["gib": 0.25, "memory": "300M"]))
        let crashed = await stack.waitFor(run.id, .crashed, timeout: .seconds(60))
        let message = (try? await stack.api.run(run.id).stateMessage) ?? ""
        #expect(crashed, "\(message)")
        #expect(message.contains("Essential container in task exited"), "\(message)")
        #expect(message.contains("137"), "\(message)")
        #expect(message.contains("OutOfMemoryError"), "\(message)")
        #expect(message.contains("raise memory"), "the out-of-memory hint: \(message)")
    }

    @Test func anOutOfMemoryRunIsRetriedWithMoreMemoryAndCompletes() async throws {
        // The first attempt's container has a 96 MiB hard limit for a sort budgeted 300M: the kernel kills it (137).
        // The policy doubles the task's memory (512 → 1024 MiB, which Fargate offers with 256 cpu): the retry's RunTask
        // carries the override, podman runs the container with it, and the resumed attempt completes.
        let (stack, proxy) = try await start(
            settings: [
                "taskDefinition": [
                    "family": "fathom-test", "cpu": "256", "memory": "512",
                    "containerDefinitions": [["name": "flow", "image": "fathom-runner:test", "essential": true, "memory": 96]],
                ],
            ],
            retryPolicy: RunRetryPolicy(retries: 1, resume: true, memoryFactor: 2, maxMemoryMiB: 2048))
        defer { Task { await stop(stack, proxy) } }
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "sort-compress", parameters: ["gib": 0.12, "memory": "300M", "level": 1]))
        #expect(await stack.waitFor(run.id, .crashed, timeout: .seconds(90)))
        let crashed = try await stack.api.run(run.id)
        #expect(crashed.endCause == .outOfMemory, "\(crashed.stateMessage)")
        let retry = await eventually(timeout: .seconds(30)) {
            ((try? await stack.api.listRuns(flow: "sort-compress").runs) ?? []).contains { $0.retryOf == run.id }  // not made yet: keep looking
        }
        #expect(retry)
        let second = try #require(try await stack.api.listRuns(flow: "sort-compress").runs.first { $0.retryOf == run.id })
        let scheduled = try await stack.api.run(second.id).history?.first?.message ?? ""
        #expect(second.overrides?.memoryMiB == 1024 && scheduled.contains("out of memory: memory 512 → 1024 MiB"), "\(scheduled)")
        let completed = await stack.waitFor(second.id, .completed, timeout: .seconds(180))
        let message = (try? await stack.api.run(second.id).stateMessage) ?? ""
        #expect(completed, "\(message)")
        let runTask = try #require(proxy.requests("RunTask").last)
        #expect(runTask["overrides"]["memory"] == "1024" && runTask["overrides"]["containerOverrides"][0]["memory"] == 1024, "\(runTask["overrides"])")
        #expect(stack.harness.podmanRuns.value.values.contains { $0.contains("1024m") }, "podman ran the retry with the new limit")
    }

    @Test func aSortCompressStoppedWithStopTaskIsResumedToTheSameArchive() async throws {
        // The seed's production flow on "EFS", stopped by an operator's StopTask during bzip2. ECS sends SIGTERM and
        // waits for the container: the flow writes its checkpoint and exits 143, and the run ends Crashed with ECS's
        // reason. `fathom retry --resume` runs a new task on the same volume: the sort is Cached, bzip2 continues
        // from its last whole stream, and the archive is the one an uninterrupted compression makes.
        let (stack, proxy) = try await start()
        defer { Task { await stop(stack, proxy) } }
        let data = stack.efs.path + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try await offThePool { try TestFiles.write(TestFiles.wordLines(bytes: 12 << 20, seed: 33), to: data + "/lines.txt") }
        let parameters: [String: JSONValue] = ["input": "data/lines.txt", "memory": "4M", "threads": 2, "level": 1]
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "sort-compress", parameters: parameters))
        let workspace = stack.efs.path + "/fathom/runs/\(run.id)"
        let checkpointed = await eventually(timeout: .seconds(300), every: .milliseconds(20)) {
            let record = (try? Data(contentsOf: URL(fileURLWithPath: workspace + "/.sorted.txt.bz2.fathom-partial.checkpoint")))
                .flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any]  // not there yet, or mid-rename
            guard record?["streams"] as? Int ?? 0 >= 32 else { return false }
            return ((try? await stack.api.taskRuns(run.id)) ?? []).contains { $0.name == "sort" && $0.state == .completed }
        }
        let recent = ((try? await stack.api.logs(run.id, limit: 100).lines) ?? []).suffix(5).map(\.message)  // for the message only
        #expect(checkpointed, "bzip2 checkpointed: \(recent)")
        let taskArn = try #require(try await stack.api.run(run.id).infrastructure["taskArn"])

        // The operator's `aws ecs stop-task`, through the endpoint the agent uses.
        let operatorECS = ECSClient(client: try stack.moto.client(endpoint: proxy.url))
        _ = try await operatorECS.stopTask(cluster: "fathom", task: taskArn, reason: "Stopped by an operator")
        #expect(await stack.waitFor(run.id, .crashed, timeout: .seconds(60)))
        let message = try await stack.api.run(run.id).stateMessage
        #expect(message.contains("stopCode UserInitiated") && message.contains("Stopped by an operator"), "\(message)")
        #expect(message.contains("exit code 143"), "the flow exited on SIGTERM within the stop timeout: \(message)")
        #expect(message.contains("fathom retry RUN --resume"), "the hint says how to continue: \(message)")

        let environment = ["FATHOM_API_URL": stack.api.baseURL]
        let resumed = try await runCommand(TestPaths.fathom, ["retry", run.id, "--resume"], environment: environment)
        #expect(resumed.exit.exitCode == 0, "\(resumed.output)")
        let second = try #require(resumed.output.first { $0.hasPrefix("flow run ") }.map { String($0.split(separator: " ")[2]) })
        let completed = await stack.waitFor(second, .completed, timeout: .seconds(300))
        let secondMessage = (try? await stack.api.run(second).stateMessage) ?? ""  // for the message only
        #expect(completed, "\(secondMessage)")
        let tasks = Dictionary(try await stack.api.taskRuns(second).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(tasks["sort"]?.state == .cached && tasks["sort"]?.cachedFrom == run.id, "\(String(describing: tasks["sort"]))")
        let reused = tasks["bzip2"]?.result.flatMap { result -> Int64? in
            if case .object(let fields) = result, case .int(let streams)? = fields["reusedStreams"] { return streams }
            return nil
        }
        #expect(tasks["bzip2"]?.state == .completed && (reused ?? 0) >= 32, "bzip2 continued after its streams: \(String(describing: reused))")
        #expect(proxy.count("RunTask") == 2, "one task per attempt")

        // The archive: the sorted input, and byte for byte what one uninterrupted compression of it makes.
        let archive = workspace + "/sorted.txt.bz2"
        let check = try await runNiced("/bin/bash", ["-c", """
            set -e; cmp <(LC_ALL=C sort \(data)/lines.txt) <(bzip2 -dc \(archive))
            cmp \(archive) <(bzip2 -dc \(archive) | \(TestPaths.fathom) bzip2 -1 -c -p 2)
            """])
        #expect(check.exit.succeeded, "\(check.output)")
    }

    @Test func aFlowThatCannotReachTheCoordinatorExitsAndTheRunSaysWhy() async throws {
        // The runner URL's host resolves, but nothing listens on its port: the runner exits 70 and
        // the run ends Crashed with the container's exit code, within the report deadline.
        let image = try await Podman.runnerImage()
        let stack = try await Stack(engine: .podman(image: image, coordinatorHost: Stack.coordinatorHost))
        let proxy = try await ECSFaultProxy(moto: stack.moto, scenario: .init())
        defer { Task { await stop(stack, proxy) } }
        stack.harness.onExit.withLock { $0 = { arn, code, reason in proxy.containerExited(arn: arn, exitCode: code, reason: reason) } }
        try await stack.register(StaticBinaries.directory + "/fathom-examples", settings: ["reportTimeoutSeconds": 30])
        try stack.startAgent(endpoint: proxy.url, runnerAPIURL: "http://\(Stack.coordinatorHost):9")
        stack.harness.start()
        let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
        let crashed = await stack.waitFor(run.id, .crashed, timeout: .seconds(60))
        let message = (try? await stack.api.run(run.id).stateMessage) ?? ""
        #expect(crashed, "\(message)")
        #expect(message.contains("Essential container in task exited") && message.contains("exit code 70"), "\(message)")
        let logs = ((try? await stack.api.logs(run.id, limit: 1000).lines) ?? []).map(\.message).joined(separator: "\n")
        #expect(logs.contains("cannot read flow run"), "the runner's own words from CloudWatch: \(logs)")
    }
}
