/// Orders a block's LMS suffixes by comparing their bytes, as a quicker first step for ``SuffixSorter`` than induced
/// sorting of the LMS substrings, naming and recursion.
///
/// Each LMS suffix becomes one 64-bit entry in the suffix array's own memory (there are at most n / 2 of them, so
/// n / 2 entries of 8 bytes fit in its n Int32 slots): five bytes of the suffix at the current depth in the high 40
/// bits, the position in the low 24. The suffixes are bucketed by their first two bytes, each bucket is sorted by
/// its entries, and runs of equal keys are reloaded five bytes deeper and sorted again, until every run is one entry.
///
/// On ordinary text this settles most suffixes within a dozen bytes. Long repeats (source code, logs, a small
/// alphabet) would need many rounds: the sort then gives up — past a budget of reloaded entries, past
/// ``depthLimit`` bytes, on a big run that reaches the block's end, or on a quicksort that degrades — and the caller
/// sorts by induction instead. Nothing it leaves behind matters: the caller starts again from the text.
enum LMSComparisonSort {
    /// Bytes compared at most before giving up.
    static let depthLimit = 512
    /// Entries reloaded deeper at most, as a multiple of the LMS suffixes, before giving up.
    static let reloadBudget = 2
    private static let positionBits: UInt64 = 24
    private static let positionMask: UInt64 = (1 << 24) - 1
    /// Runs of equal keys up to this size that reach the block's end are settled by exact comparisons.
    private static let exactRunLimit = 16

    /// Whether the sort can be tried: positions fit in 24 bits and entries in the suffix array's memory.
    static func applies(count n: Int, suffixes: UnsafeMutablePointer<Int32>) -> Bool {
        n >= 2 && n < 1 << 24 && UInt(bitPattern: suffixes) % UInt(MemoryLayout<UInt64>.alignment) == 0
    }

    /// Writes the LMS suffixes of `text[0..<n]`, sorted, to `suffixes[0..<count]` and returns their count; returns
    /// nil when it gives up (the suffix array then holds nothing of use).
    ///
    /// - Parameter lmsBits: one bit per position, set at the LMS positions (each is at least 1 and below n − 1,
    ///   and no two are adjacent), `lmsWords` words of them.
    static func sort(
        _ text: UnsafePointer<UInt8>, count n: Int, lmsBits: UnsafePointer<UInt64>, lmsWords: Int, into suffixes: UnsafeMutablePointer<Int32>
    ) -> Int? {
        /// Every LMS position in increasing order.
        @inline(__always) func lmsAscending(_ body: (Int) -> Void) {
            for word in 0..<lmsWords {
                var bits = lmsBits[word]
                while bits != 0 {
                    body(word << 6 | bits.trailingZeroBitCount)
                    bits &= bits &- 1
                }
            }
        }
        let bucketCount = 1 << 16
        let buckets = UnsafeMutablePointer<Int32>.allocate(capacity: bucketCount + 1)
        defer { buckets.deallocate() }
        buckets.initialize(repeating: 0, count: bucketCount + 1)
        var lmsCount = 0
        lmsAscending { position in
            buckets[firstTwo(text, position) &+ 1] &+= 1
            lmsCount &+= 1
        }
        for bucket in 0..<bucketCount { buckets[bucket &+ 1] &+= buckets[bucket] }
        let entries = UnsafeMutableRawPointer(suffixes).assumingMemoryBound(to: UInt64.self)
        lmsAscending { position in
            let bucket = firstTwo(text, position)
            entries[Int(truncatingIfNeeded: buckets[bucket])] = key(text, n, position &+ 2) | UInt64(truncatingIfNeeded: position)
            buckets[bucket] &+= 1
        }
        var state = State(text: text, n: n, reloadsLeft: lmsCount * reloadBudget)
        var start = 0
        for bucket in 0..<bucketCount {
            let end = Int(truncatingIfNeeded: buckets[bucket])
            if end &- start > 1 {
                guard state.sortRun(entries + start, end &- start, depth: 2) else { return nil }
            }
            start = end
        }
        // Entry i is read before slot i is written: slot i's four bytes lie in entry i / 2.
        for index in 0..<lmsCount { suffixes[index] = Int32(truncatingIfNeeded: entries[index] & positionMask) }
        return lmsCount
    }

    @inline(__always) private static func firstTwo(_ text: UnsafePointer<UInt8>, _ position: Int) -> Int {
        Int(truncatingIfNeeded: text[position]) << 8 | Int(truncatingIfNeeded: text[position &+ 1])
    }

    /// The five bytes at `position` as the high 40 bits of an entry; zeros past the end.
    @inline(__always) private static func key(_ text: UnsafePointer<UInt8>, _ n: Int, _ position: Int) -> UInt64 {
        if position &+ 8 <= n {
            return UInt64(bigEndian: UnsafeRawPointer(text + position).loadUnaligned(as: UInt64.self)) & ~positionMask
        }
        var value: UInt64 = 0
        var index = 0
        while index < 5 {
            value <<= 8
            if position &+ index < n { value |= UInt64(text[position &+ index]) }
            index &+= 1
        }
        return value << positionBits
    }

    private struct State {
        let text: UnsafePointer<UInt8>
        let n: Int
        var reloadsLeft: Int

