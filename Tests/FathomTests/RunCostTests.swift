import AWS
import FathomAPI
import FathomClient
import FathomCore
import FathomECS
@testable import FathomSDK
import Foundation
import Testing

/// Cost per ECS run (Fargate), and bytes in the run's workspace: estimated, recorded, summed per flow.
@Suite struct RunCostTests {
    static func task(
        _ capacity: String = "FARGATE", region: String = "eu-west-1", architecture: String = "x86_64", cpu: Int? = 1024,
        memory: Int? = 2048, storage: Int? = nil, from: Double? = 1_000, until: Double? = 4_600
    ) -> ECSCostEstimate.BilledTask {
        ECSCostEstimate.BilledTask(
            region: region, capacity: capacity, architecture: architecture, cpuUnits: cpu, memoryMiB: memory, ephemeralGiB: storage,
            billedFrom: from, billedUntil: until)
    }

    static func usd(_ task: ECSCostEstimate.BilledTask, pricing: FargatePricing = .builtIn) -> Double? {
        try? ECSCostEstimate.estimate(task, pricing: pricing).get().usd
    }

    @Test func anEstimateIsSizeTimesRateTimesBilledTimeAsAWSBillsIt() throws {
        // 1 vCPU, 2 GB, one hour on demand: 0.04048 + 2 × 0.004445 = 0.04937.
        #expect(abs((Self.usd(Self.task()) ?? 0) - 0.04937) < 1e-9)
        let hour = try ECSCostEstimate.estimate(Self.task()).get()
        #expect(hour.billedSeconds == 3_600 && hour.basis.contains("FARGATE x86_64 eu-west-1") && hour.basis.contains("2026-12-01"))
        // Rounded up to the second: 3,600.2 s is 3,601 s.
        #expect(try ECSCostEstimate.estimate(Self.task(until: 4_600.2)).get().billedSeconds == 3_601)
        // One minute at least.
        #expect(try ECSCostEstimate.estimate(Self.task(until: 1_005)).get().billedSeconds == 60)
        // Spot at 30 % of on-demand; Graviton at its own rate.
        #expect(abs((Self.usd(Self.task("FARGATE_SPOT")) ?? 0) - 0.04937 * 0.3) < 1e-9)
        #expect(abs((Self.usd(Self.task(architecture: "arm64")) ?? 0) - (0.03238 + 2 * 0.00356)) < 1e-9)
        // Ephemeral storage over the 20 GiB every task has: 30 GiB adds 10 × 0.000111 per hour.
        #expect(abs((Self.usd(Self.task(storage: 30)) ?? 0) - (0.04937 + 10 * 0.000111)) < 1e-9)
    }

