/// Puts decoded blocks back in input order, checks each stream's combined CRC, and recovers from a false block
/// boundary (a magic inside compressed data): a block that fails alone is retried joined with the next one.
final class BlockAssembler {
    private let name: String
    private let writer: BufferedWriter?
    private var combinedCRC: UInt32 = 0
    /// A piece that failed alone, waiting to be joined with the next of its kind.
    private var failed: (piece: BZip2Piece, reason: String)?
    private(set) var bytesOut = 0
    private(set) var blocks = 0
    private(set) var streams = 0

    init(name: String, writer: BufferedWriter?) {
        self.name = name
        self.writer = writer
    }

    func take(_ piece: BZip2Piece, decoded: Result<[UInt8], any Error>?) throws {
        switch piece {
        case .stream(let stream):
            if let previous = failed {
                failed = nil
                guard case .stream(let first) = previous.piece, let output = try? Self.decode(first.joined(with: stream)) else {  // the corruption thrown below names the piece
                    throw corruption(previous.piece, previous.reason)
                }
                try accept(output)
                streams += 1
                return
            }
            do {
                try accept(try decoded!.get())
                streams += 1
            } catch let BZip2Codec.DecodeFailure.damaged(_, reason) {
                failed = (piece, reason)
            }
        case .streamEnd(let offset, let stored):
            if let failed { throw corruption(failed.piece, failed.reason) }
            guard stored == combinedCRC else {
                throw ToolkitError.corrupt(name, offset: offset, "stream CRC mismatch (stored \(stored), computed \(combinedCRC))")
            }
            combinedCRC = 0
            streams += 1
        case .block(let block):
            if let previous = failed {
                failed = nil
                guard case .block(let first) = previous.piece else { throw corruption(previous.piece, previous.reason) }
                let joined = first.joined(with: block)
                guard let output = try? Self.decode(joined) else { throw corruption(previous.piece, previous.reason) }  // the corruption thrown below names the piece
                try accept(joined, output)
                return
            }
            do {
                try accept(block, try decoded!.get())
            } catch let BZip2Codec.DecodeFailure.damaged(_, reason) {
                failed = (piece, reason)
            }
        }
    }

    func finish() throws {
        if let failed { throw corruption(failed.piece, failed.reason) }
        try writer?.flush()
    }

    /// Decodes a whole stream, which must end exactly at the end of its bytes.
    static func decode(_ stream: BZip2Stream) throws -> [UInt8] {
        let decoded = try stream.bytes.withUnsafeBytes { try BZip2Codec.decodeStream($0, expectedOutput: 1 << 20) }
        guard decoded.streamLength == stream.bytes.count else {
            throw BZip2Codec.DecodeFailure.damaged(offset: decoded.streamLength ?? stream.bytes.count, reason: "stream ends early")
        }
        return decoded.output
    }

    /// Decodes a block on its own (what the workers run).
    static func decode(_ block: BZip2Block) throws -> [UInt8] {
        let stream = block.standaloneStream()
        let decoded = try stream.withUnsafeBytes {
            try BZip2Codec.decodeStream($0, expectedOutput: Int(block.level) * 100_000 + 4096)
        }
        guard decoded.streamLength != nil else { throw BZip2Codec.DecodeFailure.damaged(offset: 0, reason: "block ends early") }
        return decoded.output
    }

    private func accept(_ block: BZip2Block, _ output: [UInt8]) throws {
        combinedCRC = (combinedCRC << 1 | combinedCRC >> 31) ^ block.crc
        blocks += 1
        try accept(output)
    }

    private func accept(_ output: [UInt8]) throws {
        bytesOut += output.count
        guard let writer, !output.isEmpty else { return }
        try output.withUnsafeBytes { try writer.append($0.baseAddress!, count: $0.count) }
    }

    private func corruption(_ piece: BZip2Piece, _ reason: String) -> ToolkitError {
        switch piece {
        case .block(let block): return .corrupt(name, offset: block.offset, "damaged block: \(reason)")
        case .stream(let stream): return .corrupt(name, offset: stream.offset, "damaged stream: \(reason)")
        case .streamEnd(let offset, _): return .corrupt(name, offset: offset, reason)
        }
    }
}
