/// One `-k POS1[,POS2]` key, with GNU sort's meaning: fields and characters counted from 1, the end character 0
/// meaning the end of the field, and `b`, `n`, `r` ordering letters after either position.
public struct SortKey: Sendable, Hashable, Codable {
    /// 0-based start field and character within it.
    public var startField: Int
    public var startChar: Int
    /// 0-based end field, and the 1-based end character (0: to the end of the field). nil: to the end of the line.
    public var endField: Int?
    public var endChar: Int
    public var skipStartBlanks = false
    public var skipEndBlanks = false
    public var numeric = false
    public var reverse = false

    /// The whole line, ordered by the global options.
    static func wholeLine(numeric: Bool, skipBlanks: Bool, reverse: Bool) -> SortKey {
        SortKey(
            startField: 0, startChar: 0, endField: nil, endChar: 0, skipStartBlanks: skipBlanks,
            skipEndBlanks: skipBlanks, numeric: numeric, reverse: reverse)
    }

    /// Whether the key named no ordering option of its own (and so takes the global ones, as in GNU sort).
    var hasNoOrdering: Bool {
        !(skipStartBlanks || skipEndBlanks || numeric || reverse)
    }

    /// Parses `F[.C][OPTS][,F[.C][OPTS]]`.
    public init(parsing text: String) throws {
        let field = "-k \(text)"
        let fix = "write -k F[.C][bnr][,F[.C][bnr]] with fields and characters counted from 1, e.g. -k 2,2n or -k 1.3"
        let parts = text.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty else {
            throw ToolkitError.invalidOption(field, "has no start position", fix)
        }
        var start = try SortKey.parsePosition(first, field: field, fix: fix)
        guard start.field > 0 else { throw ToolkitError.invalidOption(field, "field number is zero", fix) }
        guard start.char != 0 else { throw ToolkitError.invalidOption(field, "character offset is zero", fix) }
        startField = start.field - 1
        startChar = (start.char ?? 1) - 1
        endField = nil
        endChar = 0
        try SortKey.apply(start.options, to: &self, atEnd: false, field: field, fix: fix)
        if parts.count == 2 {
            start = try SortKey.parsePosition(parts[1], field: field, fix: fix)
            guard start.field > 0 else { throw ToolkitError.invalidOption(field, "field number is zero", fix) }
            endField = start.field - 1
            endChar = start.char ?? 0
            try SortKey.apply(start.options, to: &self, atEnd: true, field: field, fix: fix)
        }
    }

    init(
        startField: Int, startChar: Int, endField: Int?, endChar: Int, skipStartBlanks: Bool, skipEndBlanks: Bool,
        numeric: Bool, reverse: Bool
    ) {
        self.startField = startField
        self.startChar = startChar
        self.endField = endField
        self.endChar = endChar
        self.skipStartBlanks = skipStartBlanks
        self.skipEndBlanks = skipEndBlanks
        self.numeric = numeric
        self.reverse = reverse
    }

    private static func parsePosition(_ text: Substring, field: String, fix: String) throws -> (
        field: Int, char: Int?, options: Substring
    ) {
        let digits = text.prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, let number = Int(digits) else {
            throw ToolkitError.invalidOption(field, "'\(text)' does not start with a field number", fix)
        }
        var rest = text.dropFirst(digits.count)
        var char: Int?
        if rest.first == "." {
            rest = rest.dropFirst()
            let charDigits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard !charDigits.isEmpty, let value = Int(charDigits) else {
                throw ToolkitError.invalidOption(field, "'\(text)' has no number after '.'", fix)
            }
            char = value
            rest = rest.dropFirst(charDigits.count)
        }
        return (number, char, rest)
    }

    private static func apply(_ options: Substring, to key: inout SortKey, atEnd: Bool, field: String, fix: String) throws {
        for letter in options {
            switch letter {
            case "b": if atEnd { key.skipEndBlanks = true } else { key.skipStartBlanks = true }
            case "n": key.numeric = true
            case "r": key.reverse = true
            default:
                throw ToolkitError.invalidOption(
                    field, "ordering option '\(letter)' is not supported (Fathom sorts in byte order: b, n and r)", fix)
            }
        }
    }
}

/// What to sort by, after GNU sort's rules for combining global options with keys.
public struct SortOptions: Sendable, Hashable, Codable {
    /// The field separator (`-t`); nil: a field is blanks followed by non-blanks.
    public var separator: UInt8?
    public var keys: [SortKey] = []
    public var numeric = false
    public var reverse = false
    public var skipBlanks = false
    public var stable = false
    public var unique = false

    public init(
        separator: UInt8? = nil, keys: [SortKey] = [], numeric: Bool = false, reverse: Bool = false,
        skipBlanks: Bool = false, stable: Bool = false, unique: Bool = false
    ) {
        self.separator = separator
        self.keys = keys
        self.numeric = numeric
        self.reverse = reverse
        self.skipBlanks = skipBlanks
        self.stable = stable
        self.unique = unique
    }

    /// Parses `-t`'s argument: one byte, or `\0` for NUL.
    public static func parseSeparator(_ text: String) throws -> UInt8 {
        if text == "\\0" { return 0 }
        let bytes = Array(text.utf8)
        guard bytes.count == 1 else {
            throw ToolkitError.invalidOption(
                "-t '\(text)'", "the separator must be exactly one byte", "write one character, e.g. -t , or -t '\\t' as a real tab")
        }
        return bytes[0]
    }

    /// The keys compared in order: each key without options of its own takes the global ones; with no key and a
    /// global ordering option, the whole line is the one key.
    var effectiveKeys: [SortKey] {
        if keys.isEmpty {
            return numeric || skipBlanks ? [.wholeLine(numeric: numeric, skipBlanks: skipBlanks, reverse: reverse)] : []
        }
        return keys.map { key in
            guard key.hasNoOrdering else { return key }
            var inherited = key
            inherited.numeric = numeric
            inherited.skipStartBlanks = skipBlanks
            inherited.skipEndBlanks = skipBlanks
            inherited.reverse = reverse
            return inherited
        }
    }
}
