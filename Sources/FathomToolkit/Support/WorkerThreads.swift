import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Plain POSIX threads for CPU-bound work.
///
/// The toolkit does not use Dispatch's global queues for its workers: on Linux they share their threads with
/// Swift's cooperative pool (one per core), so a command whose caller already occupies a pool thread would get
/// one core less than it asked for.
enum WorkerThreads {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    /// Starts a thread running `body`; returns its handle for ``join(_:)``.
    static func spawn(_ body: @escaping @Sendable () -> Void) -> pthread_t {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 8 << 20)
        let status = pthread_create(&thread, &attributes, { raw in
            let body = Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue()
            body.run()
            return nil
        }, box)
        pthread_attr_destroy(&attributes)
        precondition(status == 0, "pthread_create failed: \(status)")
        return thread
    }

    static func join(_ thread: pthread_t) {
        pthread_join(thread, nil)
    }

    /// Runs `body(0..<count)` on `count` threads (the caller's is one of them) and waits for all.
    static func parallelFor(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        guard count > 1 else {
            if count == 1 { body(0) }
            return
        }
        let threads = (1..<count).map { index in spawn { body(index) } }
        body(0)
        threads.forEach(join)
    }
}

/// A queue of jobs that worker threads take from; ``close()`` lets them finish once it is empty.
final class JobQueue: @unchecked Sendable {
    private var jobs: [(() -> Void)?] = []
    private var head = 0
    private var closed = false
    private var mutex = pthread_mutex_t()
    private let available = DispatchSemaphore(value: 0)

    init() {
        pthread_mutex_init(&mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
    }

    func put(_ job: @escaping () -> Void) {
        pthread_mutex_lock(&mutex)
        jobs.append(job)
        pthread_mutex_unlock(&mutex)
        available.signal()
    }

    /// The next job, or nil once the queue is closed and empty.
    func take() -> (() -> Void)? {
        available.wait()
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        // Release the job (and what it holds) as soon as it is taken.
        jobs[head] = nil
        head += 1
        if head > 256 {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }

    /// Wakes every worker to end after the jobs already queued.
    func close(workers: Int) {
        pthread_mutex_lock(&mutex)
        closed = true
        pthread_mutex_unlock(&mutex)
        for _ in 0..<workers { available.signal() }
    }
}
