import Foundation

/// The type of a flow parameter, as a bundle describes it.
public enum ParameterType: String, Codable, Sendable, CaseIterable {
    case string, int, double, bool, json

    /// Whether `value` is acceptable for this type.
    public func accepts(_ value: JSONValue) -> Bool {
        switch (self, value) {
        case (.string, .string), (.int, .int), (.bool, .bool), (.json, _): return true
        case (.double, .int), (.double, .double): return true
        case (.int, .double(let number)): return number.rounded() == number && abs(number) < 9e15
        default: return false
        }
    }

    /// Reads a command-line text as a value of this type (`--param count=5`).
    public func parse(_ text: String, field: String) throws(ValidationError) -> JSONValue {
        switch self {
        case .string:
            return .string(text)
        case .int:
            guard let value = Int64(text.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError(
                    code: "invalid_parameter_type", field: field,
                    problem: "expected an integer, got \(quoted(text))", fix: "Pass a whole number, e.g. \(field)=3.")
            }
            return .int(value)
        case .double:
            guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
                throw ValidationError(
                    code: "invalid_parameter_type", field: field,
                    problem: "expected a number, got \(quoted(text))", fix: "Pass a number, e.g. \(field)=1.5.")
            }
            return .double(value)
        case .bool:
            switch text.lowercased() {
            case "true", "yes", "1", "on": return .bool(true)
            case "false", "no", "0", "off": return .bool(false)
            default:
                throw ValidationError(
                    code: "invalid_parameter_type", field: field,
                    problem: "expected true or false, got \(quoted(text))", fix: "Pass \(field)=true or \(field)=false.")
            }
        case .json:
            guard let data = text.data(using: .utf8),
                  let value = try? JSONDecoder().decode(JSONValue.self, from: data)  // the validation error thrown below names the parameter
            else {
                throw ValidationError(
                    code: "invalid_parameter_type", field: field,
                    problem: "expected JSON, got \(quoted(text))", fix: "Pass a JSON value, e.g. \(field)='{\"a\":1}'.")
            }
            return value
        }
    }
}

/// One parameter of a flow: its name, type, default, and for numbers the range a run may pass.
public struct ParameterSpec: Codable, Sendable, Hashable {
    public var name: String
    public var type: ParameterType
    /// The value used when a run does not pass one. `nil` means the parameter is required.
    public var defaultValue: JSONValue?
    /// The smallest and largest number a run may pass (int and double parameters); checked when the run is created.
    public var minimum: Double?
    public var maximum: Double?

    public init(name: String, type: ParameterType, defaultValue: JSONValue?, minimum: Double? = nil, maximum: Double? = nil) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.minimum = minimum
        self.maximum = maximum
    }

    enum CodingKeys: String, CodingKey {
        case name, type, minimum, maximum
        case defaultValue = "default"
    }

    /// A problem with `value` against this spec's range, if it has one and the value is outside it.
    func rangeProblem(_ value: JSONValue) -> ValidationError? {
        let number: Double
        switch value {
        case .int(let whole): number = Double(whole)
        case .double(let real): number = real
        default: return nil
        }
        guard minimum != nil || maximum != nil else { return nil }
        let low = minimum ?? -.infinity, high = maximum ?? .infinity
        guard !(low...high).contains(number) else { return nil }
        let bound = number < low ? "below the minimum \(plainNumber(low))" : "above the maximum \(plainNumber(high))"
        let allowed = [minimum.map { "from \(plainNumber($0))" }, maximum.map { "up to \(plainNumber($0))" }].compactMap { $0 }
        return ValidationError(
            code: "out_of_range", field: "parameters.\(name)", problem: "\(plainNumber(number)) is \(bound)",
            fix: "Pass a value \(allowed.joined(separator: " ")).")
    }

    /// Whether a run must pass this parameter.
    public var isRequired: Bool { defaultValue == nil }
}

/// Checks run parameters against a flow's parameter specs.
public enum ParameterValidator {
    /// Returns the complete parameter set (defaults filled in), or every problem found.
    public static func resolve(
        _ given: [String: JSONValue], against specs: [ParameterSpec], flowName: String
    ) throws(ValidationErrors) -> [String: JSONValue] {
        var errors: [ValidationError] = []
        let known = Dictionary(specs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for name in given.keys.sorted() where known[name] == nil {
            let names = specs.map(\.name).sorted()
            let suggestion = Spelling.closest(to: name, in: names).map { " Did you mean '\($0)'?" } ?? ""
            errors.append(ValidationError(
                code: "unknown_parameter", field: "parameters.\(name)",
                problem: "flow '\(flowName)' has no parameter '\(name)'",
                fix: "Its parameters are: \(names.isEmpty ? "(none)" : names.joined(separator: ", ")).\(suggestion)"))
        }
        var resolved: [String: JSONValue] = [:]
        for spec in specs {
            if let value = given[spec.name] {
                if spec.type.accepts(value) || (value == .null && spec.defaultValue == .null) {
                    if let problem = spec.rangeProblem(value) {
                        errors.append(problem)
                    } else {
                        resolved[spec.name] = normalized(value, as: spec.type)
                    }
                } else {
                    errors.append(ValidationError(
                        code: "invalid_parameter_type", field: "parameters.\(spec.name)",
                        problem: "expected \(spec.type.rawValue), got \(value.typeName) \(value)",
                        fix: "Pass a value of type \(spec.type.rawValue)."))
                }
            } else if let defaultValue = spec.defaultValue {
                resolved[spec.name] = defaultValue
            } else {
                errors.append(ValidationError(
                    code: "missing_parameter", field: "parameters.\(spec.name)",
                    problem: "flow '\(flowName)' requires parameter '\(spec.name)'",
                    fix: "Pass it, e.g. --param \(spec.name)=..."))
            }
        }
        if !errors.isEmpty { throw ValidationErrors(errors) }
        return resolved
    }

    private static func normalized(_ value: JSONValue, as type: ParameterType) -> JSONValue {
        if type == .int, case .double(let number) = value { return .int(Int64(number)) }
        if type == .double, case .int(let number) = value { return .double(Double(number)) }
        return value
    }
}

func quoted(_ text: String) -> String { "'\(text)'" }

/// A number as a person writes it: 4096, 0.5, 1e-06.
func plainNumber(_ number: Double) -> String {
    if number.rounded() == number, abs(number) < 1e15 { return String(Int64(number)) }
    return "\(number)"
}
