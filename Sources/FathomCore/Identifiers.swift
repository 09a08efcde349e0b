import Foundation

/// The id of a flow run: a lowercase UUID string.
public typealias FlowRunID = String
/// The id of a task run: a lowercase UUID string.
public typealias TaskRunID = String
/// The id of a registered agent: a lowercase UUID string.
public typealias AgentID = String

/// Makes new ids.
public enum Identifier {
    /// A new random lowercase UUID string.
    public static func make() -> String {
        UUID().uuidString.lowercased()
    }

    /// Whether `text` looks like an id made by ``make()``.
    public static func isValid(_ text: String) -> Bool {
        text.count == 36 && UUID(uuidString: text) != nil
    }
}

/// Names of flows, agents and queues.
public enum Names {
    /// 1–128 characters: letters, digits, `.`, `_`, `-`, starting with a letter or digit.
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...128).contains(bytes.count), isAlphanumeric(bytes[0]) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
    }
}
