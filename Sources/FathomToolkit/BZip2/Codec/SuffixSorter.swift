/// Suffix sorting by induced sorting (SA-IS: Nong, Zhang and Chan, "Two Efficient Algorithms for Linear Time Suffix
/// Array Construction", 2011), in linear time and with the reduced problem kept inside the suffix array itself.
///
/// Suffixes compare as strings with a virtual end smaller than every symbol: a suffix that is a prefix of another
/// sorts first. ``BurrowsWheeler`` turns this order into bzip2's order of rotations.
enum SuffixSorter {
    /// Sorts the suffixes of `text[0..<count]` into `suffixes[0..<count]` (starting positions, ascending order).
    static func sort(_ text: UnsafePointer<UInt8>, count: Int, into suffixes: UnsafeMutablePointer<Int32>) {
        precondition(count < Int(Int32.max), "a block is at most 900,000 bytes")
        sais(text, suffixes, count, 256)
    }

    private static func sais<Symbol: FixedWidthInteger>(_ text: UnsafePointer<Symbol>, _ sa: UnsafeMutablePointer<Int32>, _ n: Int, _ k: Int) {
        if n == 0 { return }
        if n == 1 {
            sa[0] = 0
            return
        }
        // Types: S when the suffix is smaller than the next one, L otherwise; the last suffix is L (the end is smaller).
        let isS = UnsafeMutablePointer<Bool>.allocate(capacity: n)
        defer { isS.deallocate() }
        isS[n - 1] = false
        var index = n - 2
        while index >= 0 {
            let here = text[index], next = text[index + 1]
            isS[index] = here < next || (here == next && isS[index + 1])
            index -= 1
        }
        @inline(__always) func isLMS(_ position: Int) -> Bool { position > 0 && isS[position] && !isS[position - 1] }

        let counts = UnsafeMutablePointer<Int32>.allocate(capacity: k)
        let bucket = UnsafeMutablePointer<Int32>.allocate(capacity: k)
        defer {
            counts.deallocate()
            bucket.deallocate()
        }
        counts.initialize(repeating: 0, count: k)
        for position in 0..<n { counts[Int(text[position])] += 1 }
        @inline(__always) func bucketEnds() {
            var sum: Int32 = 0
            for symbol in 0..<k {
                sum += counts[symbol]
                bucket[symbol] = sum
            }
        }
        @inline(__always) func bucketStarts() {
            var sum: Int32 = 0
            for symbol in 0..<k {
                bucket[symbol] = sum
                sum += counts[symbol]
            }
        }
        func induce() {
            bucketStarts()
            let lastSymbol = Int(text[n - 1])
            sa[Int(bucket[lastSymbol])] = Int32(n - 1)
            bucket[lastSymbol] += 1
            for slot in 0..<n {
                let before = Int(sa[slot]) - 1
                if before >= 0 && !isS[before] {
                    let symbol = Int(text[before])
                    sa[Int(bucket[symbol])] = Int32(before)
                    bucket[symbol] += 1
                }
            }
            bucketEnds()
            var slot = n - 1
            while slot >= 0 {
                let before = Int(sa[slot]) - 1
                if before >= 0 && isS[before] {
                    let symbol = Int(text[before])
                    bucket[symbol] -= 1
                    sa[Int(bucket[symbol])] = Int32(before)
                }
                slot -= 1
            }
        }

        // 1. Sort the LMS substrings: LMS positions at their buckets' ends, then induce.
        sa.update(repeating: -1, count: n)
        bucketEnds()
        for position in 1..<n where isLMS(position) {
            let symbol = Int(text[position])
            bucket[symbol] -= 1
            sa[Int(bucket[symbol])] = Int32(position)
        }
        induce()

        // 2. Name the sorted LMS substrings; equal substrings share a name.
        var lmsCount = 0
        for slot in 0..<n {
            let position = Int(sa[slot])
            if isLMS(position) {
                sa[lmsCount] = Int32(position)
                lmsCount += 1
            }
        }
        (sa + lmsCount).update(repeating: -1, count: n - lmsCount)
        var names = 0
        var previous = -1
        for slot in 0..<lmsCount {
            let position = Int(sa[slot])
            if previous < 0 || !equalLMSSubstrings(text, isS, n, position, previous) {
                names += 1
                previous = position
            }
            // LMS positions are at least two apart, so position / 2 is a free slot of its own.
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
            sais(UnsafePointer(reduced), sa, lmsCount, names)
        } else {
            for rank in 0..<lmsCount { sa[Int(reduced[rank])] = Int32(rank) }
        }
        var next = lmsCount - 1
        var position = n - 1
        while position >= 1 {
            if isLMS(position) {
                reduced[next] = Int32(position)
                next -= 1
            }
            position -= 1
        }
        for slot in 0..<lmsCount { sa[slot] = reduced[Int(sa[slot])] }

        // 4. The LMS suffixes in their final order at their buckets' ends, then induce every suffix from them.
        (sa + lmsCount).update(repeating: -1, count: n - lmsCount)
        bucketEnds()
        var slot = lmsCount - 1
        while slot >= 0 {
            let position = Int(sa[slot])
            sa[slot] = -1
            let symbol = Int(text[position])
            bucket[symbol] -= 1
            sa[Int(bucket[symbol])] = Int32(position)
            slot -= 1
        }
        induce()
    }

    /// Whether the LMS substrings at `first` and `second` are equal: the same symbols and types up to and including
    /// the next LMS position of each. One reaching the end of the text differs from every other.
    @inline(__always)
    private static func equalLMSSubstrings<Symbol: FixedWidthInteger>(
        _ text: UnsafePointer<Symbol>, _ isS: UnsafeMutablePointer<Bool>, _ n: Int, _ first: Int, _ second: Int
    ) -> Bool {
        var offset = 0
        while true {
            let a = first + offset, b = second + offset
            if a == n || b == n { return false }
            if text[a] != text[b] || isS[a] != isS[b] { return false }
            if offset > 0 {
                let aIsLMS = isS[a] && !isS[a - 1]
                let bIsLMS = isS[b] && !isS[b - 1]
                if aIsLMS || bIsLMS { return aIsLMS && bIsLMS }
            }
            offset += 1
        }
    }
}
