import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A small JSON record a checkpoint keeps on the volume: replaced whole (written aside, flushed, renamed), so a
/// reader finds the old record or the new one, never a mix.
enum CheckpointFile {
    /// Records larger than this are not checkpoints Fathom wrote.
    static let sizeLimit = 64 << 20

    static func write(_ value: some Encodable, to path: String) throws {
        let data = try JSONEncoder().encode(value)
        let handle = try FileHandleFD.creating(path + ".new")
        try data.withUnsafeBytes { try handle.writeAll($0.baseAddress!, count: $0.count) }
        try handle.sync()
        guard rename(path + ".new", path) == 0 else { throw ToolkitError.io("rename to", path, errno) }
    }

    /// The record at `path`: nil when there is none, ``Unreadable`` when it is not one.
    static func read<Record: Decodable>(_ type: Record.Type, from path: String) throws -> Record? {
        let handle: FileHandleFD
        do {
            handle = try FileHandleFD.reading(path)
        } catch {
            return nil
        }
        guard let size = handle.regularFileSize, size <= sizeLimit else { throw Unreadable(reason: "\(path) is not a small file") }
        var data = Data(count: size)
        let got = try data.withUnsafeMutableBytes { try handle.readFully(into: $0.baseAddress!, count: size) }
        do {
            guard got == size else { throw Unreadable(reason: "\(path) changed while it was read") }
            return try JSONDecoder().decode(Record.self, from: data)
        } catch {
            throw Unreadable(reason: "\(path) does not decode")
        }
    }

    /// A record that is there but cannot be used.
    struct Unreadable: Error {
        var reason: String
    }
}
