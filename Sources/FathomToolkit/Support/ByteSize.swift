import FathomCore

#if canImport(Glibc)
import Glibc
#endif

/// A size in bytes written the way GNU sort's `-S` takes it: `64M`, `1.5G`, `512K`, `1048576`, or `25%` of RAM.
public struct ByteSize: Sendable, Hashable, CustomStringConvertible {
    public var bytes: Int

    public init(bytes: Int) {
        self.bytes = bytes
    }

    /// Parses `N`, `N[KMGT]` (powers of 1024, `B` for bytes), an optional `iB` tail, or `N%` of physical memory.
    /// - Parameter field: the option's name, for the error message.
    public init(parsing text: String, field: String) throws {
        let trimmed = text.trimmingWhitespace()
        let fix = "write a number with an optional K, M, G or T suffix (powers of 1024), or a percentage of RAM: 64M, 2G, 25%"
        guard !trimmed.isEmpty else { throw ToolkitError.invalidOption(field, "is empty", fix) }
        var number = Substring(trimmed)
        var multiplier = 1.0
        if number.hasSuffix("%") {
            number = number.dropLast()
            multiplier = Double(ByteSize.physicalMemory.bytes) / 100
        } else {
            let upper = number.uppercased()
            var suffix = upper.drop(while: { $0.isNumber || $0 == "." })
            if suffix.hasSuffix("IB") { suffix = suffix.dropLast(2) } else if suffix.count == 2, suffix.hasSuffix("B") { suffix = suffix.dropLast() }
            let scale: [Substring: Double] = ["": 1024, "B": 1, "K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
            guard let factor = scale[suffix] else {
                throw ToolkitError.invalidOption(field, "'\(text)' has an unknown unit '\(suffix)'", fix)
            }
            // A bare number means KiB, as GNU sort's -S does.
            multiplier = factor
            number = number.prefix(while: { $0.isNumber || $0 == "." })
        }
        guard let value = Double(number), value >= 0, value.isFinite else {
            throw ToolkitError.invalidOption(field, "'\(text)' is not a size", fix)
        }
        let total = value * multiplier
        guard total < Double(Int.max) else { throw ToolkitError.invalidOption(field, "'\(text)' is too large", fix) }
        self.bytes = Int(total)
    }

    public var description: String {
        ByteSize.format(bytes)
    }

    /// `1.5 GiB`, `300 MiB`, `12 KiB`, `17 B`.
    public static func format(_ bytes: Int) -> String {
        ByteCountText.describe(Int64(bytes))
    }

    /// Physical memory of this machine (or the cgroup limit, when one is lower).
    public static var physicalMemory: ByteSize {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        var total = pages > 0 && pageSize > 0 ? pages * pageSize : 1 << 30
        if let limit = cgroupMemoryLimit(), limit < total { total = limit }
        return ByteSize(bytes: total)
    }

    private static func cgroupMemoryLimit() -> Int? {
        guard let text = try? readSmallFile("/sys/fs/cgroup/memory.max") else { return nil }  // no cgroup limit (not in a container): physical memory decides
        return Int(text.trimmingWhitespace())
    }
}

/// Reads a small text file (procfs, sysfs) whole.
func readSmallFile(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ToolkitError.io("open", path, errno) }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        bytes += buffer[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars.drop(while: { $0 == " " || $0 == "\t" || $0 == "\n" })
        var text = String(String.UnicodeScalarView(scalars))
        while let last = text.last, last == " " || last == "\t" || last == "\n" { text.removeLast() }
        return text
    }
}
