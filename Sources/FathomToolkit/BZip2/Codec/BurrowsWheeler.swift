/// bzip2's Burrows–Wheeler transform: the last column of the block's rotations in sorted order, and the row where
/// the block itself ends up (bzip2's `origPtr`).
///
/// Rotations are sorted through suffixes: the block is first turned to its least rotation (Duval's algorithm). That
/// rotation is a Lyndon word when the block is not a repetition, and the rotations of a Lyndon word sort exactly as
/// its suffixes do, with a suffix that is a prefix of another first (``SuffixSorter``). A block that is a repetition
/// (`u` repeated `m` times: one byte, or a period) sorts `u`'s rotations and repeats each row `m` times; equal
/// rotations are ordered by their start, as bzip2 orders them, so the block's own row is the first of its group.
enum BurrowsWheeler {
    /// Writes the last column of `block[0..<count]` to `last` and returns the block's row.
    /// - Parameters:
    ///   - suffixes: room for `count` positions.
    ///   - strategy: whether to try ``LMSComparisonSort`` first; told when it gave up.
    static func transform(
        _ block: UnsafePointer<UInt8>, count n: Int, suffixes: UnsafeMutablePointer<Int32>, rotated: UnsafeMutablePointer<UInt8>,
        into last: UnsafeMutablePointer<UInt8>, strategy: inout SuffixSortStrategy
    ) -> Int {
        precondition(n > 0)
        let (start, period) = leastRotation(block, count: n)
        // The Lyndon root of the least rotation: the whole block unless the block repeats.
        let root = n % period == 0 ? period : n
        let copies = n / root
        for index in 0..<root {
            let source = start + index
            rotated[index] = block[source < n ? source : source - n]
        }
        // The block itself starts at `n - start` of the least rotation; its group is that position within the root.
        let own = (n - start) % n % root
        if copies == 1 {
            let (row, gaveUp) = SuffixSorter.sortWithPrecedingSymbols(
                UnsafePointer(rotated), count: root, into: suffixes, last: last, marked: own, comparingFirst: strategy.comparingFirst)
            strategy.record(gaveUp: gaveUp)
            return row
        }
        strategy.record(gaveUp: SuffixSorter.sort(UnsafePointer(rotated), count: root, into: suffixes, comparingFirst: strategy.comparingFirst))
        var ownRow = 0
        var row = 0
        for rank in 0..<root {
            let position = Int(suffixes[rank])
            if position == own { ownRow = row }
            (last + row).update(repeating: rotated[position == 0 ? root - 1 : position - 1], count: copies)
            row += copies
        }
        return ownRow
    }

    /// The start of the least rotation of `text` and the length of its Lyndon factor (Duval's algorithm run over the
    /// text twice): that length divides `count` exactly when the text is a repetition.
    static func leastRotation(_ text: UnsafePointer<UInt8>, count n: Int) -> (start: Int, period: Int) {
        var index = 0
        var answer = 0
        var period = n
        while index < n {
            answer = index
            var ahead = index + 1
            var compared = index
            while ahead < 2 * n {
                let left = text[compared < n ? compared : compared - n]
                let right = text[ahead < n ? ahead : ahead - n]
                if left > right { break }
                compared = left < right ? index : compared + 1
                ahead += 1
            }
            period = ahead - compared
            while index <= compared { index += ahead - compared }
        }
        return (answer, period)
    }
}

/// Which way an encoder orders its blocks' LMS suffixes: by comparison first (quicker on ordinary text), or straight
/// by induction for a while after the comparison sort gave up on a block. Long repeats (source code, logs) tend to go
/// on for many blocks, and giving up costs about as much as sorting, so each give-up in a row doubles the pause.
struct SuffixSortStrategy {
    /// Blocks sorted by induction alone after a first give-up; doubled for each further one, up to `longestPause`.
    static let pause = 16
    static let longestPause = 256
    private var nextPause = Self.pause
    private var blocksLeftToPause = 0

    var comparingFirst: Bool { blocksLeftToPause == 0 }

    mutating func record(gaveUp: Bool) {
        if gaveUp {
            blocksLeftToPause = nextPause
            nextPause = min(nextPause * 2, Self.longestPause)
        } else if blocksLeftToPause > 0 {
            blocksLeftToPause -= 1
        } else {
            nextPause = Self.pause
        }
    }
}
