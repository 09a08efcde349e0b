/// Where a flow run is launched: the key of its run config, and what an agent serves.
/// Claims match it in the store's query, so a local agent never takes an ECS run and the other way round.
public enum LauncherKind: String, Codable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A child process on the agent's machine, with named volumes mapped to local directories.
    case local
    /// An AWS ECS task with EFS volumes mounted.
    case ecs

    public var description: String { rawValue }

    /// The kinds as their config keys, for messages: `local, ecs`.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Decodes a kind, naming the known ones when the value is not one of them.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let kind = LauncherKind(rawValue: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "unknown launcher '\(text.prefix(100))'; use one of: \(LauncherKind.names)")
        }
        self = kind
    }
}
