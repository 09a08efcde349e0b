@testable import FathomToolkit
import Foundation
import Testing

/// The block splitter and assembler on their own: false block boundaries and damaged CRCs.
@Suite("bzip2 blocks")
struct BZip2BlockTests {
    /// The pieces of a file as the splitter cuts them.
    static func pieces(of path: String) throws -> [BZip2Piece] {
        let splitter = BlockSplitter(input: try FileHandleFD.reading(path), name: path, maxStreamBytes: 0)
        var pieces: [BZip2Piece] = []
        while let piece = try splitter.next() { pieces.append(piece) }
        return pieces
    }

    /// Cuts a block in two at `bit` (as a magic inside its data would): two pieces that each fail alone.
    static func falselySplit(_ block: BZip2Block, at bit: Int) -> [BZip2Piece] {
        let absolute = block.shift + bit
        var first = block
        first.bytes = Array(block.bytes[0..<((absolute + 7) / 8)])
        first.bitCount = bit
        var second = block
        second.bytes = Array(block.bytes[(absolute / 8)...])
        second.shift = absolute % 8
        second.bitCount = block.bitCount - bit
        second.offset = block.offset + absolute / 8
        second.crc = 0
        return [.block(first), .block(second)]
    }

    static func assemble(_ pieces: [BZip2Piece]) throws -> Data {
        let directory = TemporaryDirectory("bz-blocks")
        let output = try AtomicOutput(path: directory.file("out"))
        let assembler = BlockAssembler(name: "test", writer: BufferedWriter(handle: output.handle))
        for piece in pieces {
            var decoded: Result<[UInt8], any Error>?
            if case .block(let block) = piece { decoded = Result { try BlockAssembler.decode(block) } }
            try assembler.take(piece, decoded: decoded)
        }
        try assembler.finish()
        try output.commit()
        return try TestFiles.read(directory.file("out"))
    }

    @Test("a false block boundary inside a block is recovered by joining it with the next; every bit offset works")
    func falseBoundaryIsJoined() async throws {
        let directory = TemporaryDirectory("bz-false")
        let plain = directory.file("plain")
        let content = TestFiles.compressibleText(bytes: 350_000, seed: 9)
        try TestFiles.write(content, to: plain)
        let packed = plain + ".bz2"
        let made = try await runCommand("/bin/sh", ["-c", "bzip2 -1 -c \(plain) > \(packed)"])
        #expect(made.exit.succeeded)
        let pieces = try await offThePool { try Self.pieces(of: packed) }
        let blocks = pieces.compactMap { piece -> BZip2Block? in
            if case .block(let block) = piece { return block }
            return nil
        }
        #expect(blocks.count == 4, "350 kB at -1 is four blocks")
        #expect(blocks.dropFirst().contains { $0.shift != 0 }, "later blocks start at odd bit offsets")
        let whole = try await offThePool { try Self.assemble(pieces) }
        #expect(whole == Data(content))
        for cut in [60, 1001, blocks[1].bitCount / 2, blocks[1].bitCount - 9] {
            var split = pieces
            split.replaceSubrange(1...1, with: Self.falselySplit(blocks[1], at: cut))
            let pieces = split
            let assembled = try await offThePool { try Self.assemble(pieces) }
            #expect(assembled == Data(content), "false boundary \(cut) bits into block 2")
        }
    }

    @Test("a wrong stream CRC is reported even when every block decodes")
    func streamCRCMismatch() async throws {
        let directory = TemporaryDirectory("bz-crc")
        let plain = directory.file("plain")
        try TestFiles.write(TestFiles.compressibleText(bytes: 250_000, seed: 4), to: plain)
        _ = try await runCommand("/bin/sh", ["-c", "bzip2 -1 -c \(plain) > \(plain).bz2"])
        var pieces = try await offThePool { try Self.pieces(of: plain + ".bz2") }
        guard case .streamEnd(let offset, let crc) = pieces.last! else {
            Issue.record("the last piece ends the stream")
            return
        }
        pieces[pieces.count - 1] = .streamEnd(offset: offset, storedCRC: crc ^ 1)
        let damaged = pieces
        let failure = try await offThePool { () -> ToolkitError? in
            do {
                _ = try Self.assemble(damaged)
                return nil
            } catch let error as ToolkitError {
                return error
            }
        }
        guard case .corrupt(_, _, let reason) = failure else {
            Issue.record("expected a corruption error, got \(String(describing: failure))")
            return
        }
        #expect(reason.contains("stream CRC mismatch"))
    }
}
