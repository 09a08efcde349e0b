import Dispatch

/// Runs `work` on items on `workers` threads at once and hands the results to the caller in input order, with at
/// most `window` items read ahead, so memory stays bounded however large the input.
///
/// The calling thread produces and consumes (it does the reading and writing); the workers only compute.
final class OrderedPipeline<Input, Output>: @unchecked Sendable {
    private final class Slot: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var result: Result<Output, any Error>?
    }

    private let workers: Int
    private let window: Int
    private let work: (Input) throws -> Output

    init(workers: Int, window: Int, work: @escaping (Input) throws -> Output) {
        self.workers = max(1, workers)
        self.window = max(self.workers, window)
        self.work = work
    }

    /// Calls `produce` until it returns nil, and `consume` with each result in order. The first error (from any of
    /// the three) stops reading; in-flight work is awaited before it is rethrown.
    func run(cancellation: CancellationFlag, produce: () throws -> Input?, consume: (Output) throws -> Void) throws {
        let queue = JobQueue()
        let threads = (0..<workers).map { _ in
            WorkerThreads.spawn {
                while let job = queue.take() { job() }
            }
        }
        var pending: [Slot] = []
        var inputDone = false
        defer {
            for slot in pending { slot.done.wait() }
            queue.close(workers: workers)
            threads.forEach(WorkerThreads.join)
        }
        while true {
            try cancellation.check()
            while !inputDone, pending.count < window {
                guard let item = try produce() else {
                    inputDone = true
                    break
                }
                let slot = Slot()
                pending.append(slot)
                let box = UncheckedBox(item)
                queue.put { [self] in
                    slot.result = Result { try self.work(box.value) }
                    slot.done.signal()
                }
            }
            guard let slot = pending.first else { return }
            slot.done.wait()
            pending.removeFirst()
            try consume(slot.result!.get())
        }
    }
}

/// Carries a value to another thread that alone uses it from then on.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value

    init(_ value: Value) {
        self.value = value
    }
}
