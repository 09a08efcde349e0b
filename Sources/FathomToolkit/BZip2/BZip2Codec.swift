import CBZip2

/// bzip2 on whole buffers, one stream per call, as pbzip2 and Fathom write them: Fathom's own codec, or libbz2 when
/// ``BZip2Engine/current`` says so.
enum BZip2Codec {
    /// Input bytes per block at a level: one libbz2 block holds `level × 100,000 − 19` bytes after its first
    /// run-length pass, so a block of this size is one bzip2 block unless it has many runs.
    static func blockSize(level: Int) -> Int {
        level * 100_000 - 19
    }

    /// Compresses `bytes` into one complete bzip2 stream.
    static func compress(_ bytes: UnsafeRawBufferPointer, level: Int) throws -> [UInt8] {
        switch BZip2Engine.current {
        case .fathom: BZip2Encoder.compress(bytes, level: level)
        case .libbz2: try compressWithLibbz2(bytes, level: level)
        }
    }

    static func compressWithLibbz2(_ bytes: UnsafeRawBufferPointer, level: Int) throws -> [UInt8] {
        var stream = bz_stream()
        BZip2Memory.shared.install(in: &stream)
        guard BZ2_bzCompressInit(&stream, Int32(level), 0, 30) == BZ_OK else {
            throw ToolkitError.refused("libbz2 could not start a compressor (out of memory?)")
        }
        defer { BZ2_bzCompressEnd(&stream) }
        let capacity = bytes.count + bytes.count / 100 + 600
        stream.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: CChar.self))
        stream.avail_in = UInt32(bytes.count)
        var status: Int32 = BZ_OK
        let output = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            stream.next_out = UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            stream.avail_out = UInt32(capacity)
            repeat {
                status = BZ2_bzCompress(&stream, BZ_FINISH)
            } while status == BZ_FINISH_OK
            initialized = capacity - Int(stream.avail_out)
        }
        guard status == BZ_STREAM_END else { throw ToolkitError.refused("libbz2 could not compress a block (status \(status))") }
        return output
    }

    /// The result of decoding from the start of a stream.
    struct Decoded {
        var output: [UInt8]
        /// Bytes of input the stream took, when it ended within the input given.
        var streamLength: Int?
    }

    enum DecodeFailure: Error {
        /// libbz2 rejected the data; `offset` is how far into the input it had read.
        case damaged(offset: Int, reason: String)
    }

    /// Decodes one stream from the start of `input`. Stops at the stream's end (``Decoded/streamLength``) or at the
    /// end of `input` with the stream still open (`streamLength` nil).
    static func decodeStream(_ input: UnsafeRawBufferPointer, expectedOutput: Int = 0) throws -> Decoded {
        switch BZip2Engine.current {
        case .fathom: try SwiftBZip2.decodeStream(input, expectedOutput: expectedOutput)
        case .libbz2: try decodeStreamWithLibbz2(input, expectedOutput: expectedOutput)
        }
    }

    static func decodeStreamWithLibbz2(_ input: UnsafeRawBufferPointer, expectedOutput: Int = 0) throws -> Decoded {
        var stream = bz_stream()
        BZip2Memory.shared.install(in: &stream)
        guard BZ2_bzDecompressInit(&stream, 0, 0) == BZ_OK else { throw ToolkitError.refused("libbz2 could not start a decoder") }
        defer { BZ2_bzDecompressEnd(&stream) }
        let initial = max(expectedOutput, input.count * 4, 4096)
        var output = [UInt8](unsafeUninitializedCapacity: initial) { _, count in count = initial }
        var produced = 0
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: CChar.self))
        stream.avail_in = UInt32(input.count)
        while true {
            if produced == output.count { output += [UInt8](repeating: 0, count: output.count) }
            let status = output.withUnsafeMutableBytes { buffer -> Int32 in
                stream.next_out = (buffer.baseAddress! + produced).assumingMemoryBound(to: CChar.self)
                stream.avail_out = UInt32(min(buffer.count - produced, Int(UInt32.max)))
                let before = stream.avail_out
                let status = BZ2_bzDecompress(&stream)
                produced += Int(before - stream.avail_out)
                return status
            }
            let consumed = input.count - Int(stream.avail_in)
            switch status {
            case BZ_STREAM_END:
                output.removeSubrange(produced...)
                return Decoded(output: output, streamLength: consumed)
            case BZ_OK:
                if stream.avail_in == 0 && stream.avail_out > 0 {
                    output.removeSubrange(produced...)
                    return Decoded(output: output, streamLength: nil)
                }
            case BZ_DATA_ERROR_MAGIC:
                throw DecodeFailure.damaged(offset: consumed, reason: "not a bzip2 stream")
            case BZ_DATA_ERROR:
                throw DecodeFailure.damaged(offset: consumed, reason: "data integrity (CRC) error")
            case BZ_MEM_ERROR:
                throw ToolkitError.refused("libbz2 ran out of memory")
            default:
                throw DecodeFailure.damaged(offset: consumed, reason: "libbz2 status \(status)")
            }
        }
    }
}
