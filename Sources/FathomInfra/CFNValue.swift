import Foundation
import Yams

/// A CloudFormation template value: strings, numbers, booleans, lists and mappings whose keys keep the order they
/// were written in (a template reads top to bottom as a reviewer expects), plus the intrinsic functions Fathom uses.
public indirect enum CFNValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case list([CFNValue])
    case map([(String, CFNValue)])

    public static func == (lhs: CFNValue, rhs: CFNValue) -> Bool {
        switch (lhs, rhs) {
        case let (.string(a), .string(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.bool(a), .bool(b)): return a == b
        case let (.list(a), .list(b)): return a == b
        case let (.map(a), .map(b)): return a.map(\.0) == b.map(\.0) && a.map(\.1) == b.map(\.1)
        default: return false
        }
    }

    /// `{Ref: name}`: a parameter's value or a resource's id.
    public static func ref(_ name: String) -> CFNValue { .map([("Ref", .string(name))]) }
    /// `{Fn::GetAtt: [resource, attribute]}`.
    public static func getAtt(_ resource: String, _ attribute: String) -> CFNValue {
        .map([("Fn::GetAtt", .list([.string(resource), .string(attribute)]))])
    }
    /// `{Fn::Sub: text}`: `${Name}` and `${Resource.Attribute}` replaced.
    public static func sub(_ text: String) -> CFNValue { .map([("Fn::Sub", .string(text))]) }
    /// `{Fn::Select: [index, list]}`.
    public static func select(_ index: Int, _ list: CFNValue) -> CFNValue { .map([("Fn::Select", .list([.int(index), list]))]) }
    /// `{Fn::Join: [separator, values]}`.
    public static func join(_ separator: String, _ values: CFNValue) -> CFNValue {
        .map([("Fn::Join", .list([.string(separator), values]))])
    }
    /// `{Fn::GetAZs: ""}`: the region's Availability Zones.
    public static var availabilityZones: CFNValue { .map([("Fn::GetAZs", .string(""))]) }
    /// `{Fn::If: [condition, then, else]}`.
    public static func `if`(_ condition: String, _ then: CFNValue, _ otherwise: CFNValue) -> CFNValue {
        .map([("Fn::If", .list([.string(condition), then, otherwise]))])
    }
    /// `{Fn::Equals: [a, b]}` (in Conditions).
    public static func equals(_ a: CFNValue, _ b: CFNValue) -> CFNValue { .map([("Fn::Equals", .list([a, b]))]) }
    /// `{Fn::Not: [condition]}` (in Conditions).
    public static func not(_ condition: CFNValue) -> CFNValue { .map([("Fn::Not", .list([condition]))]) }
    /// `{Ref: AWS::NoValue}`: the property is left out.
    public static var noValue: CFNValue { .ref("AWS::NoValue") }

    /// The value under `key` of a mapping.
    public subscript(key: String) -> CFNValue? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    /// The mapping's pairs (empty for anything else).
    public var pairs: [(String, CFNValue)] {
        if case .map(let pairs) = self { return pairs }
        return []
    }

    /// The value without whatever refers to the resources `ids` (a `Ref`, `Fn::GetAtt` or `${…}` naming one): such
    /// a value is nil, and lists and mappings lose such items. Only for deploying into emulators that lack a type.
    public func pruned(removing ids: Set<String>) -> CFNValue? {
        switch self {
        case .map(let pairs) where pairs.count == 1:
            let (key, value) = pairs[0]
            switch (key, value) {
            case ("Ref", .string(let id)) where ids.contains(id): return nil
            case ("Fn::GetAtt", .list(let parts)) where parts.first.map({ if case .string(let id) = $0 { ids.contains(id) } else { false } }) == true:
                return nil
            case ("Fn::Sub", .string(let text)) where ids.contains(where: { text.contains("${\($0)}") || text.contains("${\($0).") }):
                return nil
            default: break
            }
            fallthrough
        case .map(let pairs):
            return .map(pairs.compactMap { key, value in value.pruned(removing: ids).map { (key, $0) } })
        case .list(let items):
            return .list(items.compactMap { $0.pruned(removing: ids) })
        default:
            return self
        }
    }

    /// Every string in this value, however deep.
    public var strings: [String] {
        switch self {
        case .string(let text): return [text]
        case .int, .bool: return []
        case .list(let items): return items.flatMap(\.strings)
        case .map(let pairs): return pairs.flatMap { [$0.0] + $0.1.strings }
        }
    }
}

extension CFNValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: CFNValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, CFNValue)...) { self = .map(elements) }
}

extension CFNValue {
    /// The value as YAML, keys in their written order; a string that YAML would read as something else
    /// (`true`, `0750`, `null`, `1.4.0`-like numbers, a leading `*`) is quoted.
    public func yaml() throws -> String {
        try Yams.serialize(node: node, indent: 2, width: -1, allowUnicode: true)
    }

    var node: Node {
        switch self {
        case .string(let text):
            return .scalar(Node.Scalar(text, .implicit, Self.needsQuotes(text) ? .singleQuoted : .plain))
        case .int(let number):
            return .scalar(Node.Scalar(String(number), .implicit, .plain))
        case .bool(let flag):
            return .scalar(Node.Scalar(flag ? "true" : "false", .implicit, .plain))
        case .list(let items):
            return .sequence(Node.Sequence(items.map(\.node)))
        case .map(let pairs):
            return .mapping(Node.Mapping(pairs.map { (Node.scalar(Node.Scalar($0.0, .implicit, Self.needsQuotes($0.0) ? .singleQuoted : .plain)), $0.1.node) }))
        }
    }

    /// Whether a plain scalar would not read back as this string (YAML 1.1 and 1.2 resolvers both considered).
    static func needsQuotes(_ text: String) -> Bool {
        if text.isEmpty { return true }
        let reserved: Set<String> = ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"]
        if reserved.contains(text.lowercased()) { return true }
        if let first = text.unicodeScalars.first, !(CharacterSet.letters.contains(first) || "/_$".unicodeScalars.contains(first)) {
            return true
        }
        let safe = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "_/:.-@${}(),= "))
        if text.unicodeScalars.contains(where: { !safe.contains($0) }) { return true }
        if text.hasSuffix(" ") || text.hasSuffix(":") || text.contains(": ") || text.contains(" #") { return true }
        return false
    }
}
