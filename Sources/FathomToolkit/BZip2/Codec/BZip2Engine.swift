import Foundation
import Synchronization

/// Which codec does bzip2's block work: Fathom's own (``BZip2Encoder``, ``BZip2BlockDecoder``) or libbz2.
///
/// One switch for the whole process: the environment variable `FATHOM_BZIP2_ENGINE=libbz2` (read once) selects
/// libbz2, the reference the tests compare against; ``current`` can also be set in code.
public enum BZip2Engine: String, Sendable, CaseIterable {
    case fathom
    case libbz2

    private static let selected = Mutex<BZip2Engine>(
        ProcessInfo.processInfo.environment["FATHOM_BZIP2_ENGINE"].flatMap(BZip2Engine.init(rawValue:)) ?? .fathom)

    /// The engine every compression and decompression in this process uses.
    public static var current: BZip2Engine {
        get { selected.withLock { $0 } }
        set { selected.withLock { $0 = newValue } }
    }
}

/// Fathom's own codec on whole buffers, with the same contract as the libbz2 calls in ``BZip2Codec``.
enum SwiftBZip2 {
    /// Decodes one stream from the start of `input`; a stream with a randomised block (bzip2 before 0.9.5) goes to
    /// libbz2.
    static func decodeStream(_ input: UnsafeRawBufferPointer, expectedOutput: Int) throws -> BZip2Codec.Decoded {
        do {
            return try decode(input, expectedOutput: expectedOutput)
        } catch let error as BZip2DecodeError {
            throw BZip2Codec.DecodeFailure.damaged(offset: error.offset, reason: error.reason)
        } catch is BZip2BlockDecoder.Randomised {
            return try BZip2Codec.decodeStreamWithLibbz2(input, expectedOutput: expectedOutput)
        }
    }

    private static func decode(_ input: UnsafeRawBufferPointer, expectedOutput: Int) throws -> BZip2Codec.Decoded {
        guard input.count >= 4, input[0] == 0x42, input[1] == 0x5A, input[2] == 0x68, (0x31...0x39).contains(input[3]) else {
            throw BZip2DecodeError(offset: 0, reason: "not a bzip2 stream")
        }
        let decoder = BZip2BlockDecoder.take()
        defer { decoder.putBack() }
        decoder.levelLimit = Int(input[3] - 0x30) * 100_000
        var source = BitSource(input, bit: 32)
        var output = ByteAccumulator(capacity: expectedOutput)
        var streamCRC: UInt32 = 0
        while true {
            let magicOffset = source.byteOffset
            let magic = try source.read48()
            switch magic {
            case BZip2Encoder.blockMagic:
                streamCRC = BZip2CRC.combine(streamCRC, try decoder.decodeBlock(&source, into: &output))
            case BZip2Encoder.endMagic:
                let stored = try source.read(32)
                guard stored == streamCRC else {
                    throw BZip2DecodeError(offset: magicOffset, reason: "stream CRC mismatch (stored \(stored), computed \(streamCRC))")
                }
                return BZip2Codec.Decoded(output: output.bytes(), streamLength: (source.position + 7) / 8)
            default:
                throw BZip2DecodeError(offset: magicOffset, reason: "neither a block nor the end of the stream follows")
            }
        }
    }
}
