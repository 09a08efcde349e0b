import CBZip2
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Work space for libbz2, kept for the next block instead of returned to the system.
///
/// Each block needs several megabytes of fresh work space (7.6 MB to compress at -9, 3.6 MB to decode). Fresh
/// memory from the system costs a page fault per 4 KiB, which adds several percent to every block; keeping freed
/// work space in the heap instead would keep it resident in every worker thread's arena. This cache keeps a
/// bounded number of buffers, by size, for any thread to reuse.
final class BZip2Memory: Sendable {
    static let shared = BZip2Memory(limit: 96 << 20)

    private struct Pool {
        /// Addresses of kept buffers (with their header), by size.
        var free: [Int: [UInt]] = [:]
        var cachedBytes = 0
    }

    private let pool = Mutex(Pool())
    private let limit: Int
    private static let header = 16

    init(limit: Int) {
        self.limit = limit
    }

    func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        let reused = pool.withLock { pool -> UInt? in
            guard let address = pool.free[size]?.popLast() else { return nil }
            pool.cachedBytes -= size
            return address
        }
        if let reused, let raw = UnsafeMutableRawPointer(bitPattern: reused) { return raw + Self.header }
        guard let raw = malloc(size + Self.header) else { return nil }
        raw.storeBytes(of: size, as: Int.self)
        return raw + Self.header
    }

    func release(_ pointer: UnsafeMutableRawPointer) {
        let raw = pointer - Self.header
        let size = raw.load(as: Int.self)
        let address = UInt(bitPattern: raw)
        let kept = pool.withLock { pool -> Bool in
            guard pool.cachedBytes + size <= limit else { return false }
            pool.free[size, default: []].append(address)
            pool.cachedBytes += size
            return true
        }
        if !kept { free(raw) }
    }

    /// Points a libbz2 stream's allocator at this cache.
    func install(in stream: inout bz_stream) {
        stream.opaque = Unmanaged.passUnretained(self).toOpaque()
        stream.bzalloc = { opaque, count, size in
            let memory = Unmanaged<BZip2Memory>.fromOpaque(opaque!).takeUnretainedValue()
            return memory.allocate(Int(count) * Int(size))
        }
        stream.bzfree = { opaque, pointer in
            guard let pointer else { return }
            Unmanaged<BZip2Memory>.fromOpaque(opaque!).takeUnretainedValue().release(pointer)
        }
    }
}
