/// How a key's text compares: bytes, or one of GNU sort's orderings in the C locale.
public enum SortMode: String, Sendable, Hashable, Codable {
    /// Byte order (memcmp), as `LC_ALL=C sort`.
    case bytes
    /// `-n`: leading blanks, `-`, digits, `.` and digits.
    case numeric
    /// `-g`: as `strtold` reads it (exponents, `inf`, `nan`); text that is no number first, then NaNs.
    case generalNumeric
    /// `-h`: `-n` with an SI suffix (`2K` < `1M`), as `du -h` prints.
    case humanNumeric
    /// `-M`: `JAN` < … < `DEC` (the C locale's month abbreviations, any case), unknown text first.
    case month
    /// `-V`: natural order of version numbers within text (`file2` < `file10`), as GNU's filevercmp.
    case version
}

/// Bytes a key comparison skips (`-d`, `-i`).
public enum IgnoredBytes: String, Sendable, Hashable, Codable {
    case none
    /// `-d`: all but letters, digits and blanks.
    case nonDictionary
    /// `-i`: all but printable ASCII (0x20–0x7E).
    case nonPrinting
}

/// One `-k POS1[,POS2]` key, with GNU sort's meaning: fields and characters counted from 1, the end character 0
/// meaning the end of the field, and the ordering letters `b d f g h i M n r V` after either position.
public struct SortKey: Sendable, Hashable, Codable {
    /// 0-based start field and character within it.
    public var startField: Int
    public var startChar: Int
    /// 0-based end field, and the 1-based end character (0: to the end of the field). nil: to the end of the line.
    public var endField: Int?
    public var endChar: Int
    public var skipStartBlanks = false
    public var skipEndBlanks = false
    public var mode = SortMode.bytes
    /// `-f`: lowercase compares as uppercase.
    public var foldCase = false
    public var ignore = IgnoredBytes.none
    public var reverse = false

    /// `-n`.
    public var numeric: Bool {
        get { mode == .numeric }
        set { mode = newValue ? .numeric : .bytes }
    }

    /// The whole line, ordered by the global options.
    static func wholeLine(_ global: SortOptions) -> SortKey {
        var key = SortKey(
            startField: 0, startChar: 0, endField: nil, endChar: 0, skipStartBlanks: global.skipBlanks,
            skipEndBlanks: global.skipBlanks, numeric: false, reverse: global.reverse)
        key.mode = global.mode
        key.foldCase = global.foldCase
        key.ignore = global.ignore
        return key
    }

    /// Whether the key named no ordering option of its own (and so takes the global ones, as in GNU sort).
    var hasNoOrdering: Bool {
        !(skipStartBlanks || skipEndBlanks || mode != .bytes || foldCase || ignore != .none || reverse)
    }

    /// Whether its text compares byte for byte (no mode, folding or skipped bytes).
    var comparesBytes: Bool { mode == .bytes && !foldCase && ignore == .none }

    /// GNU sort's rule: one of `-g -h -M -n -V -d -i` per key ("options '-dn' are incompatible").
    func checkCompatible(field: String) throws {
        let letters = [mode == .bytes ? nil : mode.letter, ignore == .nonDictionary ? "d" : nil, ignore == .nonPrinting ? "i" : nil]
            .compactMap { $0 }
        guard letters.count <= 1 else {
            throw ToolkitError.invalidOption(
                field, "options '-\(letters.joined())' are incompatible (GNU sort refuses them too)",
                "keep one of -d, -g, -h, -i, -M, -n, -V per key (-b, -f and -r combine with any)")
        }
    }

