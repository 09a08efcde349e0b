import FathomCore
import Foundation

/// Tags on a run (`nightly`, `team:data`, `critical`): given when it is made, kept by its retries, matched by
/// alert rules.
public enum RunTags {
    public static let maxCount = 20, maxLength = 64

    /// Checks `tags` (each 1-64 letters, digits, `.`, `_`, `-`, `:`, `/`; at most 20) and returns them sorted, each once.
    public static func checked(_ tags: [String]?, field: String) throws(ValidationError) -> [String] {
        let tags = tags ?? []
        guard tags.count <= maxCount else {
            throw ValidationError(
                code: "too_many_tags", field: field, problem: "\(tags.count) tags, more than \(maxCount)", fix: "Give at most \(maxCount) tags.")
        }
        for tag in tags where !isValid(tag) {
            throw ValidationError(
                code: "invalid_tag", field: field, problem: "'\(tag.prefix(64))' is not a tag (1-\(maxLength) letters, digits, '.', '_', '-', ':', '/')",
                fix: "Use tags such as nightly, team:data or critical.")
        }
        return Array(Set(tags)).sorted()
    }

    public static func isValid(_ tag: String) -> Bool {
        (1...maxLength).contains(tag.utf8.count)
            && tag.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-:/".unicodeScalars.contains($0)) }
    }
}
