import FathomAPI
import FathomCore
import FathomECS
import Foundation

/// How a retry policy acts on why a run ended: the rule that applies, the delay and the launch overrides of the
/// next attempt. AWS Batch's `evaluateOnExit` and Flyte's `interruptible` are the nearest peers; neither raises
/// memory.
///
/// - Out of memory, with `memoryFactor`: memory × factor up to `maxMemoryMiB` (cpu raised as Fargate needs), as
///   an ECS override; at the cap, no retry.
/// - A Spot interruption, with `onDemandAfterSpot`: the next attempt runs on on-demand `FARGATE`.
/// - No capacity to start, with `capacityDelaySeconds`: wait that long.
/// - Anything else (the flow's own failure, a crash): as the policy says.
struct RetryPlan: Equatable {
    /// Seconds before the next attempt is due.
    var delaySeconds: Double
    /// The next attempt's overrides (the earlier ones kept, the rule's on top).
    var overrides: RunOverrides?
    /// Which rule chose the retry, said in the next attempt's state message and logs.
    var rule: String

    /// The plan for retrying `run` under `policy`, or (nil, why not) when a rule forbids another attempt.
    static func make(for run: FlowRun, policy: RunRetryPolicy, runConfig: RunConfig) -> (plan: RetryPlan?, refusal: String?) {
        let plain = RetryPlan(
            delaySeconds: policy.delaySeconds, overrides: run.overrides,
            rule: "the policy's retry (\(run.state)\(run.endCause.map { ", \($0.rawValue)" } ?? ""))")
        switch run.endCause {
        case .outOfMemory?:
            guard let factor = policy.memoryFactor, let cap = policy.maxMemoryMiB else { return (plain, nil) }
            guard runConfig.launcher == .ecs,
                  let config = try? ECSRunConfig(runConfig.settings),  // a stored config that no longer parses: the plain retry
                  let size = ECSTaskSize.current(config, overrides: run.overrides)
            else { return (plain, nil) }
            guard let raised = ECSTaskSize.raised(size, factor: factor, cap: cap, fargate: config.isFargate) else {
                return (nil, "out of memory at \(size.memory) MiB, which is already the policy's cap (maxMemoryMiB \(cap)); not retried")
            }
            var overrides = (run.overrides ?? RunOverrides()).merged(with: RunOverrides(memoryMiB: raised.memory))
            if raised.cpu != size.cpu { overrides.cpu = raised.cpu }
            let cpu = raised.cpu != size.cpu ? ", cpu \(size.cpu.map(String.init) ?? "?") → \(raised.cpu.map(String.init) ?? "?")" : ""
            return (RetryPlan(
                delaySeconds: policy.delaySeconds, overrides: overrides,
                rule: "out of memory: memory \(size.memory) → \(raised.memory) MiB\(cpu) (memoryFactor \(factor), maxMemoryMiB \(cap))"), nil)
        case .spotInterruption? where policy.onDemandAfterSpot == true:
            let overrides = (run.overrides ?? RunOverrides()).merged(with: RunOverrides(capacityProvider: "FARGATE"))
            return (RetryPlan(
                delaySeconds: policy.delaySeconds, overrides: overrides,
                rule: "Spot interruption: the next attempt runs on on-demand FARGATE (onDemandAfterSpot)"), nil)
        case .capacity? where policy.capacityDelaySeconds != nil:
            let delay = policy.capacityDelaySeconds ?? policy.delaySeconds
            return (RetryPlan(
                delaySeconds: delay, overrides: run.overrides,
                rule: "no capacity to start the task: trying again after \(Int(delay)) s (capacityDelaySeconds)"), nil)
        default:
            return (plain, nil)
        }
    }
}
