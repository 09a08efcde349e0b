import CBZip2

/// Puts decoded segments back together in input order. A segment a worker decoded as a whole stream is written
/// as is; anything else (a stream larger than a segment, a false cut) is decoded here, in order, by one streaming
/// decoder. Any damage throws ``ToolkitError/corrupt(_:offset:_:)`` with the input offset.
final class StreamAssembler {
    private let name: String
    private let writer: BufferedWriter?
    private var decoder: UnsafeMutablePointer<bz_stream>?
    private var decoderStart = 0
    private var scratch = [UInt8](repeating: 0, count: 1 << 20)
    private var sawAnything = false
    private(set) var bytesOut = 0
    private(set) var parallelStreams = 0
    private(set) var sequentialBytes = 0

    init(name: String, writer: BufferedWriter?) {
        self.name = name
        self.writer = writer
    }

    deinit {
        endDecoder()
    }

    func take(_ decoded: DecodedSegment) throws {
        let segment = decoded.segment
        sawAnything = sawAnything || !segment.bytes.isEmpty
        if decoder == nil, let result = decoded.result {
            do {
                let stream = try result.get()
                if stream.streamLength == segment.bytes.count {
                    try emit(stream.output)
                    parallelStreams += 1
                    return
                }
                if let length = stream.streamLength {
                    throw ToolkitError.corrupt(
                        name, offset: segment.offset + length, "unexpected bytes after the end of a bzip2 stream")
                }
            } catch BZip2Codec.DecodeFailure.damaged(let offset, let reason) {
                throw ToolkitError.corrupt(name, offset: segment.offset + offset, reason)
            }
        }
        try decodeInOrder(segment)
    }

    /// Feeds a segment to the streaming decoder, starting a new stream wherever one ends.
    private func decodeInOrder(_ segment: StreamSplitter.Segment) throws {
        sequentialBytes += segment.bytes.count
        try segment.bytes.withUnsafeBytes { input in
            var position = 0
            while position < input.count {
                if decoder == nil { try startDecoder(at: segment.offset + position) }
                let stream = decoder!
                stream.pointee.next_in = UnsafeMutablePointer(
                    mutating: (input.baseAddress! + position).assumingMemoryBound(to: CChar.self))
                stream.pointee.avail_in = UInt32(input.count - position)
                var status: Int32 = BZ_OK
                repeat {
                    let (code, produced) = scratch.withUnsafeMutableBytes { out -> (Int32, Int) in
                        stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: CChar.self)
                        stream.pointee.avail_out = UInt32(out.count)
                        let code = BZ2_bzDecompress(stream)
                        return (code, out.count - Int(stream.pointee.avail_out))
                    }
                    status = code
                    if produced > 0 { try emit(Array(scratch[0..<produced])) }
                } while status == BZ_OK && (stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0)
                let consumed = input.count - position - Int(stream.pointee.avail_in)
                let failedAt = segment.offset + position + consumed
                position += consumed
                switch status {
                case BZ_OK: break
                case BZ_STREAM_END: endDecoder()
                case BZ_DATA_ERROR_MAGIC: throw ToolkitError.corrupt(name, offset: failedAt, "not a bzip2 stream")
                case BZ_DATA_ERROR: throw ToolkitError.corrupt(name, offset: failedAt, "data integrity (CRC) error")
                default: throw ToolkitError.corrupt(name, offset: failedAt, "libbz2 status \(status)")
                }
            }
        }
    }

    /// Checks the input ended at the end of a stream.
    func finish(totalInput: Int) throws {
        if decoder != nil {
            throw ToolkitError.corrupt(name, offset: totalInput, "the input ends in the middle of a stream (truncated)")
        }
        if !sawAnything {
            throw ToolkitError.corrupt(name, offset: 0, "the input is empty, not a bzip2 stream")
        }
        try writer?.flush()
    }

    private func emit(_ bytes: [UInt8]) throws {
        bytesOut += bytes.count
        guard let writer, !bytes.isEmpty else { return }
        try bytes.withUnsafeBytes { try writer.append($0.baseAddress!, count: $0.count) }
    }

    private func startDecoder(at offset: Int) throws {
        let stream = UnsafeMutablePointer<bz_stream>.allocate(capacity: 1)
        stream.initialize(to: bz_stream())
        guard BZ2_bzDecompressInit(stream, 0, 0) == BZ_OK else {
            stream.deallocate()
            throw ToolkitError.refused("libbz2 could not start a decoder")
        }
        decoder = stream
        decoderStart = offset
    }

    private func endDecoder() {
        guard let stream = decoder else { return }
        BZ2_bzDecompressEnd(stream)
        stream.deallocate()
        decoder = nil
    }
}
