import FathomCore

/// Reads typed fields of one mapping of a config, collecting every problem with its path.
struct FieldReader {
    let fields: [String: JSONValue]
    let path: String
    var problems: [ValidationError] = []

    /// Checks `value` is a mapping with only `allowed` keys.
    init(_ value: JSONValue, path: String, allowed: [String]) {
        self.path = path
        guard case .object(let fields) = value else {
            self.fields = [:]
            problems.append(ValidationError(
                code: "invalid_type", field: path, problem: "expected a mapping, got \(value.typeName)", fix: "Write '\(path):' as a mapping of keys."))
            return
        }
        self.fields = fields
        for key in fields.keys.sorted() where !allowed.contains(key) {
            let hint = Spelling.closest(to: key, in: allowed).map { " Did you mean '\($0)'?" } ?? ""
            problems.append(ValidationError(
                code: "unknown_key", field: "\(path).\(key)", problem: "unknown key '\(key)'",
                fix: hint.isEmpty ? "Valid keys: \(allowed.joined(separator: ", "))." : "Fix the name.\(hint)"))
        }
    }

    func field(_ key: String) -> String { "\(path).\(key)" }

    mutating func string(_ key: String, required: Bool = false) -> String? {
        switch fields[key] {
        case nil, .null?:
            if required { missing(key) }
            return nil
        case .string(let text)?:
            if required && text.isEmpty { missing(key) }
            return text
        case .int(let number)?:
            return String(number)
        case let other?:
            problems.append(ValidationError(
                code: "invalid_type", field: field(key), problem: "expected a string, got \(other.typeName) \(other)", fix: "Quote the value."))
            return nil
        }
    }

    mutating func bool(_ key: String) -> Bool? {
        switch fields[key] {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        case .string(let text)? where ["ENABLED", "DISABLED"].contains(text.uppercased()): return text.uppercased() == "ENABLED"
        case let other?:
            problems.append(ValidationError(
                code: "invalid_type", field: field(key), problem: "expected true or false, got \(other)", fix: "Write true or false."))
            return nil
        }
    }

    mutating func int(_ key: String) -> Int? {
        switch fields[key] {
        case nil, .null?: return nil
        case .int(let number)?: return Int(number)
        case .string(let text)? where Int(text) != nil: return Int(text)
        case let other?:
            problems.append(ValidationError(
                code: "invalid_type", field: field(key), problem: "expected a whole number, got \(other)", fix: "Write a number."))
            return nil
        }
    }

    mutating func strings(_ key: String) -> [String]? {
        switch fields[key] {
        case nil, .null?: return nil
        case .array(let items)?:
            var result: [String] = []
            for (index, item) in items.enumerated() {
                if case .string(let text) = item { result.append(text) } else {
                    problems.append(ValidationError(
                        code: "invalid_type", field: "\(field(key))[\(index)]", problem: "expected a string, got \(item.typeName)",
                        fix: "Write a list of strings."))
                }
            }
            return result
        case .string(let text)?:
            return [text]
        case let other?:
            problems.append(ValidationError(
                code: "invalid_type", field: field(key), problem: "expected a list, got \(other.typeName)", fix: "Write e.g. [a, b]."))
            return nil
        }
    }

    mutating func missing(_ key: String) {
        problems.append(ValidationError(code: "missing_key", field: field(key), problem: "'\(key)' is required", fix: "Add '\(key)'."))
    }
}
