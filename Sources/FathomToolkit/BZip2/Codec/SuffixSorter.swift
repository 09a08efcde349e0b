/// Suffix sorting by induced sorting (SA-IS: Nong, Zhang and Chan, "Two Efficient Algorithms for Linear Time Suffix
/// Array Construction", 2011), in linear time and with the reduced problem kept inside the suffix array itself.
///
/// Suffixes compare as strings with a virtual end smaller than every symbol: a suffix that is a prefix of another
/// sorts first. ``BurrowsWheeler`` turns this order into bzip2's order of rotations.
///
/// The induced passes read no type array: each entry carries, in its sign, whether the suffix before it is still to
/// be induced, decided from two adjacent text symbols when the entry is written. Types are kept as bits (a block's
/// 900,000 fit in 113 KB) for finding and naming the LMS substrings.
enum SuffixSorter {
    /// Sorts the suffixes of `text[0..<count]` into `suffixes[0..<count]` (starting positions, ascending order).
    /// - Parameter comparingFirst: order the LMS suffixes by ``LMSComparisonSort`` first, by induction if it gives up.
    /// - Returns: whether the comparison sort was tried and gave up.
    @discardableResult
    static func sort(_ text: UnsafePointer<UInt8>, count: Int, into suffixes: UnsafeMutablePointer<Int32>, comparingFirst: Bool = true) -> Bool {
        precondition(count < Int(Int32.max), "a block is at most 900,000 bytes")
        var none = NoFinalOutput()
        return sais(text, suffixes, count, 256, &none, comparingFirst: comparingFirst)
    }

    /// Sorts as ``sort(_:count:into:)`` and, in the same last pass, writes the symbol before each sorted suffix
    /// (the one before the first is the last) to `last`; returns the rank of the suffix at `marked`, and whether the
    /// comparison sort was tried and gave up.
    static func sortWithPrecedingSymbols(
        _ text: UnsafePointer<UInt8>, count: Int, into suffixes: UnsafeMutablePointer<Int32>, last: UnsafeMutablePointer<UInt8>, marked: Int,
        comparingFirst: Bool = true
    ) -> (markedRank: Int, comparisonGaveUp: Bool) {
        precondition(count < Int(Int32.max), "a block is at most 900,000 bytes")
        var output = PrecedingSymbols(text: text, count: count, last: last, marked: marked)
        let gaveUp = sais(text, suffixes, count, 256, &output, comparingFirst: comparingFirst)
        return (output.markedRank, gaveUp)
    }

    /// S-type flags and LMS flags (an S-type position after an L-type one), one bit per position each.
    private struct TypeBits {
        let words: UnsafeMutablePointer<UInt64>
        let lms: UnsafeMutablePointer<UInt64>
        let wordCount: Int

        init<Symbol: FixedWidthInteger>(_ text: UnsafePointer<Symbol>, _ n: Int) {
            wordCount = n / 64 + 1
            words = .allocate(capacity: wordCount)
            words.initialize(repeating: 0, count: wordCount)
            lms = .allocate(capacity: wordCount)
            // The last position is L (the end is smaller); then right to left, a word of bits at a time.
            var nextIsS: UInt64 = 0
            var word: UInt64 = 0
            var index = n - 2
            while index >= 0 {
                let here = text[index], next = text[index + 1]
                nextIsS = (here < next ? 1 : 0) | (here == next ? nextIsS : 0)
                word |= nextIsS << UInt64(index & 63)
                if index & 63 == 0 {
                    words[index >> 6] = word
                    word = 0
                }
                index -= 1
            }
            // LMS: S here, L just before (position 0 never is).
            var carry: UInt64 = 1
            for index in 0..<wordCount {
                let types = words[index]
                lms[index] = types & ~(types << 1 | carry)
                carry = types >> 63
            }
        }

        func release() {
            words.deallocate()
            lms.deallocate()
        }

        @inline(__always) func isLMS(_ position: Int) -> Bool {
            position > 0 && lms[position >> 6] >> UInt64(position & 63) & 1 != 0
        }

        /// Calls `body` with every LMS position, from the last to the first.
        @inline(__always) func forEachLMSDescending(_ body: (Int) -> Void) {
            var index = wordCount - 1
            while index >= 0 {
                var bits = lms[index]
                while bits != 0 {
                    let high = 63 - bits.leadingZeroBitCount
                    body(index << 6 | high)
                    bits &= ~(1 << UInt64(high))
                }
                index -= 1
            }
        }
    }

