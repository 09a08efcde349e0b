#if canImport(Glibc)
import Glibc
#endif

/// Compares lines exactly as `LC_ALL=C sort` does with the same options, and summarises each line's first key
/// in 64 bits (``prefix(_:_:)``) so that most comparisons are one integer compare.
///
/// The summary is order-preserving: `prefix(a) < prefix(b)` implies `a` sorts before `b`, and lines whose first
/// keys are equal have equal prefixes. Ties fall through to ``compare(_:_:_:_:)``.
struct LineComparator: Sendable {
    let keys: [SortKey]
    /// The `-t` byte, or -1 for blank-separated fields.
    let separator: Int
    /// Whether equal keys are ordered by the whole line (not with `-s` or `-u`, unless there are no keys).
    let lastResort: Bool
    let reverseLastResort: Bool
    /// The prefix is taken from the first key (or the whole line), stored complemented when that key is reversed.
    let prefixKey: SortKey?
    let prefixReversed: Bool
    /// The byte that ends a line: newline, or NUL with `-z`.
    let lineEnd: UInt8

    init(order: SortOptions) {
        keys = order.effectiveKeys
        separator = order.separator.map(Int.init) ?? -1
        lastResort = keys.isEmpty || !(order.stable || order.unique)
        reverseLastResort = order.reverse
        prefixKey = keys.first
        prefixReversed = keys.first?.reverse ?? order.reverse
        lineEnd = order.lineEnd
    }

    // MARK: Fields

    /// GNU sort's blanks: space, tab, and newline (which only a `-z` line can hold).
    @inline(__always)
    static func isBlank(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A
    }

    /// GNU sort's `begfield`: where the key starts in the line.
    @inline(__always)
    func keyStart(_ line: UnsafePointer<UInt8>, _ count: Int, _ key: SortKey) -> Int {
        var position = 0
        var fields = key.startField
        if separator >= 0 {
            let tab = UInt8(separator)
            while position < count, fields > 0 {
                fields -= 1
                while position < count, line[position] != tab { position += 1 }
                if position < count { position += 1 }
            }
        } else {
            while position < count, fields > 0 {
                fields -= 1
                while position < count, Self.isBlank(line[position]) { position += 1 }
                while position < count, !Self.isBlank(line[position]) { position += 1 }
            }
        }
        if key.skipStartBlanks {
            while position < count, Self.isBlank(line[position]) { position += 1 }
        }
        return min(count, position + key.startChar)
    }

    /// GNU sort's `limfield`: where the key ends.
    @inline(__always)
    func keyEnd(_ line: UnsafePointer<UInt8>, _ count: Int, _ key: SortKey) -> Int {
        guard let endField = key.endField else { return count }
        var position = 0
        var fields = key.endChar == 0 ? endField + 1 : endField
        if separator >= 0 {
            let tab = UInt8(separator)
            while position < count, fields > 0 {
                fields -= 1
                while position < count, line[position] != tab { position += 1 }
                if position < count, fields > 0 || key.endChar != 0 { position += 1 }
            }
        } else {
            while position < count, fields > 0 {
                fields -= 1
                while position < count, Self.isBlank(line[position]) { position += 1 }
                while position < count, !Self.isBlank(line[position]) { position += 1 }
            }
        }
        if key.endChar != 0 {
            if key.skipEndBlanks {
                while position < count, Self.isBlank(line[position]) { position += 1 }
            }
            position = min(count, position + key.endChar)
        }
        return position
    }

    @inline(__always)
    func keyRange(_ line: UnsafePointer<UInt8>, _ count: Int, _ key: SortKey) -> (start: Int, end: Int) {
        let start = keyStart(line, count, key)
        return (start, max(start, keyEnd(line, count, key)))
    }

    // MARK: Comparison

    @inline(__always)
    static func compareBytes(_ a: UnsafePointer<UInt8>, _ aCount: Int, _ b: UnsafePointer<UInt8>, _ bCount: Int) -> Int {
        let common = min(aCount, bCount)
        if common > 0 {
            let diff = memcmp(a, b, common)
            if diff != 0 { return Int(diff) }
        }
        return aCount < bCount ? -1 : (aCount > bCount ? 1 : 0)
    }

