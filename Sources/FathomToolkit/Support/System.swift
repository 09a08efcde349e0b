#if canImport(Glibc)
import Glibc
#endif

/// The few facts about the machine the toolkit needs, without Foundation.
enum System {
    static var activeProcessorCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    static var openFileLimit: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return Int(min(limit.rlim_cur, 1 << 20))
    }

    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// This process's resident memory, from /proc/self/statm.
    static func residentBytes() -> Int {
        guard let text = try? readSmallFile("/proc/self/statm") else { return 0 }  // not Linux: the progress line shows no resident size
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Monotonic seconds.
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

#if canImport(CMalloc)
import CMalloc
#endif

extension System {
    /// Makes glibc serve allocations over 4 MiB with mmap and return them when freed (a fixed threshold: glibc would
    /// otherwise raise it after each free). Without it, the per-thread
    /// arenas of the worker threads keep every freed multi-megabyte block (libbz2's work space, decoded blocks)
    /// resident, and the process grows far past its working set.
    /// With `budget`, the thresholds shrink with it (at most 1/16 of it served from the heap per block, 1/8 kept
    /// free at a heap's top), so a sort with a small memory budget does not hold freed blocks beyond it.
    static func returnLargeBlocksToSystem(budget: Int? = nil) {
        #if canImport(CMalloc)
        let mmapThreshold = max(128 << 10, min(4 << 20, (budget ?? .max) / 16))
        let trimThreshold = max(1 << 20, min(32 << 20, (budget ?? .max) / 8))
        _ = mallopt(M_MMAP_THRESHOLD, Int32(mmapThreshold))
        _ = mallopt(M_TRIM_THRESHOLD, Int32(trimThreshold))
        _ = mallopt(M_ARENA_MAX, 4)
        #endif
    }
}
