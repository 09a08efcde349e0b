import FathomCore
import Foundation

/// The AWS input shapes of RegisterTaskDefinition and RunTask (from botocore's model, generated
/// into `ECSShapes+Model.swift`), and a checker that walks user JSON against them.
public indirect enum Shape: Sendable {
    case structure(name: String, members: [String: Shape], required: Set<String>)
    case list(Shape)
    case map(Shape)
    case string(allowed: [String]?)
    case integer, long, boolean, double, float, timestamp, blob
    /// A recursive reference to a structure defined higher up.
    case reference(String)
}

public enum ECSShapes {
    /// The RegisterTaskDefinition request shape.
    public static let registerTaskDefinition: Shape = parsed["RegisterTaskDefinition"]!
    /// The RunTask request shape.
    public static let runTask: Shape = parsed["RunTask"]!

    static let parsed: [String: Shape] = {
        guard let data = modelJSON.data(using: .utf8),
              let object = try? JSONDecoder().decode([String: JSONValue].self, from: data)  // compiled-in generated data, checked by ECSConfigTests; never user input
        else { fatalError("the generated ECS model does not parse; run scripts/generate-ecs-shapes.py") }
        return object.mapValues(shape(from:))
    }()

    static func shape(from json: JSONValue) -> Shape {
        if let reference = json["ref"].stringValue { return .reference(reference) }
        switch json["type"].stringValue {
        case "structure":
            return .structure(
                name: json["name"].stringValue ?? "", members: (json["members"].objectValue ?? [:]).mapValues(shape(from:)),
                required: Set((json["required"].arrayValue ?? []).compactMap(\.stringValue)))
        case "list": return .list(shape(from: json["member"]))
        case "map": return .map(shape(from: json["value"]))
        case "string": return .string(allowed: json["enum"].arrayValue?.compactMap(\.stringValue))
        case "integer": return .integer
        case "long": return .long
        case "boolean": return .boolean
        case "double": return .double
        case "float": return .float
        case "timestamp": return .timestamp
        default: return .blob
        }
    }

    /// The member names of a structure shape.
    public static func memberNames(_ shape: Shape) -> [String] {
        if case .structure(_, let members, _) = shape { return members.keys.sorted() }
        return []
    }

    /// The member shape of a structure.
    public static func member(_ name: String, of shape: Shape) -> Shape? {
        if case .structure(_, let members, _) = shape { return members[name] }
        return nil
    }

    /// Every problem of `value` against `shape`: unknown keys (with the closest valid name), wrong
    /// types, enum values outside the model. `checkRequired` also reports missing required members.
    public static func check(_ value: JSONValue, against shape: Shape, at path: String, checkRequired: Bool = false) -> [ValidationError] {
        var problems: [ValidationError] = []
        walk(value, shape, path, checkRequired, [:], &problems)
        return problems
    }

    private static func walk(
        _ value: JSONValue, _ shape: Shape, _ path: String, _ checkRequired: Bool, _ structures: [String: Shape],
        _ problems: inout [ValidationError]
    ) {
        if value == .null { return }
        switch shape {
        case .reference(let name):
            if let resolved = structures[name] { walk(value, resolved, path, checkRequired, structures, &problems) }
        case .structure(let name, let members, let required):
            var known = structures
            known[name] = shape
            guard case .object(let fields) = value else {
                problems.append(typeError(path, expected: "a mapping", got: value))
                return
            }
            for key in fields.keys.sorted() {
                guard let member = members[key] else {
                    let names = members.keys.sorted()
                    let hint = Spelling.closest(to: key, in: names).map { " Did you mean '\($0)'?" } ?? ""
                    problems.append(ValidationError(
                        code: "unknown_key", field: "\(path).\(key)", problem: "'\(key)' is not a field of \(name) in the AWS API",
                        fix: hint.isEmpty ? "Valid fields: \(names.joined(separator: ", "))." : "Remove it or fix the name.\(hint)"))
                    continue
                }
                walk(fields[key]!, member, "\(path).\(key)", checkRequired, known, &problems)
            }
            if checkRequired {
                for key in required.sorted() where fields[key] == nil {
                    problems.append(ValidationError(
                        code: "missing_key", field: "\(path).\(key)", problem: "\(name) requires '\(key)'", fix: "Add '\(key)'."))
                }
            }
        case .list(let member):
            guard case .array(let items) = value else {
                problems.append(typeError(path, expected: "a list", got: value))
                return
            }
            for (index, item) in items.enumerated() { walk(item, member, "\(path)[\(index)]", checkRequired, structures, &problems) }
        case .map(let member):
            guard case .object(let fields) = value else {
                problems.append(typeError(path, expected: "a mapping", got: value))
                return
            }
            for key in fields.keys.sorted() { walk(fields[key]!, member, "\(path).\(key)", checkRequired, structures, &problems) }
        case .string(let allowed):
            guard case .string(let text) = value else {
                problems.append(typeError(path, expected: "a string", got: value))
                return
            }
            if let allowed, !allowed.contains(text) {
                let hint = Spelling.closest(to: text, in: allowed).map { " Did you mean '\($0)'?" } ?? ""
                problems.append(ValidationError(
                    code: "invalid_enum", field: path, problem: "'\(text)' is not a valid value",
                    fix: "Use one of: \(allowed.joined(separator: ", ")).\(hint)"))
            }
        case .integer, .long:
            if case .int = value { return }
            problems.append(typeError(path, expected: "a whole number", got: value))
        case .double, .float:
            switch value {
            case .int, .double: return
            default: problems.append(typeError(path, expected: "a number", got: value))
            }
        case .boolean:
            if case .bool = value { return }
            problems.append(typeError(path, expected: "true or false", got: value))
        case .timestamp, .blob:
            return
        }
    }

    static func typeError(_ path: String, expected: String, got value: JSONValue) -> ValidationError {
        ValidationError(
            code: "invalid_type", field: path, problem: "expected \(expected), got \(value.typeName) \(value)",
            fix: "Write it as AWS's API documents it (e.g. cpu and memory of a task definition are strings, of a container numbers).")
    }
}
