/// What a compression or decompression did.
public struct BZip2Summary: Sendable, Codable {
    public var bytesIn: Int
    public var bytesOut: Int
    public var seconds: Double
    /// Streams written (compression) or read (decompression).
    public var streams: Int
    /// Blocks decoded, each on its own (decompression).
    public var blocks: Int = 0
    /// Streams taken from a checkpoint's partial output, and the input bytes they covered (resumed compression).
    public var reusedStreams = 0
    public var reusedBytes = 0
    /// What became of the checkpoint (resumed from, or not used and why); nil without one.
    public var checkpointNote: String?

    /// Uncompressed bytes per second (input when compressing, output when decompressing).
    public func throughput(compressing: Bool) -> Double {
        seconds > 0 ? Double(compressing ? bytesIn : bytesOut) / seconds : 0
    }
}

/// Parallel bzip2 on libbz2, compatible both ways with bzip2, pbzip2 and lbzip2.
///
/// Compression cuts the input into blocks sized by the level, compresses them on `parallelism` workers and writes
/// each as its own bzip2 stream, in order (as pbzip2 does), so any bunzip2 decodes the result. Decompression finds
/// every block at its bit offset (``BlockScanner``) and decodes blocks in parallel, so single-stream files from plain
/// bzip2 decode as fast as pbzip2's. Memory is bounded by a window of blocks.
public enum ParallelBZip2 {
    public static func compress(
        input: FileHandleFD, output: FileHandleFD, level: Int = 9, parallelism: Int? = nil, memoryLimit: Int? = nil,
        streamBytes: Int? = nil, cancellation: CancellationFlag = CancellationFlag(), progress: (Int) -> Void = { _ in }
    ) throws -> BZip2Summary {
        let started = System.now()
        let writer = BufferedWriter(handle: output, capacity: 1 << 20)
        let counts = try compressStreams(
            input: input, writer: writer, level: level, parallelism: parallelism, memoryLimit: memoryLimit, streamBytes: streamBytes,
            cancellation: cancellation, progress: progress)
        try writer.flush()
        return BZip2Summary(bytesIn: counts.bytesIn, bytesOut: writer.bytesWritten, seconds: System.now() - started, streams: counts.streams)
    }

    /// Compresses `input` from its current position into `writer`, one stream per block; `afterStream` is called
    /// once each stream is in the writer, with the streams and input bytes so far. With `resumedStreams` > 0 the
    /// input is known to hold more than what those streams covered, so an input that ends right there writes no
    /// empty stream.
    static func compressStreams(
        input: FileHandleFD, writer: BufferedWriter, level: Int, parallelism: Int?, memoryLimit: Int? = nil, streamBytes: Int? = nil,
        cancellation: CancellationFlag,
        resumedStreams: Int = 0, progress: (Int) -> Void, afterStream: (_ streams: Int, _ bytesIn: Int) throws -> Void = { _, _ in }
    ) throws -> (bytesIn: Int, streams: Int) {
        guard (1...9).contains(level) else {
            throw ToolkitError.invalidOption("level", "\(level) is out of range", "use 1 (fastest) to 9 (smallest), as bzip2 does")
        }
        System.returnLargeBlocksToSystem()
        // Input per stream: one bzip2 block's worth at the level, or pbzip2's -b (N × 100k, several blocks a stream).
        let blockSize = streamBytes ?? BZip2Codec.blockSize(level: level)
        let window = try BZip2Window.plan(
            parallelism: parallelism, memoryLimit: memoryLimit, level: level, compressing: true, streamBytes: blockSize)
        let pipeline = OrderedPipeline<[UInt8], [UInt8]>(workers: window.workers, window: window.blocks) { block in
            try block.withUnsafeBytes { try BZip2Codec.compress($0, level: level) }
        }
        var bytesIn = 0
        var blocks = 0
        var written = 0
        var finished = false
        try pipeline.run(cancellation: cancellation) {
            guard !finished else { return nil }
            var block = [UInt8](repeating: 0, count: blockSize)
            let got = try block.withUnsafeMutableBytes { try input.readFully(into: $0.baseAddress!, count: blockSize) }
            if got < blockSize {
                finished = true
                // An empty input still becomes one (empty) stream, as bzip2 writes it.
                if got == 0 && blocks + resumedStreams > 0 { return nil }
                block.removeSubrange(got...)
            }
            bytesIn += got
            blocks += 1
            return block
        } consume: { compressed in
            try compressed.withUnsafeBytes { try writer.append($0.baseAddress!, count: $0.count) }
            written += 1
            progress(bytesIn)
            try afterStream(written, bytesIn)
        }
        return (bytesIn, blocks)
    }

    /// Decodes `input` (any number of concatenated streams) to `output`; with `output` nil, only tests it.
    /// Blocks are decoded in parallel whatever wrote the file: pbzip2's many streams and plain bzip2's one alike.
    /// - Parameter name: the input's name in error messages.
    public static func decompress(
        input: FileHandleFD, output: FileHandleFD?, name: String, parallelism: Int? = nil, memoryLimit: Int? = nil,
        cancellation: CancellationFlag = CancellationFlag(), progress: (Int) -> Void = { _ in }
    ) throws -> BZip2Summary {
        let started = System.now()
        System.returnLargeBlocksToSystem()
        // Blocks of any file may be 900k: the window is planned for the largest.
        let window = try BZip2Window.plan(parallelism: parallelism, memoryLimit: memoryLimit, level: 9, compressing: false)
        let splitter = BlockSplitter(input: input, name: name)
        let pipeline = OrderedPipeline<BZip2Piece, (BZip2Piece, Result<[UInt8], any Error>?)>(
            workers: window.workers, window: window.blocks
        ) { piece in
            switch piece {
            case .block(let block): return (piece, Result { try BlockAssembler.decode(block) })
            case .stream(let stream): return (piece, Result { try BlockAssembler.decode(stream) })
            case .streamEnd: return (piece, nil)
            }
        }
        let assembler = BlockAssembler(name: name, writer: output.map { BufferedWriter(handle: $0, capacity: 1 << 20) })
        try pipeline.run(cancellation: cancellation) {
            try splitter.next()
        } consume: { piece, decoded in
            try assembler.take(piece, decoded: decoded)
            progress(splitter.bytesRead)
        }
        try assembler.finish()
        return BZip2Summary(
            bytesIn: splitter.bytesRead, bytesOut: assembler.bytesOut, seconds: System.now() - started,
            streams: assembler.streams, blocks: assembler.blocks)
    }
}
