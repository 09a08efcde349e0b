import ArgumentParser
import FathomAPI
import FathomCore

/// `fathom register`'s retry flags: how many retries, after what delay, resuming or not, and the rules that read why
/// a run ended (more memory after an out-of-memory stop, on-demand FARGATE after a Spot interruption, a capacity wait).
struct RetryPolicyOptions: ParsableArguments {
    @Option(help: "Retry Failed and Crashed runs this many times, as new attempts (overrides what the flows declare).")
    var retries: Int?

    @Option(name: .customLong("retry-delay"), help: "Wait this long before each retry: 30s, 5m, 1h (default 0).")
    var retryDelay: String?

    @Flag(name: .customLong("retry-resume"), help: "Each retry resumes the attempt before it: finished tasks are not run again.")
    var retryResume = false

    @Option(name: .customLong("retry-memory-factor"), help: "After an out-of-memory stop, retry with the task's memory times this (e.g. 2); needs --retry-max-memory.")
    var memoryFactor: Double?

    @Option(name: .customLong("retry-max-memory"), help: "The most memory (MiB) --retry-memory-factor may reach, e.g. 16384.")
    var maxMemory: Int?

    @Flag(name: .customLong("retry-on-demand-after-spot"), help: "After a Fargate Spot interruption, retry on on-demand FARGATE.")
    var onDemandAfterSpot = false

    @Option(name: .customLong("retry-capacity-delay"), help: "When there was no capacity to start the task, wait this long before the retry: 5m.")
    var capacityDelay: String?

    /// The policy the flags give, nil when none is set; the policy's own checks name the flag's field.
    func policy() throws -> RunRetryPolicy? {
        let rules = memoryFactor != nil || maxMemory != nil || onDemandAfterSpot || capacityDelay != nil
        guard retries != nil || retryDelay != nil || retryResume || rules else { return nil }
        guard let retries else {
            throw CLIError("--retry-delay, --retry-resume and the --retry-… rules need --retries N as well")
        }
        let policy = RunRetryPolicy(
            retries: retries, delaySeconds: try retryDelay.map { try DurationArgument.seconds($0, option: "--retry-delay") } ?? 0,
            resume: retryResume ? true : nil, memoryFactor: memoryFactor, maxMemoryMiB: maxMemory,
            onDemandAfterSpot: onDemandAfterSpot ? true : nil,
            capacityDelaySeconds: try capacityDelay.map { try DurationArgument.seconds($0, option: "--retry-capacity-delay") })
        do {
            try policy.validate(field: "retryPolicy")
        } catch {
            throw CLIError("\(error.problem) (\(error.field)). \(error.fix)")
        }
        return policy
    }

    /// How a registered version's policy reads in one line.
    static func describe(_ policy: RunRetryPolicy) -> String {
        var parts = ["retries: \(policy.retries) after \(DurationText.describe(policy.delaySeconds))"]
        if policy.resume == true { parts.append("resuming") }
        if let factor = policy.memoryFactor, let cap = policy.maxMemoryMiB { parts.append("out of memory: memory × \(factor) up to \(cap) MiB") }
        if policy.onDemandAfterSpot == true { parts.append("Spot: on-demand FARGATE") }
        if let delay = policy.capacityDelaySeconds { parts.append("no capacity: wait \(DurationText.describe(delay))") }
        return parts.joined(separator: ", ")
    }
}
