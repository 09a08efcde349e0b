import AWS
import Foundation

/// One `Allow` statement of an IAM policy. Resources and condition values are ARN templates in `Fn::Sub` syntax
/// (`arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/${Cluster}`), so the same statement becomes
/// a template's policy and, with example values, the policy in the docs.
public struct IAMStatement: Sendable, Equatable {
    public struct Condition: Sendable, Equatable {
        /// `ArnEquals`, `StringEquals`, …
        public var test: String
        public var key: String
        public var values: [String]
    }

    public var sid: String
    public var actions: [String]
    public var resources: [String]
    public var conditions: [Condition]

    public init(sid: String, actions: [String], resources: [String], conditions: [Condition] = []) {
        self.sid = sid
        self.actions = actions
        self.resources = resources
        self.conditions = conditions
    }

    /// The statement's actions as `Action`, from operations: one action each (sorted, no repeats).
    public init(sid: String, operations: Set<AWSOperation>, resources: [String], conditions: [Condition] = []) {
        self.init(sid: sid, actions: Set(operations.map(\.iamAction)).sorted(), resources: resources, conditions: conditions)
    }
}

/// A named identity policy (inline in a role).
public struct IAMPolicy: Sendable, Equatable {
    public var name: String
    public var statements: [IAMStatement]

    /// The policy with one resource or condition value replaced (a given ARN for a template name).
    public func replacing(_ value: String, with replacement: String) -> IAMPolicy {
        var policy = self
        for index in policy.statements.indices {
            policy.statements[index].resources = policy.statements[index].resources.map { $0 == value ? replacement : $0 }
        }
        return policy
    }

    /// Every action the policy allows.
    public var actions: Set<String> { Set(statements.flatMap(\.actions)) }

    /// The policy document for a template: `${…}` strings become `Fn::Sub`.
    public var document: CFNValue {
        ["Version": "2012-10-17", "Statement": .list(statements.map { statement in
            var pairs: [(String, CFNValue)] = [
                ("Sid", .string(statement.sid)), ("Effect", "Allow"),
                ("Action", Self.oneOrList(statement.actions.map { .string($0) })),
                ("Resource", Self.oneOrList(statement.resources.map(Self.templateValue))),
            ]
            if !statement.conditions.isEmpty {
                let tests = statement.conditions.reduce(into: [String]()) { if !$0.contains($1.test) { $0.append($1.test) } }
                pairs.append(("Condition", .map(tests.map { test in
                    (test, .map(statement.conditions.filter { $0.test == test }.map {
                        ($0.key, Self.oneOrList($0.values.map(Self.templateValue)))
                    }))
                })))
            }
            return .map(pairs)
        })]
    }

    /// The policy document with `${Name}` replaced by `values` (the docs' example account), as JSON.
    public func exampleJSON(_ values: [String: String]) -> String {
        Self.substitute(document, values).json()
    }

    static func templateValue(_ text: String) -> CFNValue { text.contains("${") ? .sub(text) : .string(text) }

    static func oneOrList(_ values: [CFNValue]) -> CFNValue { values.count == 1 ? values[0] : .list(values) }

    /// `Fn::Sub` strings with their names replaced; names not in `values` stay as written.
    static func substitute(_ value: CFNValue, _ values: [String: String]) -> CFNValue {
        switch value {
        case .map(let pairs) where pairs.count == 1 && pairs[0].0 == "Fn::Sub":
            guard case .string(var text) = pairs[0].1 else { return value }
            for (name, replacement) in values { text = text.replacingOccurrences(of: "${\(name)}", with: replacement) }
            return .string(text)
        case .map(let pairs): return .map(pairs.map { ($0.0, substitute($0.1, values)) })
        case .list(let items): return .list(items.map { substitute($0, values) })
        default: return value
        }
    }
}

extension CFNValue {
    /// The value as JSON, keys in their written order, two-space indent, short lists of strings on one line.
    public func json(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .string(let text): return Self.quoted(text)
        case .int(let number): return String(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .list(let items):
            if items.isEmpty { return "[]" }
            let flat = items.map { $0.json(indent: inner) }
            if items.allSatisfy({ if case .string = $0 { return true } else { return false } }), flat.joined(separator: ", ").count < 90 {
                return "[" + flat.joined(separator: ", ") + "]"
            }
            return "[\n" + flat.map { inner + $0 }.joined(separator: ",\n") + "\n\(indent)]"
        case .map(let pairs):
            if pairs.isEmpty { return "{}" }
            return "{\n" + pairs.map { "\(inner)\(Self.quoted($0.0)): \($0.1.json(indent: inner))" }.joined(separator: ",\n") + "\n\(indent)}"
        }
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