    /// Parses `F[.C][OPTS][,F[.C][OPTS]]`.
    public init(parsing text: String) throws {
        let field = "-k \(text)"
        let fix = "write -k F[.C][OPTS][,F[.C][OPTS]] with fields and characters counted from 1 and OPTS from bdfghiMnrV, e.g. -k 2,2n or -k 1.3"
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
        var letters = Set(start.options)
        if parts.count == 2 {
            start = try SortKey.parsePosition(parts[1], field: field, fix: fix)
            guard start.field > 0 else { throw ToolkitError.invalidOption(field, "field number is zero", fix) }
            endField = start.field - 1
            endChar = start.char ?? 0
            try SortKey.apply(start.options, to: &self, atEnd: true, field: field, fix: fix)
            letters.formUnion(start.options)
        }
        let exclusive = letters.intersection(Set("dghiMnV"))
        if exclusive.count > 1 {
            throw ToolkitError.invalidOption(
                field, "options '-\(String(exclusive.sorted()))' are incompatible (GNU sort refuses them too)",
                "keep one of -d, -g, -h, -i, -M, -n, -V per key (-b, -f and -r combine with any)")
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
            case "r": key.reverse = true
            case "f": key.foldCase = true
            case "d": key.ignore = .nonDictionary
            case "i": key.ignore = .nonPrinting
            case "R":
                throw ToolkitError.invalidOption(
                    field, "random order (R) is not supported: Fathom's sort is deterministic", "shuffle with 'shuf', or drop R")
            default:
                guard let mode = SortMode(letter: letter) else {
                    throw ToolkitError.invalidOption(field, "ordering option '\(letter)' is not one of b d f g h i M n r V", fix)
                }
                key.mode = mode
            }
        }
    }
}

/// What to sort by, after GNU sort's rules for combining global options with keys.
public struct SortOptions: Sendable, Hashable, Codable {
    /// The field separator (`-t`); nil: a field is blanks followed by non-blanks.
    public var separator: UInt8?
    public var keys: [SortKey] = []
    /// The global ordering (`-n`, `-g`, `-h`, `-M`, `-V`), `-f`, `-d`/`-i`.
    public var mode = SortMode.bytes
    public var foldCase = false
    public var ignore = IgnoredBytes.none
    public var reverse = false
    public var skipBlanks = false
    public var stable = false
    public var unique = false
    /// `-z`: lines end with a NUL byte instead of a newline.
    public var zeroTerminated = false

    /// `-n`.
    public var numeric: Bool {
        get { mode == .numeric }
        set { mode = newValue ? .numeric : .bytes }
    }

    /// The byte that ends a line: newline, or NUL with `-z`.
    public var lineEnd: UInt8 { zeroTerminated ? 0 : 0x0A }

    public init(
        separator: UInt8? = nil, keys: [SortKey] = [], numeric: Bool = false, reverse: Bool = false,
        skipBlanks: Bool = false, stable: Bool = false, unique: Bool = false
    ) {
        self.separator = separator
        self.keys = keys
        self.mode = numeric ? .numeric : .bytes
        self.reverse = reverse
        self.skipBlanks = skipBlanks
        self.stable = stable
        self.unique = unique
    }

    /// The global options' ordering letters checked as one key's (`sort -dn` is refused as GNU sort does).
    public func checkCompatible() throws {
        var global = SortKey.wholeLine(self)
        global.reverse = false
        try global.checkCompatible(field: "the global options")
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
        let whole = SortKey.wholeLine(self)
        if keys.isEmpty {
            var plain = whole
            plain.reverse = false
            return plain.hasNoOrdering ? [] : [whole]
        }
        return keys.map { key in
            guard key.hasNoOrdering else { return key }
            var inherited = whole
            (inherited.startField, inherited.startChar, inherited.endField, inherited.endChar) = (key.startField, key.startChar, key.endField, key.endChar)
            return inherited
        }
    }
}

extension SortMode {
    /// The mode of an ordering letter (`n`, `g`, `h`, `M`, `V`).
    init?(letter: Character) {
        switch letter {
        case "n": self = .numeric
        case "g": self = .generalNumeric
        case "h": self = .humanNumeric
        case "M": self = .month
        case "V": self = .version
        default: return nil
        }
    }

    /// The letter GNU sort spells it with (nil for bytes).
    public var letter: String? {
        switch self {
        case .bytes: return nil
        case .numeric: return "n"
        case .generalNumeric: return "g"
        case .humanNumeric: return "h"
        case .month: return "M"
        case .version: return "V"
        }
    }
}
