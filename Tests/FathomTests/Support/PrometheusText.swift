import Foundation

/// A strict reader of the Prometheus text exposition format (version 0.0.4), for checking `/metrics`.
struct PrometheusText {
    struct Sample: Hashable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    private(set) var types: [String: String] = [:]
    private(set) var samples: [Sample] = []

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    static let samplePattern = try! NSRegularExpression(
        pattern: #"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? ([^ ]+)(?: -?[0-9]+)?$"#)
    static let labelPattern = try! NSRegularExpression(pattern: #"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)""#)

    init(_ text: String) throws {
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let line = String(line)
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                    throw Malformed(description: "line \(number + 1): bad TYPE line '\(line)'")
                }
                guard types[String(parts[2])] == nil else { throw Malformed(description: "line \(number + 1): second TYPE for \(parts[2])") }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            let range = NSRange(line.startIndex..., in: line)
            guard let match = Self.samplePattern.firstMatch(in: line, range: range),
                  let name = Range(match.range(at: 1), in: line).map({ String(line[$0]) }),
                  let valueText = Range(match.range(at: 3), in: line).map({ String(line[$0]) })
            else { throw Malformed(description: "line \(number + 1): not a sample: '\(line)'") }
            guard let value = Double(valueText.replacingOccurrences(of: "+Inf", with: "inf")) else {
                throw Malformed(description: "line \(number + 1): value '\(valueText)' is not a number")
            }
            var labels: [String: String] = [:]
            if let labelRange = Range(match.range(at: 2), in: line) {
                let text = String(line[labelRange])
                for labelMatch in Self.labelPattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    labels[String(text[Range(labelMatch.range(at: 1), in: text)!])] = String(text[Range(labelMatch.range(at: 2), in: text)!])
                }
            }
            let family = Self.family(of: name, types: types)
            guard types[family] != nil else { throw Malformed(description: "line \(number + 1): \(name) has no TYPE line before it") }
            samples.append(Sample(name: name, labels: labels, value: value))
        }
        try checkHistograms()
    }

    static func family(of name: String, types: [String: String]) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return name
    }

    /// Buckets rise with `le`, and the `+Inf` bucket equals `_count`.
    func checkHistograms() throws {
        for (family, type) in types where type == "histogram" {
            let buckets = samples.filter { $0.name == family + "_bucket" }
            let series = Set(buckets.map { $0.labels.filter { $0.key != "le" } })
            for labels in series {
                let ordered = buckets.filter { $0.labels.filter { $0.key != "le" } == labels }
                    .sorted { (Double($0.labels["le"]!.replacingOccurrences(of: "+Inf", with: "inf")) ?? 0) < (Double($1.labels["le"]!.replacingOccurrences(of: "+Inf", with: "inf")) ?? 0) }
                guard zip(ordered, ordered.dropFirst()).allSatisfy({ $0.value <= $1.value }) else {
                    throw Malformed(description: "\(family)\(labels): buckets are not cumulative")
                }
                let count = samples.first { $0.name == family + "_count" && $0.labels == labels }?.value
                guard ordered.last?.labels["le"] == "+Inf", ordered.last?.value == count else {
                    throw Malformed(description: "\(family)\(labels): +Inf bucket differs from _count")
                }
            }
        }
    }

    /// The sum of every sample named `name` whose labels include `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
            .reduce(0) { $0 + $1.value }
    }
}
