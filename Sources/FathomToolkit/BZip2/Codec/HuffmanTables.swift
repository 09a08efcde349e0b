/// The Huffman side of a block: 2–6 tables, one chosen per 50 symbols, refined over
/// ``BZip2Encoder/selectionRounds`` rounds as libbz2 does: start from tables that each favour a slice of the
/// symbol range, let every group pick its cheapest table, rebuild each table from the groups that picked it.
struct HuffmanTables {
    private let symbols: UnsafePointer<UInt16>
    private let count: Int
    private let alphabet: Int
    private let tableCount: Int
    /// Code lengths, `alphabet` per table.
    private var lengths: [UInt8]
    private var selectors: [UInt8] = []

    init(symbols: UnsafePointer<UInt16>, count: Int, alphabet: Int) {
        self.symbols = symbols
        self.count = count
        self.alphabet = alphabet
        tableCount = count < 200 ? 2 : count < 600 ? 3 : count < 1200 ? 4 : count < 2400 ? 5 : 6
        lengths = [UInt8](repeating: 0, count: 6 * alphabet)
        startingTables()
        for _ in 0..<BZip2Encoder.selectionRounds { refine() }
    }

    /// Tables that each make one slice of the symbols (by frequency, in symbol order) cheap and the rest dear.
    private mutating func startingTables() {
        var frequencies = [Int](repeating: 0, count: alphabet)
        for index in 0..<count { frequencies[Int(symbols[index])] += 1 }
        var remaining = count
        var start = 0
        var parts = tableCount
        while parts > 0 {
            let target = remaining / parts
            var end = start - 1
            var taken = 0
            while taken < target && end < alphabet - 1 {
                end += 1
                taken += frequencies[end]
            }
            if end > start && parts != tableCount && parts != 1 && (tableCount - parts) % 2 == 1 {
                taken -= frequencies[end]
                end -= 1
            }
            for symbol in 0..<alphabet {
                lengths[(parts - 1) * alphabet + symbol] = symbol >= start && symbol <= end ? 0 : 15
            }
            parts -= 1
            start = end + 1
            remaining -= taken
        }
    }

    /// One round: every group of 50 picks the table that codes it in the fewest bits (summed for all tables at once,
    /// 10 bits a table in one 64-bit word), then each table is rebuilt from the symbols of the groups that picked it.
    private mutating func refine() {
        var packed = [UInt64](repeating: 0, count: alphabet)
        for table in 0..<tableCount {
            for symbol in 0..<alphabet { packed[symbol] |= UInt64(lengths[table * alphabet + symbol]) << UInt64(10 * table) }
        }
        var frequencies = [Int32](repeating: 0, count: 6 * alphabet)
        selectors.removeAll(keepingCapacity: true)
        selectors.reserveCapacity(count / BZip2Encoder.groupSize + 1)
        packed.withUnsafeBufferPointer { packed in
            frequencies.withUnsafeMutableBufferPointer { frequencies in
                var start = 0
                while start < count {
                    let end = min(start + BZip2Encoder.groupSize, count)
                    var costs: UInt64 = 0
                    for index in start..<end { costs &+= packed[Int(symbols[index])] }
                    var best = 0
                    var bestCost = costs & 0x3FF
                    for table in 1..<tableCount {
                        let cost = (costs >> UInt64(10 * table)) & 0x3FF
                        if cost < bestCost {
                            best = table
                            bestCost = cost
                        }
                    }
                    selectors.append(UInt8(best))
                    let base = best * alphabet
                    for index in start..<end { frequencies[base + Int(symbols[index])] += 1 }
                    start = end
                }
            }
        }
        frequencies.withUnsafeBufferPointer { frequencies in
            lengths.withUnsafeMutableBufferPointer { lengths in
                for table in 0..<tableCount {
                    HuffmanCode.lengths(
                        for: frequencies.baseAddress! + table * alphabet, count: alphabet, maxLength: BZip2Encoder.maxCodeLength,
                        into: lengths.baseAddress! + table * alphabet)
                }
            }
        }
    }

    /// Writes the table count, the selectors (move-to-front, unary), each table's lengths (as steps from the
    /// previous length), then the symbols.
    func write(to sink: inout BitSink) {
        sink.reserve(8 + selectors.count / 8 * 6 + 8 + tableCount * alphabet * 6)
        sink.write(UInt32(tableCount), bits: 3)
        sink.write(UInt32(selectors.count), bits: 15)
        var order: [UInt8] = [0, 1, 2, 3, 4, 5]
        for selector in selectors {
            var position = 0
            while order[position] != selector { position += 1 }
            order.remove(at: position)
            order.insert(selector, at: 0)
            for _ in 0..<position { sink.write(1, bits: 1) }
            sink.write(0, bits: 1)
        }
        var codes = [UInt32](repeating: 0, count: 6 * alphabet)
        for table in 0..<tableCount {
            var current = Int(lengths[table * alphabet])
            sink.write(UInt32(current), bits: 5)
            for symbol in 0..<alphabet {
                let length = Int(lengths[table * alphabet + symbol])
                while current < length {
                    sink.write(2, bits: 2)
                    current += 1
                }
                while current > length {
                    sink.write(3, bits: 2)
                    current -= 1
                }
                sink.write(0, bits: 1)
            }
            lengths.withUnsafeBufferPointer { lengths in
                codes.withUnsafeMutableBufferPointer { codes in
                    HuffmanCode.codes(for: lengths.baseAddress! + table * alphabet, count: alphabet, into: codes.baseAddress! + table * alphabet)
                }
            }
        }
        // Code and length in one word per symbol and table: code << 5 | length.
        let coded = (0..<(6 * alphabet)).map { codes[$0] << 5 | UInt32(lengths[$0]) }
        sink.reserve(count * BZip2Encoder.maxCodeLength / 8 + 16)
        coded.withUnsafeBufferPointer { coded in
            var start = 0
            var group = 0
            while start < count {
                let end = min(start + BZip2Encoder.groupSize, count)
                let base = coded.baseAddress! + Int(selectors[group]) * alphabet
                for index in start..<end {
                    let word = base[Int(symbols[index])]
                    sink.write(word >> 5, bits: Int(word & 31))
                }
                start = end
                group += 1
            }
        }
    }
}
