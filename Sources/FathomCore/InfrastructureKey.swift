/// The name of a fact a launcher records about a run's infrastructure (`FlowRun.infrastructure`, a
/// string map on the wire): what a restarted agent re-attaches by, and what the web UI shows.
public struct InfrastructureKey: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    /// The launcher kind that started it (`local`, `ecs`).
    public static let launcher = InfrastructureKey(rawValue: "launcher")

    // The local launcher's process.
    /// The flow process's id.
    public static let pid = InfrastructureKey(rawValue: "pid")
    /// The process's start time in clock ticks since boot: a reused pid is told apart by it.
    public static let pidStart = InfrastructureKey(rawValue: "pidStart")
    /// The machine's boot id: a pid means nothing after a reboot.
    public static let bootID = InfrastructureKey(rawValue: "bootID")
    /// The host the process runs on.
    public static let host = InfrastructureKey(rawValue: "host")
    /// The command line.
    public static let command = InfrastructureKey(rawValue: "command")

    // The ECS launcher's task.
    /// The ECS cluster.
    public static let cluster = InfrastructureKey(rawValue: "cluster")
    /// The AWS region.
    public static let region = InfrastructureKey(rawValue: "region")
    /// The task's ARN.
    public static let taskArn = InfrastructureKey(rawValue: "taskArn")
    /// The task definition revision it runs.
    public static let taskDefinition = InfrastructureKey(rawValue: "taskDefinition")
    /// The task's page in the AWS console.
    public static let console = InfrastructureKey(rawValue: "console")
    /// `<log group> <log stream>` of the container's output.
    public static let logStream = InfrastructureKey(rawValue: "logStream")
    /// The EFS volumes mounted, `name=fs-…[/fsap-…]→path`, comma-separated.
    public static let efs = InfrastructureKey(rawValue: "efs")
    /// The CloudWatch stream the agent copies lines from, and its position in it: a restarted agent
    /// resumes after the last line the coordinator accepted.
    /// The estimated cost in USD of the run's tasks (every start), as a decimal: Fargate only.
    public static let costUSD = InfrastructureKey(rawValue: "costUSD")
    /// How ``costUSD`` was reached (size × rate × billed time), or why there is none.
    public static let costBasis = InfrastructureKey(rawValue: "costBasis")

    // Any launcher.
    /// Bytes the run's workspace used on each volume when the flow ended: `scratch=123,data=456`.
    public static let workspaceBytes = InfrastructureKey(rawValue: "workspaceBytes")

    public static let logReadStream = InfrastructureKey(rawValue: "logReadStream")
    public static let logReadToken = InfrastructureKey(rawValue: "logReadToken")
}

extension Dictionary where Key == String, Value == String {
    /// An infrastructure fact by its key.
    public subscript(_ key: InfrastructureKey) -> String? {
        get { self[key.rawValue] }
        set { self[key.rawValue] = newValue }
    }

    /// Infrastructure facts, as the wire's string map.
    public init(facts: KeyValuePairs<InfrastructureKey, String>) {
        self.init(facts.map { ($0.key.rawValue, $0.value) }, uniquingKeysWith: { _, last in last })
    }
}
