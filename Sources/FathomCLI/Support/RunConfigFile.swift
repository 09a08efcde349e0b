import FathomCore
import FathomECS
import Foundation
import Yams

/// Reads run config files (YAML or JSON) into a ``RunConfig``.
public enum RunConfigFile {
    /// Loads and checks the file at `path`.
    public static func load(_ path: String) throws -> RunConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CLIError("cannot read run config '\(path)': \((error as NSError).localizedDescription) (it must be a readable UTF-8 YAML file)")
        }
        let document: JSONValue
        do {
            document = try parse(text)
        } catch {
            throw CLIError("run config '\(path)' is not valid YAML or JSON: \(error)")
        }
        do {
            var config = try RunConfig(document: document)
            if config.launcher == .ecs {
                // Resolve the task definition file now: the coordinator stores the config self-contained.
                let ecs = try ECSRunConfig(config.settings, baseDirectory: URL(fileURLWithPath: path).deletingLastPathComponent().path)
                var settings = config.settings.objectValue ?? [:]
                settings["taskDefinition"] = ecs.taskDefinition
                config.settings = .object(settings)
            }
            return config
        } catch {
            throw CLIError("run config '\(path)' is invalid:\n" + error.errors.map { "  \($0)" }.joined(separator: "\n"))
        }
    }

    /// The largest run config read: a file, and the values in it (aliases that repeat a part count each time).
    static let maximumBytes = 4 << 20
    static let maximumValues = 200_000
    static let maximumDepth = 100

    /// Parses YAML (a superset of JSON) into a JSON value. A document past the limits above (e.g. a
    /// "billion laughs" of nested aliases, or thousands of nested brackets) is an error, not a hang.
    public static func parse(_ text: String) throws -> JSONValue {
        guard text.utf8.count <= maximumBytes else {
            throw CLIError("the run config is \(text.utf8.count) bytes; at most \(maximumBytes) are read")
        }
        guard let node = try Yams.compose(yaml: text) else { return .null }
        var budget = maximumValues
        return try json(from: node, depth: 0, budget: &budget)
    }

    static func json(from node: Node, depth: Int, budget: inout Int) throws -> JSONValue {
        budget -= 1
        guard budget >= 0 else {
            throw CLIError("the run config holds more than \(maximumValues) values (YAML aliases repeat what they name); write it out plainly")
        }
        guard depth <= maximumDepth else {
            throw CLIError("the run config nests deeper than \(maximumDepth) levels")
        }
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                if scalar.string == "~" || scalar.string == "null" || scalar.string.isEmpty { return .null }
                if let value = Bool.construct(from: scalar) { return .bool(value) }
                if let value = Int.construct(from: scalar) { return .int(Int64(value)) }
                if let value = Double.construct(from: scalar) { return .double(value) }
            }
            return .string(scalar.string)
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { throw CLIError("mapping keys must be strings") }
                object[name] = try json(from: value, depth: depth + 1, budget: &budget)
            }
            return .object(object)
        case .sequence(let sequence):
            var values: [JSONValue] = []
            for element in sequence { values.append(try json(from: element, depth: depth + 1, budget: &budget)) }
            return .array(values)
        case .alias:
            throw CLIError("YAML aliases are not supported in run configs")
        }
    }
}

/// A command-line error: one clear line (or a few), no stack trace.
public struct CLIError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
