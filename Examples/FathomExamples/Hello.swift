import FathomSDK
import Foundation

/// Proves the flow can use its volume: writes a file with random content and a unique name into
/// a folder on the `scratch` volume, then logs every file in that folder with its size.
struct Hello: Flow {
    static let name = "hello"
    static let summary = "Write a random file to the scratch volume and list the folder."

    struct Parameters: FlowParameters {
        /// The folder on the volume, relative to its root.
        var folder = "hello"
        /// How many random bytes to write.
        var bytes = 1024
        var volume = "scratch"

        static let ranges: [String: ClosedRange<Double>] = ["bytes": 0...67_108_864]
    }

    static func run(_ parameters: Parameters, context: FlowContext) async throws {
        let root = try context.volume(parameters.volume)
        let folder = try context.path(onVolume: parameters.volume, parameters.folder, field: "folder")
        context.logger.info("hello from flow run \(context.runID); volume \(parameters.volume) is at \(root)")

        let written = try await context.task("write-random-file") { task in
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let name = "hello-\(ISO8601DateFormatter().string(from: Date()))-\(context.runID.prefix(8)).bin"
                .replacingOccurrences(of: ":", with: "")
            let path = (folder as NSString).appendingPathComponent(name)
            var generator = SystemRandomNumberGenerator()
            let data = Data((0..<max(0, parameters.bytes)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            task.logger.info("wrote \(name) (\(data.count) bytes)")
            return name
        }

        let listing = try await context.task("list-folder") { task in
            // Other runs write into the same folder at the same time: their files in the making (hidden,
            // renamed into place when whole) are not listed, and a file gone between listing and reading is skipped.
            let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }.sorted()
            var lines: [String] = []
            for name in names {
                guard let attributes = try? FileManager.default.attributesOfItem(atPath: (folder as NSString).appendingPathComponent(name)) else {  // a file removed while listing is skipped
                    continue
                }
                lines.append("\(name) \((attributes[.size] as? NSNumber)?.intValue ?? 0) bytes")
            }
            return lines
        }
        context.logger.info("\(listing.count) file(s) in \(folder):")
        for line in listing {
            context.logger.info("  \(line)\(line.hasPrefix(written) ? "  <- new" : "")")
        }
    }
}
