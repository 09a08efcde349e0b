import FathomSDK
import Foundation

/// The production job in miniature: generate lines on the volume, `sort` them, `bzip2` the result,
/// each step a shell task in the run's workspace.
struct SortCompress: Flow {
    static let name = "sort-compress"
    static let summary = "Sort a file of lines and compress it with bzip2, on the scratch volume."

    struct Parameters: FlowParameters {
        /// An input file; when empty, `lines` random lines are generated.
        var input = ""
        var lines = 100_000
        var volume = "scratch"
    }

    static func run(_ parameters: Parameters, context: FlowContext) async throws {
        let workspace = try context.workspace(parameters.volume)
        var input = parameters.input
        if input.isEmpty {
            input = (workspace as NSString).appendingPathComponent("input.txt")
            let target = input
            try await context.task("generate-input") { task in
                try generateLines(count: parameters.lines, to: target)
                task.logger.info("generated \(parameters.lines) lines into \(target)")
            }
        }
        let sorted = (workspace as NSString).appendingPathComponent("sorted.txt")
        try await context.shell(
            executable: "/usr/bin/env", arguments: ["LC_ALL=C", "sort", "-o", sorted, input], name: "sort")
        try await context.shell(executable: "bzip2", arguments: ["-f", "-9", sorted], name: "bzip2")
        let archive = sorted + ".bz2"
        let size = (try FileManager.default.attributesOfItem(atPath: archive)[.size] as? NSNumber)?.intValue ?? 0
        context.logger.info("wrote \(archive) (\(size) bytes)")
    }

    static func generateLines(count: Int, to path: String) throws {
        var generator = SystemRandomNumberGenerator()
        var text = ""
        text.reserveCapacity(count * 24)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz")
        for index in 0..<count {
            let length = Int.random(in: 4...20, using: &generator)
            text += String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
            text += " \(index)\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