    /// Sorts; returns whether the comparison sort of the LMS suffixes was tried and gave up.
    @discardableResult
    private static func sais<Symbol: FixedWidthInteger, Output: FinalOutput>(
        _ text: UnsafePointer<Symbol>, _ sa: UnsafeMutablePointer<Int32>, _ n: Int, _ k: Int, _ output: inout Output,
        comparingFirst: Bool = false
    ) -> Bool {
        if n == 0 { return false }
        if n == 1 {
            sa[0] = 0
            output.take(slot: 0, position: 0)
            return false
        }
        let types = TypeBits(text, n)
        let counts = UnsafeMutablePointer<Int32>.allocate(capacity: k)
        let bucket = UnsafeMutablePointer<Int32>.allocate(capacity: k)
        defer {
            types.release()
            counts.deallocate()
            bucket.deallocate()
        }
        counts.initialize(repeating: 0, count: k)
        for position in 0..<n { counts[Int(truncatingIfNeeded: text[position])] &+= 1 }

        // 1–3. The LMS suffixes in order at sa[0..<lmsCount]: by comparing them, or by induction.
        var gaveUp = false
        var sortedByComparison: Int?
        if comparingFirst, Symbol.self == UInt8.self, LMSComparisonSort.applies(count: n, suffixes: sa) {
            sortedByComparison = LMSComparisonSort.sort(
                UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), count: n, lmsBits: types.lms, lmsWords: types.wordCount,
                into: sa)
            gaveUp = sortedByComparison == nil
        }
        let lmsCount = sortedByComparison ?? sortLMSSuffixesByInduction(text, sa, n, k, types, counts, bucket)

