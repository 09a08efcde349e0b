/// Huffman code lengths and canonical codes as bzip2 uses them: at most 258 symbols, lengths 1…20.
enum HuffmanCode {
    /// The longest code bzip2's decoders accept.
    static let maxDecodableLength = 20

    /// Code lengths for `frequencies`, none longer than `maxLength`. As libbz2 does it: every symbol counts at least
    /// once, ties go to the shallower subtree, and when a code comes out too long every weight is halved (keeping
    /// its rank) and the tree is built again.
    static func lengths(for frequencies: UnsafePointer<Int32>, count alphabet: Int, maxLength: Int, into lengths: UnsafeMutablePointer<UInt8>) {
        let nodes = 2 * alphabet + 2
        var weight = [Int](repeating: 0, count: nodes)
        var parent = [Int](repeating: 0, count: nodes)
        var heap = [Int](repeating: 0, count: alphabet + 2)
        for symbol in 0..<alphabet { weight[symbol + 1] = max(1, Int(frequencies[symbol])) << 8 }
        while true {
            var nodeCount = alphabet
            var heapCount = 0
            heap[0] = 0
            weight[0] = 0
            parent[0] = -2
            func up(_ start: Int) {
                var slot = start
                let node = heap[slot]
                while weight[node] < weight[heap[slot >> 1]] {
                    heap[slot] = heap[slot >> 1]
                    slot >>= 1
                }
                heap[slot] = node
            }
            func down(_ start: Int) {
                var slot = start
                let node = heap[slot]
                while true {
                    var child = slot << 1
                    if child > heapCount { break }
                    if child < heapCount && weight[heap[child + 1]] < weight[heap[child]] { child += 1 }
                    if weight[node] < weight[heap[child]] { break }
                    heap[slot] = heap[child]
                    slot = child
                }
                heap[slot] = node
            }
            for leaf in 1...alphabet {
                parent[leaf] = -1
                heapCount += 1
                heap[heapCount] = leaf
                up(heapCount)
            }
            while heapCount > 1 {
                let first = heap[1]
                heap[1] = heap[heapCount]
                heapCount -= 1
                down(1)
                let second = heap[1]
                heap[1] = heap[heapCount]
                heapCount -= 1
                down(1)
                nodeCount += 1
                parent[first] = nodeCount
                parent[second] = nodeCount
                // The weight above, with the deeper subtree's depth + 1 in the low byte: ties prefer shallow trees.
                weight[nodeCount] = ((weight[first] & ~0xFF) + (weight[second] & ~0xFF)) | (1 + max(weight[first] & 0xFF, weight[second] & 0xFF))
                parent[nodeCount] = -1
                heapCount += 1
                heap[heapCount] = nodeCount
                up(heapCount)
            }
            var tooLong = false
            for leaf in 1...alphabet {
                var depth = 0
                var node = leaf
                while parent[node] >= 0 {
                    node = parent[node]
                    depth += 1
                }
                lengths[leaf - 1] = UInt8(depth)
                if depth > maxLength { tooLong = true }
            }
            guard tooLong else { return }
            for leaf in 1...alphabet { weight[leaf] = (1 + (weight[leaf] >> 8) / 2) << 8 }
        }
    }

    /// Canonical codes for `lengths`: shorter codes first, and by symbol within a length.
    static func codes(for lengths: UnsafePointer<UInt8>, count alphabet: Int, into codes: UnsafeMutablePointer<UInt32>) {
        var code: UInt32 = 0
        for length in 1...maxDecodableLength {
            for symbol in 0..<alphabet where Int(lengths[symbol]) == length {
                codes[symbol] = code
                code += 1
            }
            code <<= 1
        }
    }
}

/// A table-driven decoder for one canonical code: the next `lookupBits` bits index a table that gives the symbol and
/// its length, and the second symbol too when both fit; longer codes are resolved by length, as bzip2 does.
struct HuffmanDecoder {
    static let lookupBits = 11
    /// Per entry: bits used (low 5), symbol count (bits 5–6: 0 = longer than the table), first symbol (bits 7–15),
    /// second symbol (bits 16–24), the first symbol's length when there are two (bits 25–29).
    var table: [UInt32]
    /// For lengths beyond the table: the largest code of each length (left-aligned to 20 bits), and where the
    /// symbols of that length start in `sorted`.
    var limit: [Int32]
    var base: [Int32]
    var sorted: [UInt16]
    var maxLength: Int

