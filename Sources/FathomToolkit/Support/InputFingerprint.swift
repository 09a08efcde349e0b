import FathomCore

#if canImport(Glibc)
import Glibc
#endif

/// What identifies an input file for a checkpoint: its size, its modification time and a hash (XXH64) of its first
/// and last MiB. A checkpoint made from one input is reused only for an input with the same fingerprint, so a file that
/// was replaced, appended to or rewritten in place (which moves the modification time) starts the work again.
/// Reading two MiB keeps it cheap on files of any size.
public struct InputFingerprint: Codable, Sendable, Hashable {
    public var size: Int
    public var modifiedNanoseconds: Int64
    /// XXH64 (hex) of the first MiB and the last MiB.
    public var edgesHash: String
    /// Whether the file's last byte is a newline (a sort supplies one when it is not).
    public var endsWithNewline: Bool

    /// How much of each end is hashed.
    static let edgeBytes = 1 << 20

    /// Fingerprints the regular file at `path`; throws for anything else (a pipe cannot be resumed).
    public init(path: String) throws {
        let handle = try FileHandleFD.reading(path)
        var info = stat()
        guard fstat(handle.fd, &info) == 0 else { throw ToolkitError.io("stat", path, errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ToolkitError.refused("\(path) is not a regular file, so its work cannot be checkpointed")
        }
        size = Int(info.st_size)
        modifiedNanoseconds = Int64(info.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(info.st_mtim.tv_nsec)
        var hasher = XXHash64()
        // Hashed in small pieces: a sort's memory budget counts this process's resident size.
        let piece = 64 << 10
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: piece, alignment: 16)
        defer { buffer.deallocate() }
        var lastByte: UInt8 = 0x0A
        for (start, count) in [(0, min(size, Self.edgeBytes)), (max(0, size - Self.edgeBytes), size - max(0, size - Self.edgeBytes))] {
            var offset = start
            while offset < start + count {
                let got = try handle.readFully(into: buffer.baseAddress!, count: min(piece, start + count - offset), at: offset)
                guard got > 0 else { throw ToolkitError.refused("\(path) shrank while it was read") }
                hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
                lastByte = buffer[got - 1]
                offset += got
            }
        }
        endsWithNewline = lastByte == 0x0A
        edgesHash = Hex.lowercase(withUnsafeBytes(of: hasher.finalize().bigEndian, Array.init))
    }

    /// The bytes a sort reads from the file: its size, and one more when it supplies the last newline.
    var sortedLength: Int { size + (size > 0 && !endsWithNewline ? 1 : 0) }
}
