#if canImport(Glibc)
import Glibc
#endif

/// Working memory for the codec's random reads, on 2 MiB pages where the kernel allows (`madvise(MADV_HUGEPAGE)`):
/// a walk over 8 MB of 4 KiB pages misses the TLB at nearly every step.
struct HugePageRegion {
    static let pageSize = 2 << 20
    let base: UnsafeMutableRawPointer

    /// `bytes` rounded up to whole huge pages: what the region may hold in memory once touched.
    static func roundedSize(_ bytes: Int) -> Int {
        (bytes + pageSize - 1) / pageSize * pageSize
    }

    init(bytes: Int) {
        var pointer: UnsafeMutableRawPointer?
        let rounded = Self.roundedSize(bytes)
        if posix_memalign(&pointer, Self.pageSize, rounded) != 0 || pointer == nil {
            pointer = malloc(max(bytes, 1))
        } else {
            _ = madvise(pointer, rounded, 14)  // MADV_HUGEPAGE
        }
        base = pointer!
    }

    func release() {
        free(base)
    }
}