    /// Builds the decoder, refusing lengths outside 1…20 or a code with more codes than bit patterns.
    init(lengths: UnsafePointer<UInt8>, count alphabet: Int, pairable: Int) throws(BZip2DecodeError) {
        var counts = [Int](repeating: 0, count: HuffmanCode.maxDecodableLength + 1)
        var longest = 0
        for symbol in 0..<alphabet {
            let length = Int(lengths[symbol])
            counts[length] += 1
            longest = max(longest, length)
        }
        // Kraft: the codes must fit in the bit patterns of each length.
        var room = 1
        for length in 1...HuffmanCode.maxDecodableLength {
            room = room * 2 - counts[length]
            if room < 0 { throw BZip2DecodeError(offset: 0, reason: "a Huffman table has more codes of length \(length) than fit (over-subscribed)") }
        }
        maxLength = longest
        var sorted = [UInt16](repeating: 0, count: alphabet)
        var limit = [Int32](repeating: -1, count: HuffmanCode.maxDecodableLength + 2)
        var base = [Int32](repeating: 0, count: HuffmanCode.maxDecodableLength + 2)
        var code: Int32 = 0
        var position = 0
        var codes = [UInt32](repeating: 0, count: alphabet)
        for length in 1...HuffmanCode.maxDecodableLength {
            base[length] = Int32(position) - code
            for symbol in 0..<alphabet where Int(lengths[symbol]) == length {
                sorted[position] = UInt16(symbol)
                codes[symbol] = UInt32(code)
                position += 1
                code += 1
            }
            limit[length] = code - 1
            code <<= 1
        }
        self.sorted = sorted
        self.limit = limit
        self.base = base
        let bits = Self.lookupBits
        var table = [UInt32](repeating: 0, count: 1 << bits)
        // Single symbols first.
        for symbol in 0..<alphabet {
            let length = Int(lengths[symbol])
            guard length <= bits else { continue }
            let first = Int(codes[symbol]) << (bits - length)
            for fill in first..<(first + (1 << (bits - length))) {
                table[fill] = UInt32(length) | 1 << 5 | UInt32(symbol) << 7
            }
        }
        // Then pairs: after a short first code, the rest of the index may hold a whole second code. The end-of-block
        // symbol never pairs (`pairable`: the symbols below it).
        let singles = table
        for index in 0..<(1 << bits) {
            let entry = singles[index]
            let firstLength = Int(entry & 31)
            guard entry >> 5 & 3 == 1, Int(entry >> 7 & 0x1FF) < pairable, firstLength < bits else { continue }
            let second = singles[(index << firstLength) & ((1 << bits) - 1)]
            let secondLength = Int(second & 31)
            guard second >> 5 & 3 == 1, firstLength + secondLength <= bits, Int(second >> 7 & 0x1FF) < pairable else { continue }
            table[index] = UInt32(firstLength + secondLength) | 2 << 5 | (entry >> 7 & 0x1FF) << 7 | (second >> 7 & 0x1FF) << 16
                | UInt32(firstLength) << 25
        }
        self.table = table
    }

    /// The symbol of a code longer than the table, from the next 20 bits (`window`, left-aligned in 32); nil when no
    /// code matches (an incomplete code's unused patterns).
    @inline(__always)
    func slowSymbol(_ window: UInt32) -> (symbol: Int, length: Int)? {
        var length = Self.lookupBits + 1
        while length <= maxLength {
            let code = Int32(window >> UInt32(32 - length))
            if code <= limit[length] {
                let index = Int(code + base[length])
                guard index >= 0 && index < sorted.count else { return nil }
                return (Int(sorted[index]), length)
            }
            length += 1
        }
        return nil
    }
}
