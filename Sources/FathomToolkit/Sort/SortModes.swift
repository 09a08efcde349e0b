#if canImport(Glibc)
import Glibc
#endif

/// `-f`, `-d`, `-i` on a byte-ordered key, as GNU sort's `compare` does in the C locale: skipped bytes are passed
/// over on both sides, then bytes compare (lowercase as uppercase with `-f`); the side that runs out first sorts
/// first.
enum TextKey {
    /// GNU sort's `nondictionary`: not alphanumeric and not blank.
    @inline(__always)
    static func isNonDictionary(_ byte: UInt8) -> Bool {
        !(isAlphanumeric(byte) || LineComparator.isBlank(byte))
    }

    @inline(__always)
    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte &- 0x30) < 10 || ((byte | 0x20) &- 0x61) < 26
    }

    /// C `isprint`: 0x20–0x7E.
    @inline(__always)
    static func isNonPrinting(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte > 0x7E
    }

    /// C `toupper`.
    @inline(__always)
    static func upper(_ byte: UInt8) -> UInt8 {
        (byte &- 0x61) < 26 ? byte - 0x20 : byte
    }

    static func compare(
        _ a: UnsafePointer<UInt8>, _ aCount: Int, _ b: UnsafePointer<UInt8>, _ bCount: Int, fold: Bool, ignore: IgnoredBytes
    ) -> Int {
        func skipped(_ byte: UInt8) -> Bool {
            switch ignore {
            case .none: return false
            case .nonDictionary: return isNonDictionary(byte)
            case .nonPrinting: return isNonPrinting(byte)
            }
        }
        var i = 0, j = 0
        while true {
            while i < aCount, skipped(a[i]) { i += 1 }
            while j < bCount, skipped(b[j]) { j += 1 }
            guard i < aCount, j < bCount else { return (i < aCount ? 1 : 0) - (j < bCount ? 1 : 0) }
            let x = fold ? upper(a[i]) : a[i], y = fold ? upper(b[j]) : b[j]
            if x != y { return Int(x) - Int(y) }
            i += 1
            j += 1
        }
    }
}

/// `-g`, as GNU sort's `general_numcompare`: each key read by `strtold`; text that is no number sorts first,
/// then NaNs (by their bits), then numbers by value (`-0` equals `0`).
enum GeneralNumericKey {
    #if arch(x86_64) || arch(i386)
    typealias Value = Float80
    /// The bytes that hold the value (a Float80's storage has 6 more bytes of padding).
    static let valueBytes = 10
    static func read(_ text: UnsafePointer<CChar>, _ end: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Value { strtold(text, end) }
    #else
    typealias Value = Double
    static let valueBytes = 8
    static func read(_ text: UnsafePointer<CChar>, _ end: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Value { strtod(text, end) }
    #endif

    /// The key's value, or nil when no number starts it. The key is copied with a NUL after it (strtold reads C
    /// strings), so nothing past the key is read.
    static func value(_ text: UnsafePointer<UInt8>, _ count: Int) -> Value? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer in
            let base = buffer.baseAddress!
            UnsafeMutableRawPointer(base).copyMemory(from: text, byteCount: count)
            base[count] = 0
            var end: UnsafeMutablePointer<CChar>?
            let number = read(base, &end)
            return end == base ? nil : number
        }
    }

    static func compare(_ a: UnsafePointer<UInt8>, _ aCount: Int, _ b: UnsafePointer<UInt8>, _ bCount: Int) -> Int {
        let x = value(a, aCount), y = value(b, bCount)
        guard let x else { return y == nil ? 0 : -1 }
        guard let y else { return 1 }
        if x < y { return -1 }
        if x > y { return 1 }
        if x == y { return 0 }
        if !y.isNaN { return -1 }  // x is NaN
        if !x.isNaN { return 1 }
        return nanOrder(x, y)
    }

    /// NaNs by their bytes, as GNU's `nan_compare` (memcmp of the two values).
    static func nanOrder(_ x: Value, _ y: Value) -> Int {
        withUnsafeBytes(of: x) { xb in
            withUnsafeBytes(of: y) { yb in
                let diff = memcmp(xb.baseAddress!, yb.baseAddress!, valueBytes)
                return diff < 0 ? -1 : (diff > 0 ? 1 : 0)
            }
        }
    }
}

/// `-h`, as GNU sort's `human_numcompare` (coreutils 9.1): the SI suffix's order first (none < K < M < G < T < P
/// < E < Z < Y; `k` is K; 9.1 does not know R and Q yet; a number without a nonzero digit has none; a minus sign turns the order around), then
/// the number as `-n` reads it.
enum HumanNumericKey {
    static func unitOrder(_ byte: UInt8) -> Int {
        switch byte {
        case UInt8(ascii: "K"), UInt8(ascii: "k"): return 1
        case UInt8(ascii: "M"): return 2
        case UInt8(ascii: "G"): return 3
        case UInt8(ascii: "T"): return 4
        case UInt8(ascii: "P"): return 5
        case UInt8(ascii: "E"): return 6
        case UInt8(ascii: "Z"): return 7
        case UInt8(ascii: "Y"): return 8
        default: return 0
        }
    }

    /// GNU's `find_unit_order`: digits (through `.` and the C locale's 0x80 separator) to the suffix.
    static func order(_ text: UnsafePointer<UInt8>, _ count: Int) -> Int {
        var index = 0
        while index < count, LineComparator.isBlank(text[index]) { index += 1 }
        let negative = index < count && text[index] == 0x2D
        if negative { index += 1 }
        var maxDigit: UInt8 = 0
        var byte: UInt8 = 0
        repeat {
            while true {
                byte = index < count ? text[index] : 0
                index += 1
                guard NumericKey.isDigit(byte) else { break }
                maxDigit = max(maxDigit, byte)
            }
        } while byte == 0x2E || byte == NumericKey.thousandsSeparator
        let order = unitOrder(byte)
        return maxDigit > 0x30 ? (negative ? -order : order) : 0
    }

    static func compare(_ a: UnsafePointer<UInt8>, _ aCount: Int, _ b: UnsafePointer<UInt8>, _ bCount: Int) -> Int {
        let diff = order(a, aCount) - order(b, bCount)
        return diff != 0 ? diff : NumericKey.compare(a, aCount, b, bCount)
    }
}

/// `-M`, as GNU sort's `getmonth` in the C locale: after blanks, the key starts with a month's abbreviation in any
/// case (JAN 1 … DEC 12), else it is 0 and sorts first.
enum MonthKey {
    static let names: [(name: [UInt8], month: Int)] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ].enumerated().map { (Array($0.element.utf8), $0.offset + 1) }

    static func month(_ text: UnsafePointer<UInt8>, _ count: Int) -> Int {
        var index = 0
        while index < count, LineComparator.isBlank(text[index]) { index += 1 }
        guard count - index >= 3 else { return 0 }
        let word = (0..<3).map { TextKey.upper(text[index + $0]) }
        return names.first { $0.name == word }?.month ?? 0
    }

    static func compare(_ a: UnsafePointer<UInt8>, _ aCount: Int, _ b: UnsafePointer<UInt8>, _ bCount: Int) -> Int {
        month(a, aCount) - month(b, bCount)
    }
}
