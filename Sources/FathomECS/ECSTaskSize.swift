import FathomCore

/// The task size a retry after an out-of-memory stop asks ECS for: the memory times a factor, up to a cap, as a
/// size ECS accepts (on Fargate, one of its cpu and memory pairs, with cpu raised only as far as the memory needs).
public enum ECSTaskSize {
    /// A task's cpu units and memory MiB.
    public struct Size: Sendable, Equatable {
        public var cpu: Int?
        public var memory: Int

        public init(cpu: Int?, memory: Int) {
            self.cpu = cpu
            self.memory = memory
        }
    }

    /// The size a run of `config` has with `overrides` applied; nil when the memory is not known as MiB.
    public static func current(_ config: ECSRunConfig, overrides: RunOverrides?) -> Size? {
        let cpuText = config.cpu ?? config.taskDefinition["cpu"].stringValue
        let memoryText = config.memory ?? config.taskDefinition["memory"].stringValue
        guard let memory = overrides?.memoryMiB ?? memoryText.flatMap({ ECSConfigRules.units($0, unitWord: "gb") }) else { return nil }
        return Size(cpu: overrides?.cpu ?? cpuText.flatMap { ECSConfigRules.units($0, unitWord: "vcpu") }, memory: memory)
    }

    /// `size` with memory × `factor`, at most `cap` MiB: on Fargate the smallest offered size with at least that
    /// memory and at least the cpu; nil when no more memory can be had (already at the cap, or nothing offered).
    public static func raised(_ size: Size, factor: Double, cap: Int, fargate: Bool) -> Size? {
        guard factor.isFinite, factor > 1, size.memory > 0, size.memory < cap else { return nil }
        let wanted = min(cap, Int(saturating: (Double(size.memory) * factor).rounded(.up)))
        guard fargate else { return Size(cpu: size.cpu, memory: wanted) }
        let offered = ECSConfigRules.fargateSizes
            .filter { $0.key >= (size.cpu ?? 0) }
            .flatMap { cpu, memories in memories.map { Size(cpu: cpu, memory: $0) } }
            .filter { $0.memory > size.memory && $0.memory <= cap }
            .sorted { ($0.memory, $0.cpu ?? 0) < ($1.memory, $1.cpu ?? 0) }
        // The smallest offer that reaches the wanted memory; if the cap falls between offers, the largest below it.
        if let reaching = offered.first(where: { $0.memory >= wanted }) { return reaching }
        return offered.last.flatMap { top in offered.first { $0.memory == top.memory } }
    }
}