    /// Negative, zero or positive as `a` sorts before, with, or after `b` (without the input-order tie-break).
    func compare(_ a: UnsafePointer<UInt8>, _ aCount: Int, _ b: UnsafePointer<UInt8>, _ bCount: Int) -> Int {
        for key in keys {
            let (aStart, aEnd) = keyRange(a, aCount, key)
            let (bStart, bEnd) = keyRange(b, bCount, key)
            let diff = Self.compareKey(key, a + aStart, aEnd - aStart, b + bStart, bEnd - bStart)
            if diff != 0 { return key.reverse ? -diff : diff }
        }
        guard lastResort else { return 0 }
        let diff = Self.compareBytes(a, aCount, b, bCount)
        return reverseLastResort ? -diff : diff
    }

    /// Two keys' texts compared as `key` orders them. With `-f` and an ordering mode, GNU sort folds copies of both
    /// keys first (`-Vf` compares `A1` and `a1` as equal), and so does this.
    @inline(__always)
    static func compareKey(_ key: SortKey, _ a: UnsafePointer<UInt8>, _ aCount: Int, _ b: UnsafePointer<UInt8>, _ bCount: Int) -> Int {
        if key.foldCase && key.mode != .bytes {
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: aCount + bCount) { buffer in
                let base = buffer.baseAddress!
                for index in 0..<aCount { base[index] = TextKey.upper(a[index]) }
                for index in 0..<bCount { base[aCount + index] = TextKey.upper(b[index]) }
                return compareMode(key.mode, UnsafePointer(base), aCount, UnsafePointer(base + aCount), bCount)
            }
        }
        return compareMode(key.mode, a, aCount, b, bCount, fold: key.foldCase, ignore: key.ignore, bytes: key.comparesBytes)
    }

    @inline(__always)
    static func compareMode(
        _ mode: SortMode, _ a: UnsafePointer<UInt8>, _ aCount: Int, _ b: UnsafePointer<UInt8>, _ bCount: Int,
        fold: Bool = false, ignore: IgnoredBytes = .none, bytes: Bool = false
    ) -> Int {
        switch mode {
        case .bytes:
            return bytes ? compareBytes(a, aCount, b, bCount) : TextKey.compare(a, aCount, b, bCount, fold: fold, ignore: ignore)
        case .numeric: return NumericKey.compare(a, aCount, b, bCount)
        case .generalNumeric: return GeneralNumericKey.compare(a, aCount, b, bCount)
        case .humanNumeric: return HumanNumericKey.compare(a, aCount, b, bCount)
        case .month: return MonthKey.compare(a, aCount, b, bCount)
        case .version: return VersionKey.compare(a, aCount, b, bCount)
        }
    }

    /// The 64-bit order-preserving summary of the line's first key (see the type's documentation).
    @inline(__always)
    func prefix(_ line: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
        var value: UInt64
        if let key = prefixKey {
            let (start, end) = keyRange(line, count, key)
            if key.comparesBytes {
                value = Self.bytePrefix(line + start, end - start)
            } else if key.mode == .numeric {
                value = NumericKey.prefix(line + start, end - start)
            } else {
                value = 0  // one summary for every line: the comparison decides (order-preserving trivially)
            }
        } else {
            value = Self.bytePrefix(line, count)
        }
        return prefixReversed ? ~value : value
    }

    /// The first eight bytes, big-endian, zero-padded.
    @inline(__always)
    static func bytePrefix(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
        if count >= 8 {
            return UInt64(bigEndian: UnsafeRawPointer(bytes).loadUnaligned(as: UInt64.self))
        }
        var value: UInt64 = 0
        for index in 0..<count { value |= UInt64(bytes[index]) << (56 - 8 * UInt64(index)) }
        return value
    }
}

/// GNU sort's `-n` in the C locale: leading blanks, an optional `-`, digits, an optional `.` and digits; no `+`,
/// no exponent. Anything else ends the number; no digits at all is zero.
///
/// One quirk is kept on purpose: the C locale has no thousands separator, and GNU sort then uses byte 0x80 in its
/// place, so 0x80 bytes among leading zeros and after an integer digit are skipped (`1\x802` is 12).
enum NumericKey {
    static let thousandsSeparator: UInt8 = 0x80

    struct Parsed {
        var negative: Bool
        /// Integer digits without leading zeros (0x80 bytes may sit among them), and fraction digits without
        /// trailing zeros, as offsets.
        var integerStart: Int
        var integerEnd: Int
        var integerDigits: Int
        var fractionStart: Int
        var fractionEnd: Int

