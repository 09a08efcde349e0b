/// Why a run ended, when its launcher knows more than "it crashed": what a retry policy's rules act on.
public enum EndCause: String, Codable, Sendable, CaseIterable {
    /// The container was killed for memory (exit 137 with ECS's `OutOfMemoryError`).
    case outOfMemory = "OutOfMemory"
    /// Fargate Spot took the capacity back (`SpotInterruption`, a termination notice).
    case spotInterruption = "SpotInterruption"
    /// There was no capacity to start the task (RunTask's `RESOURCE:*`, a start that kept failing for capacity).
    case capacity = "Capacity"
    /// The task failed to start for a reason another try does not fix (an image, a secret, a mount).
    case startFailure = "StartFailure"
}

/// Launch settings one run uses instead of its flow version's run config; a retry rule sets them (more memory
/// after an out-of-memory stop, on-demand capacity after a Spot interruption), and later attempts keep them.
public struct RunOverrides: Codable, Sendable, Equatable {
    /// Task memory in MiB (ECS `overrides.memory`).
    public var memoryMiB: Int?
    /// Task cpu units (ECS `overrides.cpu`), raised with memory where Fargate's sizes need it.
    public var cpu: Int?
    /// The capacity provider to run on instead of the run config's strategy (e.g. `FARGATE` after a Spot stop).
    public var capacityProvider: String?

    public init(memoryMiB: Int? = nil, cpu: Int? = nil, capacityProvider: String? = nil) {
        self.memoryMiB = memoryMiB
        self.cpu = cpu
        self.capacityProvider = capacityProvider
    }

    /// These overrides with `newer`'s set fields on top.
    public func merged(with newer: RunOverrides) -> RunOverrides {
        RunOverrides(
            memoryMiB: newer.memoryMiB ?? memoryMiB, cpu: newer.cpu ?? cpu, capacityProvider: newer.capacityProvider ?? capacityProvider)
    }

    /// Checks what is read back from the store or a request: positive sizes, a plain provider name.
    public var isValid: Bool {
        (memoryMiB.map { (1...1_048_576).contains($0) } ?? true) && (cpu.map { (1...262_144).contains($0) } ?? true)
            && (capacityProvider.map { !$0.isEmpty && $0.count <= 255 && $0.allSatisfy { $0.isLetter || $0.isNumber || "_-".contains($0) } } ?? true)
    }
}