        // 4. The LMS suffixes in their final order at their buckets' ends, then induce every suffix from them.
        (sa + lmsCount).update(repeating: 0, count: n - lmsCount)
        bucketEnds(counts, bucket, k)
        var slot = lmsCount - 1
        while slot >= 0 {
            let position = Int(sa[slot])
            sa[slot] = 0
            let symbol = Int(text[position])
            bucket[symbol] -= 1
            sa[Int(bucket[symbol])] = Int32(position)
            slot -= 1
        }
        induce(text, sa, n, counts, bucket, k, &output)
        return gaveUp
    }

    /// SA-IS's own steps 1–3: sorts the LMS substrings by induction, names them, sorts the reduced string
    /// (recursively when names repeat) and leaves the LMS suffixes in order at sa[0..<lmsCount]; returns lmsCount.
    private static func sortLMSSuffixesByInduction<Symbol: FixedWidthInteger>(
        _ text: UnsafePointer<Symbol>, _ sa: UnsafeMutablePointer<Int32>, _ n: Int, _ k: Int, _ types: TypeBits,
        _ counts: UnsafeMutablePointer<Int32>, _ bucket: UnsafeMutablePointer<Int32>
    ) -> Int {
        // 1. Sort the LMS substrings: LMS positions at their buckets' ends, then induce.
        sa.update(repeating: 0, count: n)
        bucketEnds(counts, bucket, k)
        types.forEachLMSDescending { position in
            let symbol = Int(truncatingIfNeeded: text[position])
            bucket[symbol] &-= 1
            sa[Int(truncatingIfNeeded: bucket[symbol])] = Int32(truncatingIfNeeded: position)
        }
        var none = NoFinalOutput()
        induce(text, sa, n, counts, bucket, k, &none)

        // 2. Name the sorted LMS substrings; equal substrings share a name.
        var lmsCount = 0
        for slot in 0..<n {
            let position = Int(sa[slot])
            if types.isLMS(position) {
                sa[lmsCount] = Int32(position)
                lmsCount += 1
            }
        }
        // Each LMS substring's length (to the next LMS position) where its name will go: position / 2 is a slot of
        // its own, as LMS positions are at least two apart.
        (sa + lmsCount).update(repeating: -1, count: n - lmsCount)
        var nextLMS = n
        types.forEachLMSDescending { position in
            sa[lmsCount + position / 2] = Int32(truncatingIfNeeded: nextLMS - position)
            nextLMS = position
        }
        var names = 0
        var previous = -1
        var previousLength = 0
        for slot in 0..<lmsCount {
            let position = Int(sa[slot])
            let length = Int(sa[lmsCount + position / 2])
            if previous < 0 || length != previousLength || !equalLMSSubstrings(text, n, position, previous, length) {
                names += 1
                previous = position
                previousLength = length
            }
            sa[lmsCount + position / 2] = Int32(names - 1)
        }
        var write = n - 1
        var read = n - 1
        while read >= lmsCount {
            if sa[read] >= 0 {
                sa[write] = sa[read]
                write -= 1
            }
            read -= 1
        }

        // 3. Sort the reduced string (the names in text order): recursively when names repeat.
        let reduced = sa + (n - lmsCount)
        if names < lmsCount {
            sais(UnsafePointer(reduced), sa, lmsCount, names, &none)
        } else {
            for rank in 0..<lmsCount { sa[Int(reduced[rank])] = Int32(rank) }
        }
        var next = lmsCount - 1
        types.forEachLMSDescending { position in
            reduced[next] = Int32(truncatingIfNeeded: position)
            next -= 1
        }
        for slot in 0..<lmsCount { sa[slot] = reduced[Int(sa[slot])] }
        return lmsCount
    }

    @inline(__always)
    private static func bucketEnds(_ counts: UnsafeMutablePointer<Int32>, _ bucket: UnsafeMutablePointer<Int32>, _ k: Int) {
        var sum: Int32 = 0
        for symbol in 0..<k {
            sum &+= counts[symbol]
            bucket[symbol] = sum
        }
    }

    @inline(__always)
    private static func bucketStarts(_ counts: UnsafeMutablePointer<Int32>, _ bucket: UnsafeMutablePointer<Int32>, _ k: Int) {
        var sum: Int32 = 0
        for symbol in 0..<k {
            bucket[symbol] = sum
            sum &+= counts[symbol]
        }
    }

    /// The two induced passes from LMS suffixes at their buckets' ends (empty slots hold 0).
    ///
    /// Left to right, a positive entry p means suffix p − 1 is L-type and is placed next in its bucket; each entry is
    /// written negative when the suffix before it is S-type (one comparison of two adjacent symbols), and every
    /// entry's sign is flipped once passed. Right to left, a positive entry p then means p − 1 is S-type; entries
    /// are written positive when the suffix before them is S-type too, and negatives are made positions again.
    @inline(__always)
    private static func induce<Symbol: FixedWidthInteger, Output: FinalOutput>(
        _ text: UnsafePointer<Symbol>, _ sa: UnsafeMutablePointer<Int32>, _ n: Int,
        _ counts: UnsafeMutablePointer<Int32>, _ bucket: UnsafeMutablePointer<Int32>, _ k: Int, _ output: inout Output
    ) {
        // Wrapping arithmetic throughout: every value is a position below n < 2³¹ or its complement.
        @inline(__always) func symbolAt(_ position: Int) -> Int { Int(truncatingIfNeeded: text[position]) }
        /// `position`, complemented when `flag`.
        @inline(__always) func entry(_ position: Int, complementedIf flag: Bool) -> Int32 {
            Int32(truncatingIfNeeded: position) ^ (0 &- Int32(truncatingIfNeeded: flag ? 1 : 0))
        }
        bucketStarts(counts, bucket, k)
        var induced = n &- 1
        var symbol = symbolAt(induced)
        // Position 0 has no suffix before it: either sign means "nothing to induce" for it.
        sa[Int(truncatingIfNeeded: bucket[symbol])] = entry(induced, complementedIf: symbolAt(max(induced &- 1, 0)) < symbol)
        bucket[symbol] &+= 1
        var slot = 0
        while slot < n {
            let value = sa[slot]
            if value > 0 {
                induced = Int(truncatingIfNeeded: value) &- 1
                symbol = symbolAt(induced)
                let target = Int(truncatingIfNeeded: bucket[symbol])
                bucket[symbol] = Int32(truncatingIfNeeded: target &+ 1)
                sa[target] = entry(induced, complementedIf: symbolAt(max(induced &- 1, 0)) < symbol)
            }
            sa[slot] = ~value
            slot &+= 1
        }
        bucketEnds(counts, bucket, k)
        slot = n &- 1
        while slot >= 0 {
            let value = sa[slot]
            if value > 0 {
                induced = Int(truncatingIfNeeded: value) &- 1
                symbol = symbolAt(induced)
                let target = Int(truncatingIfNeeded: bucket[symbol]) &- 1
                bucket[symbol] = Int32(truncatingIfNeeded: target)
                sa[target] = entry(induced, complementedIf: symbolAt(max(induced &- 1, 0)) > symbol)
            } else if value < 0 {
                sa[slot] = ~value
            }
            // The slot is final now.
            output.take(slot: slot, position: Int(truncatingIfNeeded: value < 0 ? ~value : value))
            slot &-= 1
        }
    }

    /// Whether the LMS substrings at `first` and `second`, both `length` long to their next LMS position, are equal:
    /// the same symbols through that position (equal symbols ending at an S-type position have equal types). One
    /// ending at the end of the text differs from every other.
    @inline(__always)
    private static func equalLMSSubstrings<Symbol: FixedWidthInteger>(
        _ text: UnsafePointer<Symbol>, _ n: Int, _ first: Int, _ second: Int, _ length: Int
    ) -> Bool {
        if first + length == n || second + length == n { return false }
        var offset = 0
        while offset <= length {
            if text[first + offset] != text[second + offset] { return false }
            offset += 1
        }
        return true
    }
}

/// What the last induced pass hands on, slot by slot, once a slot is final.
private protocol FinalOutput {
    mutating func take(slot: Int, position: Int)
}

private struct NoFinalOutput: FinalOutput {
    @inline(__always) mutating func take(slot: Int, position: Int) {}
}

/// The Burrows–Wheeler column, written as the suffixes come out sorted.
private struct PrecedingSymbols: FinalOutput {
    let text: UnsafePointer<UInt8>
    let count: Int
    let last: UnsafeMutablePointer<UInt8>
    let marked: Int
    var markedRank = 0

    init(text: UnsafePointer<UInt8>, count: Int, last: UnsafeMutablePointer<UInt8>, marked: Int) {
        self.text = text
        self.count = count
        self.last = last
        self.marked = marked
    }

    @inline(__always) mutating func take(slot: Int, position: Int) {
        last[slot] = text[position == 0 ? count &- 1 : position &- 1]
        if position == marked { markedRank = slot }
    }
}