        var isZero: Bool { integerDigits == 0 && fractionStart == fractionEnd }
        /// Whether 0x80 bytes sit among the integer digits.
        var hasSeparators: Bool { integerEnd - integerStart != integerDigits }
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte &- 0x30 < 10
    }

    @inline(__always)
    static func parse(_ text: UnsafePointer<UInt8>, _ count: Int) -> Parsed {
        var index = 0
        while index < count, LineComparator.isBlank(text[index]) { index += 1 }
        var negative = false
        if index < count, text[index] == 0x2D {
            negative = true
            index += 1
        }
        while index < count, text[index] == 0x30 || text[index] == thousandsSeparator { index += 1 }
        let integerStart = index
        var digits = 0
        while index < count, isDigit(text[index]) {
            digits += 1
            index += 1
            while index < count, text[index] == thousandsSeparator { index += 1 }
        }
        let integerEnd = index
        var fractionStart = index
        var fractionEnd = index
        if index < count, text[index] == 0x2E {
            index += 1
            fractionStart = index
            while index < count, isDigit(text[index]) { index += 1 }
            fractionEnd = index
            while fractionEnd > fractionStart, text[fractionEnd - 1] == 0x30 { fractionEnd -= 1 }
        }
        var parsed = Parsed(
            negative: negative, integerStart: integerStart, integerEnd: integerEnd, integerDigits: digits,
            fractionStart: fractionStart, fractionEnd: fractionEnd)
        if parsed.isZero { parsed.negative = false }
        return parsed
    }

    static func compare(_ a: UnsafePointer<UInt8>, _ aCount: Int, _ b: UnsafePointer<UInt8>, _ bCount: Int) -> Int {
        let x = parse(a, aCount)
        let y = parse(b, bCount)
        if x.negative != y.negative { return x.negative ? -1 : 1 }
        let magnitude = compareMagnitude(a, x, b, y)
        return x.negative ? -magnitude : magnitude
    }

    private static func compareMagnitude(_ a: UnsafePointer<UInt8>, _ x: Parsed, _ b: UnsafePointer<UInt8>, _ y: Parsed) -> Int {
        if x.integerDigits != y.integerDigits { return x.integerDigits < y.integerDigits ? -1 : 1 }
        if x.hasSeparators || y.hasSeparators {
            var i = x.integerStart
            var j = y.integerStart
            while true {
                while i < x.integerEnd, a[i] == thousandsSeparator { i += 1 }
                while j < y.integerEnd, b[j] == thousandsSeparator { j += 1 }
                guard i < x.integerEnd, j < y.integerEnd else { break }
                if a[i] != b[j] { return a[i] < b[j] ? -1 : 1 }
                i += 1
                j += 1
            }
        } else if x.integerDigits > 0 {
            let diff = memcmp(a + x.integerStart, b + y.integerStart, x.integerDigits)
            if diff != 0 { return diff < 0 ? -1 : 1 }
        }
        return LineComparator.compareBytes(
            a + x.fractionStart, x.fractionEnd - x.fractionStart, b + y.fractionStart, y.fractionEnd - y.fractionStart)
    }

    /// Sign and integer length in the top byte, then the first 14 significant digits as nibbles; complemented for
    /// negatives. Numbers with 127 or more integer digits share one prefix per sign, and are ordered by ``compare``.
    @inline(__always)
    static func prefix(_ text: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
        let parsed = parse(text, count)
        let integerLength = parsed.integerDigits
        let mask: UInt64 = (1 << 56) - 1
        if integerLength >= 0x7F {
            return parsed.negative ? 0 : UInt64(0xFF) << 56
        }
        var digits: UInt64 = 0
        var taken = 0
        var index = parsed.integerStart
        while taken < 14, index < parsed.integerEnd {
            if text[index] != thousandsSeparator {
                digits = digits << 4 | UInt64(text[index] &- 0x30)
                taken += 1
            }
            index += 1
        }
        index = parsed.fractionStart
        while taken < 14, index < parsed.fractionEnd {
            digits = digits << 4 | UInt64(text[index] &- 0x30)
            taken += 1
            index += 1
        }
        digits <<= UInt64(4 * (14 - taken))
        if parsed.negative {
            return UInt64(0x7F - integerLength) << 56 | (~digits & mask)
        }
        return UInt64(0x80 + integerLength) << 56 | digits
    }
}
