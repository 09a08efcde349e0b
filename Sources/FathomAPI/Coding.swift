import Foundation

/// The JSON coders every Fathom API peer uses: ISO 8601 dates with milliseconds, sorted keys.
public enum APICoding {
    private static let dateStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// A new encoder with Fathom's settings.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(dateStyle))
        }
        return encoder
    }

    /// A new decoder with Fathom's settings. It accepts every RFC 3339 date-time (``RFC3339``), and the
    /// ISO 8601 dates of years past 9999 that Fathom writes.
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = RFC3339.parse(text) { return date }
            // Years past 9999, which Fathom itself writes for far-off stored values (e.g. a schedule's clamped anchor).
            if let year = text.split(separator: "-", maxSplits: 1).first, year.count > 4, year.allSatisfy(\.isASCII) {
                if let date = try? dateStyle.parse(text) { return date }  // one of two accepted forms; the error below names the value
                if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }  // one of two accepted forms; the error below names the value
            }
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected an RFC 3339 date-time such as 2026-11-30T17:45:12.000Z, got '\(text.prefix(64))'")
        }
        return decoder
    }

    /// Encodes a value with Fathom's settings.
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        try makeEncoder().encode(value)
    }

    /// Decodes a value with Fathom's settings.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try makeDecoder().decode(type, from: data)
    }
}
