import Foundation

/// The one check of an email address Fathom makes: something@domain, printable ASCII or UTF-8 without spaces,
/// angle brackets or line breaks (so it can go in a header and an SMTP command unchanged).
public enum EmailAddress {
    public static let maxLength = 254

    public static func isValid(_ address: String) -> Bool {
        guard (3...maxLength).contains(address.utf8.count), let at = address.lastIndex(of: "@") else { return false }
        let local = address[..<at], domain = address[address.index(after: at)...]
        guard !local.isEmpty, domain.contains("."), !domain.hasPrefix("."), !domain.hasSuffix(".") else { return false }
        return address.unicodeScalars.allSatisfy { $0.value > 32 && $0.value != 127 && !"<>()[]\\,;:\"".unicodeScalars.contains($0) }
    }
}
