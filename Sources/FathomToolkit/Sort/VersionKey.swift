/// `-V`, as GNU's `filenvercmp` (gnulib filevercmp.c) compares two keys: empty first; names starting with `.`
/// before others (`.` then `..` first); then runs of non-digits (letters before other bytes, `~` before all, the
/// end before anything but `~`) and numbers by value, first without the file suffixes (`.tar.gz`-like:
/// `(\.[A-Za-z~][A-Za-z0-9~]*)*$`), and with them only when that is a tie.
enum VersionKey {
    static func compare(_ a: UnsafePointer<UInt8>, _ aCount: Int, _ b: UnsafePointer<UInt8>, _ bCount: Int) -> Int {
        if aCount == 0 { return bCount == 0 ? 0 : -1 }
        if bCount == 0 { return 1 }
        let dot = UInt8(ascii: ".")
        if a[0] == dot {
            if b[0] != dot { return -1 }
            let aDot = aCount == 1, bDot = bCount == 1
            if aDot { return bDot ? 0 : -1 }
            if bDot { return 1 }
            let aDotDot = a[1] == dot && aCount == 2, bDotDot = b[1] == dot && bCount == 2
            if aDotDot { return bDotDot ? 0 : -1 }
            if bDotDot { return 1 }
        } else if b[0] == dot {
            return 1
        }
        let aPrefix = prefixLength(a, aCount), bPrefix = prefixLength(b, bCount)
        let result = compareVersions(a, aPrefix, b, bPrefix)
        if result != 0 || (aPrefix == aCount && bPrefix == bCount) { return result }
        return compareVersions(a, aCount, b, bCount)
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { (byte &- 0x30) < 10 }
    @inline(__always)
    static func isAlpha(_ byte: UInt8) -> Bool { ((byte | 0x20) &- 0x61) < 26 }

    /// The length before the file suffix: where the longest run of `.` + letter-or-`~` + letters, digits, `~`
    /// that reaches the end starts (the key's length when none does). Measured against GNU sort 9.1, where a
    /// leading `.` may start the suffix too (`.B` is all suffix, `.A-` none).
    static func prefixLength(_ s: UnsafePointer<UInt8>, _ n: Int) -> Int {
        var i = 0
        while i < n {
            var j = i
            while j + 1 < n, s[j] == UInt8(ascii: "."), isAlpha(s[j + 1]) || s[j + 1] == UInt8(ascii: "~") {
                j += 2
                while j < n, isAlpha(s[j]) || isDigit(s[j]) || s[j] == UInt8(ascii: "~") { j += 1 }
            }
            if j == n { return i }
            i = j > i ? j : i + 1
        }
        return n
    }

    /// gnulib's `order`: the weight of the byte at `position` among non-digits.
    @inline(__always)
    static func order(_ s: UnsafePointer<UInt8>, _ position: Int, _ count: Int) -> Int {
        if position == count { return -1 }
        let c = s[position]
        if isDigit(c) { return 0 }
        if isAlpha(c) { return Int(c) }
        if c == UInt8(ascii: "~") { return -2 }
        return Int(c) + 256
    }

    /// gnulib's `verrevcmp`.
    static func compareVersions(_ a: UnsafePointer<UInt8>, _ aCount: Int, _ b: UnsafePointer<UInt8>, _ bCount: Int) -> Int {
        var i = 0, j = 0
        while i < aCount || j < bCount {
            var firstDiff = 0
            while (i < aCount && !isDigit(a[i])) || (j < bCount && !isDigit(b[j])) {
                let x = order(a, i, aCount), y = order(b, j, bCount)
                if x != y { return x - y }
                i += 1
                j += 1
            }
            while i < aCount, a[i] == UInt8(ascii: "0") { i += 1 }
            while j < bCount, b[j] == UInt8(ascii: "0") { j += 1 }
            while i < aCount, j < bCount, isDigit(a[i]), isDigit(b[j]) {
                if firstDiff == 0 { firstDiff = Int(a[i]) - Int(b[j]) }
                i += 1
                j += 1
            }
            if i < aCount, isDigit(a[i]) { return 1 }
            if j < bCount, isDigit(b[j]) { return -1 }
            if firstDiff != 0 { return firstDiff }
        }
        return 0
    }
}
