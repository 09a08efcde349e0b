import FathomCore
import Foundation
import Testing

/// Rules about the shipped code itself that a compiler does not check.
@Suite struct SourceAuditTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every `.swift` file under `Sources/` and `Examples/`, with its lines.
    static func shippedSources() throws -> [(path: String, lines: [Substring])] {
        var files: [(String, [Substring])] = []
        for folder in ["Sources", "Examples"] {
            let base = root.appendingPathComponent(folder)
            guard let walker = FileManager.default.enumerator(atPath: base.path) else { continue }
            for case let relative as String in walker where relative.hasSuffix(".swift") {
                let text = try String(contentsOf: base.appendingPathComponent(relative), encoding: .utf8)
                files.append(("\(folder)/\(relative)", text.split(separator: "\n", omittingEmptySubsequences: false)))
            }
        }
        return files
    }

    /// A `try?` throws an error away: each one in shipped code says on its line (or the line above) why
    /// nothing is lost, except a pause (`try? await Task.sleep`, cancelled on purpose) and a `defer` cleanup.
    @Test func everyTryQuestionMarkInShippedCodeSaysWhyNothingIsLost() throws {
        let files = try Self.shippedSources()
        #expect(files.count > 100, "the sources were found")
        var unexplained: [String] = []
        var explained = 0
        for (path, lines) in files {
            for (index, line) in lines.enumerated() {
                guard let range = line.range(of: #"\btry\?"#, options: .regularExpression) else { continue }
                if line.contains("try? await Task.sleep") || line.contains("defer { try? ") { continue }
                let above = index > 0 ? lines[index - 1].trimmingCharacters(in: .whitespaces) : ""
                if line[range.upperBound...].contains("//") || (above.hasPrefix("//") && !above.hasPrefix("///")) {
                    explained += 1
                } else {
                    unexplained.append("\(path):\(index + 1): \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
        #expect(explained > 40, "the scan sees the explained ones")
        #expect(unexplained.isEmpty, "say why nothing is lost, or handle the error:\n\(unexplained.joined(separator: "\n"))")
    }

    @Test func aHandSetFathomVolumesThatIsNotAnObjectIsAnErrorNamingTheVariable() throws {
        #expect(try VolumeEnvironment.volumes(from: [:]).isEmpty)
        #expect(try VolumeEnvironment.volumes(from: ["FATHOM_VOLUMES": #"{"scratch": "/mnt/efs"}"#]) == ["scratch": "/mnt/efs"])
        for bad in [#"["scratch"]"#, "scratch=/mnt/efs", #"{"scratch": 1}"#] {
            #expect {
                try VolumeEnvironment.volumes(from: ["FATHOM_VOLUMES": bad])
            } throws: { error in
                let error = try #require(error as? ValidationError)
                return error.field == "FATHOM_VOLUMES" && error.description.contains("not a JSON object")
            }
        }
    }
}
