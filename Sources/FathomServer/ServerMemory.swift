#if canImport(CMalloc)
import CMalloc
#endif

/// The coordinator's malloc setting, made once per process.
enum ServerMemory {
    /// Serves blocks of 256 KiB and more (bundle chunks, large log pages) with mmap and returns them when freed.
    /// glibc would otherwise raise the threshold after each free, and the arenas of the threads that touched a
    /// transfer's buffers would keep them resident: after a 1 GiB bundle went up and down the server stayed
    /// about 25 MiB larger for nothing.
    static let returnLargeBlocks: Void = {
        #if canImport(CMalloc)
        _ = mallopt(M_MMAP_THRESHOLD, 256 << 10)
        #endif
    }()
}
