/// The inverse Burrows–Wheeler transform's walk, as several independent chains of memory reads at once.
///
/// The walk follows one linked list through the block's rows, a cache miss per step: alone it waits on memory at
/// every byte. Here the list is cut at `starts` marked rows (the block's own row among them) into segments, and
/// ``lanes`` segments are walked side by side, each until it reaches the next marked row, so the processor keeps
/// several reads in flight. Segments are written into fixed-size chunks (their lengths are unknown until walked),
/// then joined in list order, beginning at the block's own row.
struct InverseWalk {
    static let lanes = 8
    static let segments = 128
    static let chunkSize = 4096
    /// Set on a marked row's word; rows are below 2²⁰, so bits 28–31 of `row << 8 | byte` are free.
    static let mark: UInt32 = 0x8000_0000
    static let rowMask: UInt32 = 0xF_FFFF

    /// Chunk storage: enough for the block plus one partly filled chunk per segment.
    static func poolBytes(blockLimit: Int) -> Int {
        (blockLimit / chunkSize + segments + 1) * chunkSize
    }

    private struct Segment {
        var start: Int
        var end = -1
        var length = 0
        var firstChunk = -1
    }

    private struct Lane {
        var segment = -1
        var row = 0
        var chunk = 0
        var used = 0
    }

    /// Walks the list in `vector` (`next row << 8 | byte` per row, every next row below `count`) from `origin`, and
    /// writes the block's `count` bytes in order to `output`.
    /// - Parameters:
    ///   - pool: ``poolBytes(blockLimit:)`` bytes of chunks.
    static func walk(
        _ vector: UnsafeMutablePointer<UInt32>, count: Int, origin: Int, pool: UnsafeMutablePointer<UInt8>, into output: UnsafeMutablePointer<UInt8>
    ) {
        // Start rows: the block's own, and rows spread evenly over the block (sorted, distinct).
        var starts = [origin]
        let wanted = min(segments, count)
        for index in 1..<max(wanted, 1) {
            let row = index * count / wanted
            if row != origin && row != starts.last { starts.append(row) }
        }
        starts.sort()
        var segmentsByStart = [Segment]()
        for start in starts where segmentsByStart.last?.start != start { segmentsByStart.append(Segment(start: start)) }
        for segment in segmentsByStart { vector[segment.start] |= mark }
        // Each chunk's successor within its segment (-1: the last).
        let chunkCount = poolBytes(blockLimit: count) / chunkSize
        var nextChunk = [Int](repeating: -1, count: chunkCount)
        var freeChunk = 0
        var unstarted = 0
        var lanes = [Lane](repeating: Lane(), count: Self.lanes)

        segmentsByStart.withUnsafeMutableBufferPointer { segments in
            nextChunk.withUnsafeMutableBufferPointer { nextChunk in
                lanes.withUnsafeMutableBufferPointer { lanes in
                    @inline(__always) func begin(_ lane: Int) {
                        guard unstarted < segments.count else {
                            lanes[lane].segment = -1
                            return
                        }
                        let segment = unstarted
                        unstarted += 1
                        segments[segment].firstChunk = freeChunk
                        lanes[lane] = Lane(
                            segment: segment, row: Int(truncatingIfNeeded: vector[segments[segment].start] >> 8 & rowMask), chunk: freeChunk, used: 0)
                        freeChunk += 1
                    }
                    for lane in 0..<Self.lanes { begin(lane) }
                    var active = lanes.reduce(0) { $0 + ($1.segment >= 0 ? 1 : 0) }
                    // One step on each lane in turn: the lanes' reads are independent, so they overlap.
                    while active > 0 {
                        for lane in 0..<Self.lanes where lanes[lane].segment >= 0 {
                            var state = lanes[lane]
                            let word = vector[state.row]
                            pool[state.chunk &* chunkSize &+ state.used] = UInt8(truncatingIfNeeded: word)
                            state.used &+= 1
                            if word & mark != 0 {
                                segments[state.segment].end = state.row
                                segments[state.segment].length &+= state.used
                                begin(lane)
                                if lanes[lane].segment < 0 { active -= 1 }
                                continue
                            }
                            state.row = Int(truncatingIfNeeded: word >> 8 & rowMask)
                            if state.used == chunkSize {
                                segments[state.segment].length &+= chunkSize
                                nextChunk[state.chunk] = freeChunk
                                state.chunk = freeChunk
                                freeChunk &+= 1
                                state.used = 0
                            }
                            lanes[lane] = state
                        }
                    }
                }
            }
            // Join: from the block's own row, each segment ends at the start of the next.
            var written = 0
            var current = segments.firstIndex { $0.start == origin }!
            var cycle = 0
            while written < count {
                var chunk = segments[current].firstChunk
                var left = segments[current].length
                while left > 0 && written < count {
                    let take = min(left, chunkSize, count - written)
                    (output + written).update(from: pool + chunk * chunkSize, count: take)
                    written += take
                    left -= take
                    chunk = nextChunk[chunk]
                }
                let end = segments[current].end
                cycle += segments[current].length
                if end == origin {
                    // Back at the block's own row: a repeated block (its rows form several cycles) repeats this one.
                    guard written < count, cycle > 0 else { break }
                    while written < count {
                        let take = min(cycle, count - written)
                        (output + written).update(from: output, count: take)
                        written += take
                    }
                    break
                }
                // `end` is a marked row, so it starts a segment.
                var low = 0, high = segments.count - 1
                while low < high {
                    let middle = (low + high) / 2
                    if segments[middle].start < end { low = middle + 1 } else { high = middle }
                }
                current = low
            }
        }
    }
}
