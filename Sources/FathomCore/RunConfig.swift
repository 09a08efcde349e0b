import Foundation

/// How a flow's runs are launched: the launcher's name and its settings.
///
/// A run config file has exactly one top-level key naming its launcher:
/// ```yaml
/// local:
///   env:
///     GREETING: hello
/// ```
public struct RunConfig: Codable, Sendable, Hashable {
    /// The launcher: `local` or `ecs`.
    public var launcher: LauncherKind
    /// The launcher's own settings, as given.
    public var settings: JSONValue

    public init(launcher: LauncherKind, settings: JSONValue) {
        self.launcher = launcher
        self.settings = settings
    }

    /// The default: the local launcher with no settings.
    public static let local = RunConfig(launcher: .local, settings: .object([:]))

    /// Reads a parsed run config document (`{"local": {...}}`), checking its shape.
    public init(document: JSONValue) throws(ValidationErrors) {
        guard case .object(let top) = document else {
            throw ValidationErrors([ValidationError(
                code: "invalid_run_config", field: "(top level)",
                problem: "a run config must be a mapping, got \(document.typeName)",
                fix: "Start the file with one launcher key, e.g. 'local:' or 'ecs:'.")])
        }
        guard top.count == 1, let (key, settings) = top.first else {
            throw ValidationErrors([ValidationError(
                code: "invalid_run_config", field: "(top level)",
                problem: "a run config needs exactly one launcher key, got \(top.keys.sorted())",
                fix: "Keep one of: \(LauncherKind.names).")])
        }
        guard let launcher = LauncherKind(rawValue: key) else {
            let hint = Spelling.closest(to: key, in: LauncherKind.allCases.map(\.rawValue)).map { " Did you mean '\($0)'?" } ?? ""
            throw ValidationErrors([ValidationError(
                code: "unknown_launcher", field: key,
                problem: "unknown launcher '\(key)'",
                fix: "Use one of: \(LauncherKind.names).\(hint)")])
        }
        let normalizedSettings: JSONValue = settings == .null ? .object([:]) : settings
        self.init(launcher: launcher, settings: normalizedSettings)
        if launcher == .local { try LocalRunSettings.validate(normalizedSettings) }
    }
}

/// Settings of the `local` launcher.
public struct LocalRunSettings: Sendable, Hashable {
    /// Extra environment variables for the flow process.
    public var env: [String: String]

    static let keys = ["env"]

    /// Checks the `local:` section of a run config.
    public static func validate(_ settings: JSONValue) throws(ValidationErrors) {
        _ = try LocalRunSettings(settings)
    }

    /// Reads the `local:` section of a run config.
    public init(_ settings: JSONValue) throws(ValidationErrors) {
        var errors: [ValidationError] = []
        var env: [String: String] = [:]
        guard case .object(let fields) = settings else {
            throw ValidationErrors([ValidationError(
                code: "invalid_run_config", field: "local",
                problem: "expected a mapping, got \(settings.typeName)", fix: "Write 'local:' followed by its settings, or '{}'.")])
        }
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "env":
                guard case .object(let variables) = value else {
                    errors.append(ValidationError(
                        code: "invalid_run_config", field: "local.env",
                        problem: "expected a mapping of names to strings, got \(value.typeName)",
                        fix: "Write e.g. 'env: {GREETING: hello}'."))
                    continue
                }
                for (name, variable) in variables {
                    if case .string(let text) = variable { env[name] = text } else {
                        env[name] = variable.description
                    }
                }
            default:
                let hint = Spelling.closest(to: key, in: LocalRunSettings.keys).map { " Did you mean '\($0)'?" } ?? ""
                errors.append(ValidationError(
                    code: "unknown_key", field: "local.\(key)",
                    problem: "unknown key '\(key)'", fix: "Valid keys: \(LocalRunSettings.keys.joined(separator: ", ")).\(hint)"))
            }
        }
        if !errors.isEmpty { throw ValidationErrors(errors) }
        self.env = env
    }
}

/// The volumes a flow process sees: `FATHOM_VOLUMES`, a JSON object of names to mount paths.
public enum VolumeEnvironment {
    public static let variable = "FATHOM_VOLUMES"

    /// Reads `FATHOM_VOLUMES` (`{"scratch": "/mnt/efs"}`); empty when it is unset. A value that is not such an
    /// object is an error naming the variable: the launchers always write one, so it was set by hand.
    public static func volumes(from environment: [String: String]) throws(ValidationError) -> [String: String] {
        guard let text = environment[variable] else { return [:] }
        do {
            return try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        } catch {
            throw ValidationError(
                code: "invalid_volumes", field: variable,
                problem: "\(variable) is not a JSON object of volume names to paths: \(text.prefix(200))",
                fix: "Unset it (the launcher sets it for each run), or set it like {\"scratch\": \"/mnt/efs\"}.")
        }
    }
}
