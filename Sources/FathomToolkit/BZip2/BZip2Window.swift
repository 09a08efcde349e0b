/// How many workers and blocks in flight a parallel bzip2 uses: all cores and twice as many blocks by default, or as
/// many as fit pbzip2's `-m MB` ("maximum memory usage").
public struct BZip2Window: Sendable, Equatable {
    public var workers: Int
    /// Blocks read ahead or waiting to be written, in order (at least one more than the workers, so none idles).
    public var blocks: Int

    /// The codec's working memory per worker, plus each block in flight held as input and as output. Fathom's
    /// codec: ``BZip2Encoder/workingBytes(level:)`` and ``BZip2BlockDecoder/workingBytes``; libbz2 (its manual):
    /// compressing takes 400k + 8 × the block size, decompressing 100k + 4 × the block size.
    static func bytes(workers: Int, blocks: Int, blockSize: Int, streamBytes: Int, compressing: Bool) -> Int {
        let state: Int
        switch BZip2Engine.current {
        case .fathom:
            state = compressing ? BZip2Encoder.workingBytes(level: (blockSize + 19) / 100_000) : BZip2BlockDecoder.workingBytes
        case .libbz2:
            state = compressing ? 400_000 + 8 * blockSize : 100_000 + 4 * blockSize
        }
        return workers * state + blocks * 2 * streamBytes
    }

    /// The window for `parallelism` workers (default: all cores), cut down to fit `memoryLimit` bytes; refused when
    /// even one worker with two blocks does not fit.
    public static func plan(
        parallelism: Int?, memoryLimit: Int?, level: Int, compressing: Bool, streamBytes: Int? = nil
    ) throws -> BZip2Window {
        let blockSize = BZip2Codec.blockSize(level: max(1, min(9, level)))
        let held = streamBytes ?? blockSize
        var workers = max(1, parallelism ?? System.activeProcessorCount)
        var blocks = workers * 2 + 2
        guard let memoryLimit else { return BZip2Window(workers: workers, blocks: blocks) }
        while bytes(workers: workers, blocks: blocks, blockSize: blockSize, streamBytes: held, compressing: compressing) > memoryLimit {
            if blocks > workers + 1 {
                blocks -= 1
            } else if workers > 1 {
                workers -= 1
                blocks = workers + 1
            } else {
                let least = bytes(workers: 1, blocks: 2, blockSize: blockSize, streamBytes: held, compressing: compressing)
                throw ToolkitError.invalidOption(
                    "-m", "\(memoryLimit / 1_000_000) MB is less than one worker needs at block size \(level)00k (\((least + 999_999) / 1_000_000) MB)",
                    "give -m \((least + 999_999) / 1_000_000) or more, or a smaller block size (-1 … -9)")
            }
        }
        return BZip2Window(workers: workers, blocks: blocks)
    }
}
