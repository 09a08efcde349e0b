/// Byte counts as people read them.
public enum ByteCountText {
    /// `1.5 GiB`, `300 MiB`, `12 KiB`, `17 B` (negative counts read as 0).
    public static func describe(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        let count = max(0, bytes)
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(count) B" }
        let rounded = (value * 10).rounded() / 10  // below 10,240: the conversions below cannot trap
        return rounded == rounded.rounded() ? "\(Int(rounded)) \(units[unit])" : "\(rounded) \(units[unit])"
    }
}
