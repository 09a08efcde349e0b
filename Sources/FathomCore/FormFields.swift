import Foundation

/// The fields of an `application/x-www-form-urlencoded` text, read without Foundation's URL
/// types (whose setters trap on input they dislike).
public enum FormFields {
    /// Why a form could not be read.
    public struct Malformed: Error, Equatable {
        public var problem: String
    }

    /// The fields; when a name repeats (a checkbox after its hidden default), the last value wins.
    /// `+` is a space; a `%` must start two hex digits; the decoded bytes must be UTF-8.
    public static func parse(_ bytes: [UInt8]) throws(Malformed) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: UInt8(ascii: "="))
            let name = try decode(pair[pair.startIndex..<(equals ?? pair.endIndex)])
            var value = ""
            if let equals { value = try decode(pair[pair.index(after: equals)...]) }
            fields[name] = value
        }
        return fields
    }

    /// The form's fields from text (tests and callers that hold a String).
    public static func parse(_ text: String) throws(Malformed) -> [String: String] {
        try parse(Array(text.utf8))
    }

    static func decode(_ bytes: ArraySlice<UInt8>) throws(Malformed) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex,
                      let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
                else { throw Malformed(problem: "'%' at byte \(index) is not followed by two hex digits") }
                out.append(high << 4 | low)
                index += 2
            } else {
                out.append(byte)
            }
            index += 1
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw Malformed(problem: "a field is not valid UTF-8") }
        return text
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
