/// One line about a (de)compressed file, for `-v` and for flow logs.
public enum BZip2Report {
    public static func line(file: String, summary: BZip2Summary, decompressing: Bool, testing: Bool = false) -> String {
        let rate = ByteSize.format(Int(summary.throughput(compressing: !decompressing)))
        let seconds = (summary.seconds * 100).rounded() / 100
        if testing { return "\(file): ok (\(ByteSize.format(summary.bytesOut)) in \(summary.streams) streams, \(seconds) s)" }
        let ratio = summary.bytesIn > 0 && summary.bytesOut > 0
            ? (Double(decompressing ? summary.bytesOut : summary.bytesIn) / Double(decompressing ? summary.bytesIn : summary.bytesOut) * 100).rounded() / 100 : 0
        return "\(file): \(ByteSize.format(summary.bytesIn)) -> \(ByteSize.format(summary.bytesOut)) (\(ratio):1) in \(seconds) s, \(rate)/s"
            + (BZip2Engine.current == .libbz2 ? " (libbz2)" : "")
    }
}
