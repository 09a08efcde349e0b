/// Puts decoded blocks back in input order, checks each stream's combined CRC, and recovers from a false block
/// boundary (a magic inside compressed data): a block that fails alone is retried joined with the next one.
final class BlockAssembler {
    private let name: String
    private let writer: BufferedWriter?
    private var combinedCRC: UInt32 = 0
    /// A block that failed alone, waiting to be joined with the next.
    private var failed: (block: BZip2Block, reason: String)?
    private(set) var bytesOut = 0
    private(set) var blocks = 0
    private(set) var streams = 0

    init(name: String, writer: BufferedWriter?) {
        self.name = name
        self.writer = writer
    }

    func take(_ piece: BZip2Piece, decoded: Result<[UInt8], any Error>?) throws {
        switch piece {
        case .streamEnd(let offset, let stored):
            if let failed { throw corruption(failed.block, failed.reason) }
            guard stored == combinedCRC else {
                throw ToolkitError.corrupt(name, offset: offset, "stream CRC mismatch (stored \(stored), computed \(combinedCRC))")
            }
            combinedCRC = 0
            streams += 1
        case .block(let block):
            if let previous = failed {
                failed = nil
                let joined = previous.block.joined(with: block)
                guard let output = try? Self.decode(joined) else { throw corruption(previous.block, previous.reason) }
                try accept(joined, output)
                return
            }
            do {
                try accept(block, try decoded!.get())
            } catch let BZip2Codec.DecodeFailure.damaged(_, reason) {
                failed = (block, reason)
            }
        }
    }

    func finish() throws {
        if let failed { throw corruption(failed.block, failed.reason) }
        try writer?.flush()
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
        bytesOut += output.count
        guard let writer, !output.isEmpty else { return }
        try output.withUnsafeBytes { try writer.append($0.baseAddress!, count: $0.count) }
    }

    private func corruption(_ block: BZip2Block, _ reason: String) -> ToolkitError {
        .corrupt(name, offset: block.offset, "damaged block: \(reason)")
    }
}
