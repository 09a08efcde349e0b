import FathomAPI
import FathomCLI
import FathomCore
import FathomECS
import FathomToolkit
import Foundation
import Testing

/// The parsers that take user input, fed a stated number of generated inputs each from a fixed seed
/// (``SeededGenerator``):
/// every input ends as a value or an error, never a trap (which would end this test process) or a hang.
/// The form body parser's fuzzer is in HardeningTests (20,000 bodies); the HTTP query strings are fuzzed
/// against a real server below.
@Suite(.serialized)
struct FuzzTests {
    static func text(_ alphabet: [String], maxLength: Int, using generator: inout SeededGenerator) -> String {
        (0..<Int.random(in: 0...maxLength, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
    }

    static let numbers = ["0", "1", "9", "-", "+", ".", "e", "E", "1e308", "1e-400", "nan", "inf", "9223372036854775807", "99999999999999999999", " "]

    @Test(.timeLimit(.minutes(5))) func cronExpressions() async throws {
        try await offThePool(lowestPriority: false) {
            var generator = SeededGenerator(seed: 1)
            let alphabet = Self.numbers + ["*", "/", ",", "L", "W", "#", "?", "MON", "JAN", "SUN", "60", "24", "32", "13", "7", "@daily", "@hourly", "\t", "é", "\u{0}"]
            var parsed = 0
            for _ in 0..<50_000 {
                let text = Self.text(alphabet, maxLength: 14, using: &generator)
                guard let cron = try? CronExpression(text) else { continue }
                parsed += 1
                _ = cron.next(after: Date(timeIntervalSince1970: Double(Int.random(in: -10_000_000_000...100_000_000_000, using: &generator))), in: TimeZone(identifier: "UTC")!)
            }
            #expect(parsed > 100, "some inputs are valid cron, and their next time is computed: \(parsed)")
        }
    }

    @Test(.timeLimit(.minutes(5))) func durationsAndByteSizes() async throws {
        try await offThePool(lowestPriority: false) {
            var generator = SeededGenerator(seed: 2)
            let alphabet = Self.numbers + ["s", "m", "h", "d", "w", "ms", "K", "M", "G", "T", "P", "E", "B", "KiB", "%", "x"]
            var durations = 0, sizes = 0
            for _ in 0..<50_000 {
                let text = Self.text(alphabet, maxLength: 8, using: &generator)
                if let seconds = DurationText.seconds(text) {
                    durations += 1
                    _ = DurationText.describe(seconds)
                }
                if let size = try? ByteSize(parsing: text, field: "memory") {
                    sizes += 1
                    _ = ByteSize.format(size.bytes)
                }
            }
            #expect(durations > 100 && sizes > 100, "durations \(durations), sizes \(sizes)")
        }
    }

    @Test(.timeLimit(.minutes(5))) func runConfigYAML() async throws {
        try await offThePool(lowestPriority: false) {
            var generator = SeededGenerator(seed: 3)
            let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Examples/ecs").standardized.path
            let example = try String(contentsOfFile: folder + "/ecs.yaml", encoding: .utf8)
            let pieces = ["\n", " ", ":", "-", "[", "]", "{", "}", "&a", "*a", "!!binary", "'", "\"", "#", "1e308", "-1", "null", "~", "é", "\t", "|", ">"]
            var bytes = Array(example.utf8)
            var accepted = 0
            for round in 0..<10_000 {
                if round % 50 == 0 { bytes = Array(example.utf8) }
                switch Int.random(in: 0..<3, using: &generator) {
                case 0 where !bytes.isEmpty: bytes.remove(at: Int.random(in: 0..<bytes.count, using: &generator))
                case 1: bytes.insert(contentsOf: Array(pieces.randomElement(using: &generator)!.utf8), at: Int.random(in: 0...bytes.count, using: &generator))
                default: if !bytes.isEmpty { bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0x20...0x7E, using: &generator) }
                }
                guard let text = String(bytes: bytes, encoding: .utf8), let document = try? RunConfigFile.parse(text) else { continue }
                if (try? ECSRunConfig(document["ecs"], baseDirectory: folder)) != nil { accepted += 1 }
            }
            #expect(accepted > 0, "some mutations still make a valid config: \(accepted)")
            // Hostile shapes: deep nesting and alias expansion ("billion laughs").
            let deep = String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
            #expect(throws: (any Error).self) { _ = try ECSRunConfig(try RunConfigFile.parse("ecs: " + deep)) }
            let laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + (1...12).map { "\(Character(UnicodeScalar(97 + $0)!)): &\(Character(UnicodeScalar(97 + $0)!)) [" + String(repeating: "*\(Character(UnicodeScalar(96 + $0)!)), ", count: 9) + "*\(Character(UnicodeScalar(96 + $0)!))]" }.joined(separator: "\n")
            #expect(throws: (any Error).self) { _ = try RunConfigFile.parse(laughs) }
        }
    }

    // A drawn `wait=` long-polls the log of a run that never changes, up to the coordinator's longest wait:
    // with the default 60 s, one `wait=99` outlasted the client's 30 s limit on a loaded CI machine.
    // The longest wait here is 1 s, so the answers still come from the waiting path, and quickly.
    @Test(.timeLimit(.minutes(8))) func queryStringsAgainstARealServer() async throws {
        var generator = SeededGenerator(seed: 5)
        let pieces = Self.numbers + ["limit", "offset", "after", "wait", "active", "flow", "state", "agent", "=", "&", "%", "%zz", "%00", "%ff", "true", "null", "Running", "[]", ";", "+"]
        try await withCoordinator(configure: { $0.coordinator.maxWait = .seconds(1) }) { coordinator, client in
            _ = try await client.registerFlows(RegisterFlowsRequest(
                bundleSHA256: String(repeating: "ab", count: 32), storageURL: "file:///nowhere", flows: [FlowDescription(name: "q", parameters: [])]))
            let run = try await client.createRun(CreateFlowRunRequest(flow: "q"))
            var statuses: [Int: Int] = [:]
            for index in 0..<2_000 {
                let names = ["limit", "offset", "after", "wait", "active", "flow", "state", "agent", "x"]
                let query = index % 3 == 0
                    ? Self.text(pieces, maxLength: 10, using: &generator)
                    : (0..<Int.random(in: 1...3, using: &generator)).map { _ in
                        names.randomElement(using: &generator)! + "=" + Self.text(Self.numbers + ["true", "null", "%zz", "%ff"], maxLength: 3, using: &generator)
                    }.joined(separator: "&")
                let path = index % 2 == 0 ? "/api/v1/flow-runs" : "/api/v1/flow-runs/\(run.id)/logs"
                // The answer's status is the point, not its speed: a loaded machine gets two minutes.
                let answer = try await RawHTTP.send(.GET, coordinator.url + path + "?" + query, timeout: .minutes(2))
                statuses[answer.status, default: 0] += 1
                #expect(answer.status < 500, "\(path)?\(query): \(answer.status) \(answer.body.prefix(200))")
            }
            #expect(statuses[200, default: 0] > 100 && statuses[400, default: 0] > 100, "both kinds happen: \(statuses)")
            #expect(try await client.run(run.id).id == run.id, "the server still answers, its data intact")
        }
    }

    @Test(.timeLimit(.minutes(5))) func bzip2DecoderOnDamagedStreams() async throws {
        var generator = SeededGenerator(seed: 4)
        let directory = TemporaryDirectory("fuzz-bzip2")
        let plain = directory.file("plain.txt")
        try Data((0..<300_000).map { _ in UInt8.random(in: 0x61...0x7A, using: &generator) }).write(to: URL(fileURLWithPath: plain))
        let compressed = try await runCommand("/bin/sh", ["-c", "bzip2 -c -1 '\(plain)' > '\(directory.file("good.bz2"))'"])
        #expect(compressed.exit.exitCode == 0)
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory.file("good.bz2"))))
        var decoded = 0, refused = 0
        for round in 0..<300 {
            var damaged = good
            switch round % 3 {
            case 0: for _ in 0..<Int.random(in: 1...8, using: &generator) { damaged[Int.random(in: 0..<damaged.count, using: &generator)] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator)) }
            case 1: damaged = Array(damaged.prefix(Int.random(in: 0..<damaged.count, using: &generator)))
            default: damaged.insert(contentsOf: (0..<Int.random(in: 1...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }, at: Int.random(in: 0...damaged.count, using: &generator))
            }
            let path = directory.file("damaged.bz2")
            try Data(damaged).write(to: URL(fileURLWithPath: path))
            do {
                _ = try await offThePool(lowestPriority: false) { try ParallelBZip2.decompress(input: try FileHandleFD.reading(path), output: nil, name: path, parallelism: 2) }
                decoded += 1
            } catch {
                refused += 1
            }
        }
        #expect(refused > 200, "damaged streams are refused with an error: \(refused) of 300 (\(decoded) decoded)")
    }
}
