import Foundation

/// The shared config and credentials files (`~/.aws/config`, `~/.aws/credentials`) and the selected profile.
public struct SharedConfigFiles: Sendable {
    let environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    var home: String { environment["HOME"] ?? NSHomeDirectory() }

    /// `AWS_PROFILE`, then `AWS_DEFAULT_PROFILE`, then `default`.
    public var profileName: String { explicitProfileName ?? "default" }

    /// The profile the user named in the environment, if any: then it must exist and hold credentials.
    public var explicitProfileName: String? {
        for key in ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"] {
            if let value = environment[key], !value.isEmpty { return value }
        }
        return nil
    }

    public var credentialsPath: String { environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials" }
    public var configPath: String { environment["AWS_CONFIG_FILE"] ?? home + "/.aws/config" }

    /// The config file names profiles `[profile x]`, except `[default]`.
    func configSection(_ profile: String) -> String { profile == "default" ? "default" : "profile \(profile)" }

    /// A key of the selected profile in the config file (e.g. `region`).
    public func configValue(_ key: String) -> String? {
        INIFile.load(configPath)?[configSection(profileName)]?[key]
    }

    /// A profile's keys from both files, the credentials file winning (as the AWS CLI merges them);
    /// nil when neither file has the profile.
    public func profile(_ name: String) -> SharedProfile? {
        let fromConfig = INIFile.load(configPath)?[configSection(name)]
        let fromCredentials = INIFile.load(credentialsPath)?[name]
        guard fromConfig != nil || fromCredentials != nil else { return nil }
        var values = fromConfig ?? [:]
        for (key, value) in fromCredentials ?? [:] { values[key] = value }
        return SharedProfile(name: name, values: values)
    }
}

/// One profile of the shared files.
public struct SharedProfile: Sendable {
    public var name: String
    /// Lower-cased keys.
    public var values: [String: String]

    public subscript(key: String) -> String? {
        values[key].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// The small INI dialect of the AWS shared files.
enum INIFile {
    static func load(_ path: String) -> [String: [String: String]]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }  // no such file: as the AWS CLI, a missing config file is empty
        return parse(text)
    }

    static func parse(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                    .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                if let current, sections[current] == nil { sections[current] = [:] }
                continue
            }
            guard let section = current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[section, default: [:]][key] = value
        }
        return sections
    }
}
