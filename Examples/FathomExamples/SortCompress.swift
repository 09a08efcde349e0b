import FathomSDK
import FathomToolkitTasks
import Foundation

/// The production job: lines on the volume are sorted (larger than memory, on all cores) and compressed with
/// parallel bzip2 in the run's workspace, then the archive is tested. Every step is a toolkit task, so progress,
/// throughput and failures reach the coordinator as the run's logs. The same flow runs under `fathom dev` with a
/// local directory as the volume and, unchanged, as an ECS task with the volume on EFS.
struct SortCompress: Flow {
    static let name = "sort-compress"
    static let summary = "Sort a file of lines larger than memory and compress it with parallel bzip2, on the scratch volume."

    struct Parameters: FlowParameters {
        /// An input file on the volume; when empty, `gib` GiB of random lines are generated in the workspace.
        var input = ""
        var gib = 0.05
        var volume = "scratch"
        /// The sort's memory budget: 512M, 2G, 25%.
        var memory = "25%"
        /// bzip2 block size, 1 to 9.
        var level = 9
        /// Threads for sorting and compressing; 0: all cores.
        var threads = 0

        static let ranges: [String: ClosedRange<Double>] = ["gib": 0.000_001...4096, "level": 1...9, "threads": 0...1024]
    }

    static func run(_ parameters: Parameters, context: FlowContext) async throws {
        let workspace = try context.workspace(parameters.volume)
        let memory = try ByteSize(parsing: parameters.memory, field: "memory").bytes
        let threads = parameters.threads > 0 ? parameters.threads : nil
        var input = parameters.input.isEmpty ? "" : try context.path(onVolume: parameters.volume, parameters.input, field: "input")
        if input.isEmpty {
            input = workspace + "/input.txt"
            let target = input
            guard parameters.gib.isFinite, (0.000_001...4096).contains(parameters.gib) else {
                throw ValidationError(code: "out_of_range", field: "gib", problem: "\(parameters.gib) GiB is outside 0.000001 to 4096", fix: "Give e.g. gib=0.05.")
            }
            let bytes = Int(saturating: parameters.gib * 1_073_741_824)
            // The same lines for every attempt of a resume chain (they share the workspace), and a declared output:
            // a resumed run reuses the input as it reuses the sort.
            try await context.task("generate-input", inputs: ["bytes": bytes], outputs: [target]) { task in
                let started = Date()
                let seed = LineGenerator.seed(from: workspace)
                try await context.blocking { try LineGenerator.write(bytes: bytes, to: target, seed: seed) }
                task.logger.info("generated \(ByteSize.format(bytes)) of lines into \(target) in \(seconds(since: started)) s")
            }
        }
        let sorted = workspace + "/sorted.txt"
        let sort = try await context.sort([input], to: sorted, memory: memory, parallelism: threads)
        let archive = sorted + ".bz2"
        let compressed = try await context.bzip2(sorted, to: archive, level: parameters.level, parallelism: threads)
        try FileManager.default.removeItem(atPath: sorted)
        let tested = try await context.testBZip2(archive)
        context.logger.info(
            """
            sorted \(ByteSize.format(sort.bytesRead)) in \(rounded(sort.seconds)) s \
            (\(ByteSize.format(Int(Double(sort.bytesRead) / max(sort.seconds, 0.001))))/s, \(sort.runs) runs); \
            compressed to \(ByteSize.format(compressed.bytesOut)) in \(rounded(compressed.seconds)) s \
            (\(ByteSize.format(Int(compressed.throughput(compressing: true))))/s); archive tested in \(rounded(tested.seconds)) s
            """)
        context.logger.info("result: \(archive)")
    }

    static func seconds(since start: Date) -> Double {
        rounded(Date().timeIntervalSince(start))
    }

    static func rounded(_ value: Double) -> Double {
        (value * 100).rounded() / 100
    }
}

/// Writes lines of random lowercase words quickly (about 1 GB/s), for inputs of any size.
enum LineGenerator {
    /// A seed that is the same in every process for the same text (FNV-1a; Swift's own hashes are per process).
    static func seed(from text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    static func write(bytes total: Int, to path: String, seed: UInt64) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw VolumeError("could not create \(path)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var state = seed | 1
        var buffer = [UInt8]()
        buffer.reserveCapacity(1 << 20 + 256)
        var written = 0
        while written < total {
            buffer.removeAll(keepingCapacity: true)
            while buffer.count < min(1 << 20, total - written) {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                var bits = state
                let words = 2 + Int(bits % 6)
                bits /= 6
                for word in 0..<words {
                    if word > 0 { buffer.append(0x20) }
                    let length = 2 + Int(bits % 7)
                    bits /= 7
                    for _ in 0..<length {
                        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                        buffer.append(0x61 + UInt8((state >> 33) % 26))
                    }
                }
                buffer.append(0x0A)
            }
            var chunk = buffer.prefix(total - written)
            if written + chunk.count == total, !chunk.isEmpty { chunk[chunk.endIndex - 1] = 0x0A }
            try handle.write(contentsOf: chunk)
            written += chunk.count
        }
    }
}
