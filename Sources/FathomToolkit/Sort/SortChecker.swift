/// `sort --check`: reads one input and reports the first line out of order (with `-u`, also the first repeat).
public enum SortChecker {
    /// Returns nil when the input is in order, or the disorder as ``ToolkitError/disorder(_:line:_:)``.
    public static func check(input path: String, order: SortOptions) throws -> ToolkitError? {
        let comparator = LineComparator(order: order)
        let reader = try RunReader(path: path, bufferSize: 1 << 20)
        var previous: [UInt8] = []
        var number = 0
        while try reader.advance(using: comparator) {
            number += 1
            if number > 1 {
                let diff = previous.withUnsafeBufferPointer { last in
                    comparator.compare(last.baseAddress ?? reader.line, last.count, reader.line, reader.count)
                }
                if diff > 0 || (order.unique && diff == 0) {
                    let text = String(decoding: UnsafeBufferPointer(start: reader.line, count: reader.count), as: UTF8.self)
                    return .disorder(path == "-" ? "-" : path, line: number, text)
                }
            }
            previous.removeAll(keepingCapacity: true)
            previous.append(contentsOf: UnsafeBufferPointer(start: reader.line, count: reader.count))
        }
        return nil
    }
}
