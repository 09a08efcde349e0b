import Crypto
import Foundation
import NIOCore
import _NIOFileSystem

/// Bundle bytes moved to and from files in 1 MiB chunks on NIO's file-system threads, hashed as
/// they pass: a 1 GiB bundle never sits in memory, and no read or write blocks the cooperative
/// pool that serves requests.
public enum BundleFiles {
    /// The size of one read from a bundle file.
    public static let chunkLength: ByteCount = .mebibytes(1)

    /// Writes `chunks` into a new file at `path` and returns the sha256 and size of what was written.
    ///
    /// - Parameters:
    ///   - maxBytes: past this many bytes the write stops and `tooLarge()` is thrown.
    ///   - permissions: the new file's mode.
    /// - Throws: the sequence's or the file system's error, or `tooLarge()`; the file is removed then.
    public static func write<Chunks: AsyncSequence>(
        _ chunks: Chunks, to path: String, maxBytes: Int64 = .max, permissions: FilePermissions = [.ownerReadWrite],
        tooLarge: (() -> any Error)? = nil
    ) async throws -> (sha256: String, size: Int64) where Chunks.Element == ByteBuffer {
        var hasher = SHA256()
        var size: Int64 = 0
        do {
            try await FileSystem.shared.withFileHandle(
                forWritingAt: FilePath(path), options: .newFile(replaceExisting: false, permissions: permissions)
            ) { handle in
                try await handle.withBufferedWriter(capacity: chunkLength) { writer in
                    for try await chunk in chunks {
                        size += Int64(chunk.readableBytes)
                        if size > maxBytes { throw tooLarge?() ?? StorageError.tooLarge(maxBytes: maxBytes) }
                        chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                        _ = try await writer.write(contentsOf: chunk)
                    }
                }
            }
        } catch {
            _ = try? await FileSystem.shared.removeItem(at: FilePath(path))  // best effort: the original error is the one to report
            throw error
        }
        return (FileHashing.hex(hasher.finalize()), size)
    }

    /// The size of the file at `path`, or nil when there is none.
    public static func size(ofFileAt path: String) async throws -> Int64? {
        try await FileSystem.shared.info(forFileAt: FilePath(path)).map { $0.size }
    }

    /// Calls `body` with the file's chunks, in order, holding at most one chunk at a time.
    public static func read(_ path: String, _ body: (ByteBuffer) async throws -> Void) async throws {
        try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
            for try await chunk in handle.readChunks(chunkLength: chunkLength) {
                try await body(chunk)
            }
        }
    }

    /// Calls `body` with the file's chunks as a sequence (for an HTTP request body) and its size.
    public static func withChunks<Result>(
        of path: String, _ body: (FileChunks, Int64) async throws -> Result
    ) async throws -> Result {
        try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
            try await body(handle.readChunks(chunkLength: chunkLength), try await handle.info().size)
        }
    }

    /// Streams `source` into a new file at `destination` and checks that it hashes to `sha256`;
    /// on a mismatch nothing is left at `destination`.
    public static func copyVerified(from source: String, to destination: String, sha256: String, permissions: FilePermissions) async throws {
        let temporary = destination + ".partial-\(UUID().uuidString)"
        let actual = try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(source)) { handle in
            try await write(handle.readChunks(chunkLength: chunkLength), to: temporary, permissions: permissions).sha256
        }
        try publish(temporary, to: destination, ifItHashes: actual, to: sha256, source: source)
    }

    /// Renames `temporary` to `destination` when its hash is the expected one; removes it otherwise.
    public static func publish(_ temporary: String, to destination: String, ifItHashes actual: String, to sha256: String, source: String) throws {
        guard actual == sha256 else {
            try? FileManager.default.removeItem(atPath: temporary)  // the mismatch is the error to report
            throw StorageError.hashMismatch(expected: sha256, actual: actual, source: source)
        }
        do {
            try AtomicFile.rename(temporary, to: destination)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)  // the rename's error is the one to report
            throw error
        }
    }
}

extension FilePermissions {
    /// A published bundle: read and execute for everyone, writable by no one.
    public static let bundle: FilePermissions = [.ownerRead, .ownerExecute, .groupRead, .groupExecute, .otherRead, .otherExecute]
}