        /// Sorts entries whose suffixes agree on their first `depth` bytes and whose keys hold the next five.
        mutating func sortRun(_ entries: UnsafeMutablePointer<UInt64>, _ count: Int, depth: Int) -> Bool {
            guard sortEntries(entries, count, badSplitsLeft: 2 * (Int.bitWidth - count.leadingZeroBitCount)) else { return false }
            var start = 0
            while start < count {
                let key = entries[start] >> LMSComparisonSort.positionBits
                var end = start &+ 1
                while end < count && entries[end] >> LMSComparisonSort.positionBits == key { end &+= 1 }
                if end &- start > 1 {
                    guard settleTies(entries + start, end &- start, depth: depth) else { return false }
                }
                start = end
            }
            return true
        }

        /// A run of entries with equal keys: reloaded five bytes deeper, or compared byte by byte when a suffix ends
        /// inside the key (its zero padding would tie with real zeros).
        private mutating func settleTies(_ entries: UnsafeMutablePointer<UInt64>, _ count: Int, depth: Int) -> Bool {
            var endsInside = false
            for index in 0..<count where Int(truncatingIfNeeded: entries[index] & LMSComparisonSort.positionMask) &+ depth &+ 5 > n {
                endsInside = true
            }
            if endsInside {
                return count <= LMSComparisonSort.exactRunLimit && insertionSortExactly(entries, count, depth: depth)
            }
            let deeper = depth &+ 5
            reloadsLeft &-= count
            guard deeper < LMSComparisonSort.depthLimit && reloadsLeft >= 0 else { return false }
            for index in 0..<count {
                let position = entries[index] & LMSComparisonSort.positionMask
                entries[index] = LMSComparisonSort.key(text, n, Int(truncatingIfNeeded: position) &+ deeper) | position
            }
            return sortRun(entries, count, depth: deeper)
        }

        /// Three-way quicksort by key (equal keys gather in the middle, in any order), insertion sort for short
        /// ranges; false when too many partitions split badly (a quadratic input).
        private func sortEntries(_ entries: UnsafeMutablePointer<UInt64>, _ count: Int, badSplitsLeft: Int) -> Bool {
            let shift = LMSComparisonSort.positionBits
            var entries = entries, count = count, badSplitsLeft = badSplitsLeft
            while count > 16 {
                let first = entries[0] >> shift, middle = entries[count / 2] >> shift, last = entries[count &- 1] >> shift
                let pivot = max(min(first, middle), min(max(first, middle), last))
                // [0, less) below the pivot, [less, index) equal, (greater, count) above.
                var less = 0, index = 0, greater = count &- 1
                while index <= greater {
                    let entry = entries[index]
                    let key = entry >> shift
                    if key < pivot {
                        entries[index] = entries[less]
                        entries[less] = entry
                        less &+= 1
                        index &+= 1
                    } else if key > pivot {
                        entries[index] = entries[greater]
                        entries[greater] = entry
                        greater &-= 1
                    } else {
                        index &+= 1
                    }
                }
                let above = count &- greater &- 1
                if max(less, above) > count &- count / 16 {
                    badSplitsLeft &-= 1
                    if badSplitsLeft < 0 { return false }
                }
                if less < above {
                    guard sortEntries(entries, less, badSplitsLeft: badSplitsLeft) else { return false }
                    entries += greater &+ 1
                    count = above
                } else {
                    guard sortEntries(entries + (greater &+ 1), above, badSplitsLeft: badSplitsLeft) else { return false }
                    count = less
                }
            }
            var index = 1
            while index < count {
                let entry = entries[index]
                let key = entry >> shift
                var slot = index
                while slot > 0 && entries[slot &- 1] >> shift > key {
                    entries[slot] = entries[slot &- 1]
                    slot &-= 1
                }
                entries[slot] = entry
                index &+= 1
            }
            return true
        }

        /// Insertion sort comparing the suffixes themselves from `depth` on (the end sorts before every byte).
        private func insertionSortExactly(_ entries: UnsafeMutablePointer<UInt64>, _ count: Int, depth: Int) -> Bool {
            var index = 1
            while index < count {
                let value = entries[index]
                var slot = index
                while slot > 0 {
                    guard let order = compare(entries[slot &- 1], value, from: depth) else { return false }
                    if order <= 0 { break }
                    entries[slot] = entries[slot &- 1]
                    slot &-= 1
                }
                entries[slot] = value
                index &+= 1
            }
            return true
        }

        /// −1, 0 or 1 as the suffix of entry `a` sorts before, with or after that of `b`; nil past the depth limit.
        private func compare(_ a: UInt64, _ b: UInt64, from depth: Int) -> Int? {
            let first = Int(truncatingIfNeeded: a & LMSComparisonSort.positionMask)
            let second = Int(truncatingIfNeeded: b & LMSComparisonSort.positionMask)
            var offset = depth
            while offset < LMSComparisonSort.depthLimit {
                let firstEnded = first &+ offset >= n, secondEnded = second &+ offset >= n
                if firstEnded || secondEnded { return firstEnded && secondEnded ? 0 : (firstEnded ? -1 : 1) }
                let left = text[first &+ offset], right = text[second &+ offset]
                if left != right { return left < right ? -1 : 1 }
                offset &+= 1
            }
            return nil
        }
    }
}
