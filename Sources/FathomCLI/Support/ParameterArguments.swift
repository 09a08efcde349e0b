import FathomAPI
import FathomCore

/// Turns `--param key=value` arguments into typed JSON values using the flow's parameter specs.
public enum ParameterArguments {
    /// Parses each `key=value` by the type of that parameter. Unknown keys are kept as strings,
    /// so the coordinator reports them with the list of valid names.
    public static func parse(_ pairs: [String], specs: [ParameterSpec]) throws(ValidationErrors) -> [String: JSONValue] {
        var values: [String: JSONValue] = [:]
        var errors: [FathomCore.ValidationError] = []
        let types = Dictionary(specs.map { ($0.name, $0.type) }, uniquingKeysWith: { first, _ in first })
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                errors.append(FathomCore.ValidationError(
                    code: "invalid_argument", field: "--param \(pair)", problem: "expected key=value",
                    fix: "Write e.g. --param count=3."))
                continue
            }
            let key = String(pair[..<equals])
            let text = String(pair[pair.index(after: equals)...])
            guard let type = types[key] else {
                values[key] = .string(text)
                continue
            }
            do {
                values[key] = try type.parse(text, field: key)
            } catch {
                errors.append(error)
            }
        }
        if !errors.isEmpty { throw ValidationErrors(errors) }
        return values
    }
}

extension ParameterArguments {
    /// `--param key=value` pairs typed by `flow`'s latest parameters, or a CLI error naming each bad one.
    static func values(_ pairs: [String], for flow: FlowSummary) throws -> [String: JSONValue] {
        do {
            return try parse(pairs, specs: flow.latest.parameters)
        } catch {
            throw CLIError(error.description)
        }
    }
}

/// Durations given as options (`--interval 15m`, `--retry-delay 30s`).
enum DurationArgument {
    static func seconds(_ text: String, option: String) throws -> Double {
        guard let seconds = DurationText.seconds(text) else {
            throw CLIError("\(option) '\(text)' is not a duration; write e.g. 90s, 15m, 1h or 1d")
        }
        return seconds
    }
}