    @Test func noEstimateForEC2OrAMissingPriceSizeOrPull() throws {
        #expect(throws: ECSCostEstimate.NoEstimate.notFargate("EC2")) { try ECSCostEstimate.estimate(Self.task("EC2")).get() }
        #expect(throws: ECSCostEstimate.NoEstimate.noPrice("ap-south-2/x86_64/FARGATE")) {
            try ECSCostEstimate.estimate(Self.task(region: "ap-south-2")).get()
        }
        #expect(throws: ECSCostEstimate.NoEstimate.unknownSize) { try ECSCostEstimate.estimate(Self.task(cpu: nil)).get() }
        #expect(throws: ECSCostEstimate.NoEstimate.neverPulled) { try ECSCostEstimate.estimate(Self.task(from: nil)).get() }
        #expect(throws: ECSCostEstimate.NoEstimate.neverPulled) { try ECSCostEstimate.estimate(Self.task(from: 5_000, until: 1_000)).get() }
        #expect(throws: ECSCostEstimate.NoEstimate.neverPulled) { try ECSCostEstimate.estimate(Self.task(until: .infinity)).get() }
        // A year-long span from a clock gone wrong is capped, never a trap.
        #expect(try ECSCostEstimate.estimate(Self.task(from: 0, until: 1e300)).get().billedSeconds == 366 * 86_400)
    }

    @Test func anOperatorsPricesAddRegionsAndAreChecked() throws {
        let json = Data(#"{"ap-south-2/x86_64/FARGATE": {"vcpuHour": 0.05, "gbHour": 0.005, "storageGBHour": 0.0001}}"#.utf8)
        let pricing = try FargatePricing.withOverrides(json: json, field: "--fargate-prices")
        #expect(abs((Self.usd(Self.task(region: "ap-south-2"), pricing: pricing) ?? 0) - 0.06) < 1e-9)
        #expect(pricing.rates["us-east-1/x86_64/FARGATE"] == FargatePricing.builtIn.rates["us-east-1/x86_64/FARGATE"], "the rest is kept")
        for bad in [#"[1]"#, #"{"ap-south-2/FARGATE": {"vcpuHour": 1, "gbHour": 1, "storageGBHour": 0}}"#,
                    #"{"ap-south-2/x86_64/FARGATE": {"vcpuHour": -1, "gbHour": 1, "storageGBHour": 0}}"#,
                    #"{"ap-south-2/x86_64/FARGATE": {"vcpuHour": 1e308, "gbHour": 1, "storageGBHour": 0}}"#] {
            #expect { try FargatePricing.withOverrides(json: Data(bad.utf8), field: "--fargate-prices") } throws: {
                ($0 as? ValidationError)?.field.hasPrefix("--fargate-prices") == true
            }
        }
    }

    @Test func everyTaskFieldTheEstimateReadsIsInBotocoresModel() async throws {
        let decoded = try JSONDecoder().decode(ECSTask.self, from: Data("{}".utf8))
        let names = Mirror(reflecting: decoded).children.compactMap(\.label)
        #expect(names.contains("pullStartedAt") && names.contains("capacityProviderName"))
        let script = """
            import botocore.session, sys
            shape = botocore.session.get_session().get_service_model("ecs").shape_for("Task")
            missing = [n for n in sys.argv[1:] if n not in shape.members]
            print("missing:", missing); sys.exit(1 if missing else 0)
            """
        let result = try await runCommand("/usr/bin/env", ["python3", "-c", script] + names)
        #expect(result.exit.exitCode == 0, "\(result.output)")
    }

    /// 4 vCPU and 16 GB on demand in eu-west-1, image pull at 10:00:00 and stop at 11:23:45.2: 5,026 s billed,
    /// 5,026 / 3,600 × (4 × 0.04048 + 16 × 0.004445) = 0.3253497 USD.
    @Test func aFargateRunThroughMotoGetsItsCostToTheCentAndTheFlowSumsIt() async throws {
        let pull = try #require(ISO8601DateFormatter().date(from: "2026-11-30T10:00:00Z")).timeIntervalSince1970
        let stack = try await ECSLauncherTests.ECSStack()
        let proxy = try await ECSFaultProxy(moto: stack.moto, scenario: .init(billedTimes: (pull, pull + 5_025.2)))
        try await withCleanup({ await stack.stop(); await proxy.stop() }) {
            try await stack.register(TestPaths.examples, settings: ["cpu": "4096", "memory": "16384"])
            try stack.startAgent(endpoint: proxy.url)
            stack.harness.start()
            let run = try await stack.api.createRun(CreateFlowRunRequest(flow: "hello"))
            #expect(await stack.waitFor(run.id, .completed, timeout: .seconds(60)))
            #expect(await eventually(timeout: .seconds(20)) { (try? await stack.api.run(run.id).estimatedCostUSD) != nil })
            let done = try await stack.api.run(run.id)
            let cost = try #require(done.estimatedCostUSD)
            #expect(abs(cost - 0.3253497) < 0.000001, "\(cost): \(done.costBasis ?? "")")
            #expect(String(format: "%.2f", cost) == "0.33")
            #expect(done.costBasis?.contains("4 vCPU × $0.04048/h + 16 GB × $0.004445/h × 5026 s billed") == true, "\(done.costBasis ?? "")")
            #expect(done.infrastructure["costUSD"] == "0.325350", "the API carries it")

            let usage = try await stack.api.flowUsage("hello", days: 30)
            #expect(usage.runs == 1 && usage.completed == 1 && usage.runsWithCost == 1 && abs(usage.costUSD - cost) < 1e-9)
            #expect(usage.perDay.count == 30 && usage.perDay.last?.runs == 1)
            let listed = try await runCommand(TestPaths.fathom, ["runs", "--api-url", stack.coordinator.url, "--flow", "hello"])
            #expect(listed.output.contains { $0.contains(run.id) && $0.contains("$0.3253") }, "\(listed.output)")
        }
    }

    @Test func aWorkspaceTooLargeToWalkInTimeIsNotMeasuredRatherThanMeasuredWrong() throws {
        let directory = TemporaryDirectory("workspace-walk")
        for index in 0..<3 { try Data(count: 5_000).write(to: URL(fileURLWithPath: directory.file("f\(index)"))) }
        #expect(WorkspaceUsage.bytes(under: directory.path, until: .now - .seconds(1)) == nil, "past its deadline: no figure")
        let measured = try #require(WorkspaceUsage.bytes(under: directory.path, until: .now + .seconds(20)))
        #expect(measured >= 3 * 5_000)
    }

    @Test func aRunRecordsItsWorkspaceBytesAsGNUDuCountsThem() async throws {
        let stack = try await DevStack()
        try await withCleanup({ await stack.process.stop() }) {
            #expect(try await stack.fathom(["register", TestPaths.testFlows]).exit == 0)
            let dir = stack.directory.path + "/counts"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            // A 200 KiB result goes to the workspace's result store, beside prepare's marker file.
            let id = try await stack.startRun("resumable", ["dir=\(dir)", "resultKiB=200"])
            #expect(await stack.waitFor(id, .completed, timeout: .seconds(60)))
            #expect(await eventually(timeout: .seconds(60)) { (try? await stack.client.run(id).workspaceBytes["scratch"]) != nil })
            let bytes = try #require(try await stack.client.run(id).workspaceBytes["scratch"])
            let du = try await runCommand("/usr/bin/du", ["-s", "--block-size=1", stack.scratch + "/fathom/runs/\(id)"])
            let expected = try #require(du.output.first.flatMap { Int64($0.split(separator: "\t").first ?? "") })
            #expect(bytes == expected, "Fathom \(bytes), du \(expected)")
            #expect(bytes > 200 * 1000)
            let usage = try await stack.client.flowUsage("resumable", days: 1)
            #expect(usage.workspaceBytes == ["scratch": bytes])
            let shown = try await stack.fathom(["usage", "resumable", "--days", "7"])
            #expect(shown.output.contains { $0.contains("scratch \(UsageText.bytes(bytes))") }, "\(shown.output)")
        }
    }
}
