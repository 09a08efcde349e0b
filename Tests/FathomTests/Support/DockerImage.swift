import Foundation

/// An image's ENTRYPOINT and CMD, read from a stage of the project's Dockerfile, and how Docker
/// joins them with a container's entryPoint and command (as ECS passes them to Docker): an
/// entryPoint replaces ENTRYPOINT and drops the image's CMD; a command replaces only CMD.
struct DockerImage: Sendable {
    var entryPoint: [String]
    var command: [String]

    /// The Dockerfile's `runner` stage: the flow container of ECS task definitions.
    static let runner = DockerImage(stage: "runner")

    init(entryPoint: [String], command: [String]) {
        self.entryPoint = entryPoint
        self.command = command
    }

    /// Reads `ENTRYPOINT [...]` and `CMD [...]` (exec form) of `stage`, inheriting from the stage it is built `FROM`.
    init(stage: String, dockerfile: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../Dockerfile").standardized.path) {
        let text = (try? String(contentsOfFile: dockerfile, encoding: .utf8)) ?? ""
        var stages: [String: DockerImage] = [:]
        var current: String?
        for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let words = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard let instruction = words.first?.uppercased() else { continue }
            let rest = words.count > 1 ? words[1] : ""
            switch instruction {
            case "FROM":
                let parts = rest.split(separator: " ").map(String.init)
                let base = parts.first ?? ""
                current = parts.count >= 3 && parts[1].uppercased() == "AS" ? parts[2] : base
                stages[current!] = stages[base] ?? DockerImage(entryPoint: [], command: [])
            case "ENTRYPOINT":
                if let current { stages[current]?.entryPoint = Self.execForm(rest); stages[current]?.command = [] }
            case "CMD":
                if let current { stages[current]?.command = Self.execForm(rest) }
            default:
                continue
            }
        }
        self = stages[stage] ?? DockerImage(entryPoint: [], command: [])
    }

    static func execForm(_ text: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? ["/bin/sh", "-c", text]
    }

    /// The argv of a container with the task's `entryPoint` and `command` (nil: not set).
    func argv(entryPoint taskEntryPoint: [String]?, command taskCommand: [String]?) -> [String] {
        let entry = taskEntryPoint ?? entryPoint
        let command = taskCommand ?? (taskEntryPoint == nil ? self.command : [])
        return entry + command
    }
}
