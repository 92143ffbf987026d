import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A persistent pool of worker threads for data-parallel kernels.
///
/// `run` hands one closure to every worker (the caller is worker 0) and returns when all are done.
/// Workers spin briefly between jobs — a decode step dispatches hundreds of small ops, and waking a
/// sleeping thread costs more than most of them — then park on a condition variable when idle.
public final class WorkerPool: @unchecked Sendable {
    public let threads: Int
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private nonisolated(unsafe) var job: ((Int) -> Void)?
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var handles: [pthread_t] = []
    /// Serializes callers: the pool runs one job at a time.
    private let dispatch = Mutex(())

    /// Spin iterations before a worker parks (≈ 50–100 µs on current cores).
    static let spinLimit = 20_000

    public init(threads: Int) {
        self.threads = max(1, threads)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        for index in 1..<self.threads {
            let box = Unmanaged.passRetained(WorkerStart(pool: self, index: index))
            var handle = pthread_t()
            pthread_create(&handle, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.pool.workerLoop(start.index)
                return nil
            }, box.toOpaque())
            handles.append(handle)
        }
    }

    deinit {
        stopping.store(true, ordering: .releasing)
        generation.add(1, ordering: .releasing)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        for h in handles { pthread_join(h, nil) }
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(wake)
        mutex.deallocate()
        wake.deallocate()
    }

    /// Calls `body(worker)` for worker in 0..<threads, in parallel; returns when every call has returned.
    public func run(_ body: (Int) -> Void) {
        if threads == 1 { body(0); return }
        dispatch.withLock { _ in
            withoutActuallyEscaping(body) { escapable in
                job = escapable
                pending.store(threads - 1, ordering: .relaxed)
                // Sequentially consistent with the parking worker's sleepers/generation pair (Dekker).
                generation.add(1, ordering: .sequentiallyConsistent)
                if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                    pthread_mutex_lock(mutex)
                    pthread_cond_broadcast(wake)
                    pthread_mutex_unlock(mutex)
                }
                escapable(0)
                while pending.load(ordering: .acquiring) > 0 { spinPause() }
                job = nil
            }
        }
    }

    /// Splits 0..<count into one contiguous chunk per worker (multiples of `granularity`) and runs them.
    public func parallelFor(_ count: Int, granularity: Int = 1, _ body: (Range<Int>) -> Void) {
        let units = (count + granularity - 1) / granularity
        let workers = min(threads, units)
        if workers <= 1 { if count > 0 { body(0..<count) }; return }
        run { w in
            guard w < workers else { return }
            let lo = units * w / workers * granularity, hi = min(count, units * (w + 1) / workers * granularity)
            if lo < hi { body(lo..<hi) }
        }
    }

    private func workerLoop(_ index: Int) {
        var seen = 0
        while true {
            var spins = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                spins += 1
                if spins < Self.spinLimit {
                    spinPause()
                } else {
                    pthread_mutex_lock(mutex)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen {
                        pthread_cond_wait(wake, mutex)
                    }
                    sleepers.subtract(1, ordering: .relaxed)
                    pthread_mutex_unlock(mutex)
                    spins = 0
                }
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            job?(index)
            pending.subtract(1, ordering: .releasing)
        }
    }

    @inline(__always) private func spinPause() {
        #if arch(x86_64) || arch(arm64)
        // A compiler barrier is enough to keep the loop honest; the atomic load re-reads memory.
        _ = generation.load(ordering: .relaxed)
        #endif
    }
}

private final class WorkerStart {
    // Unowned: workers must not keep the pool alive; its deinit joins them before memory goes away.
    unowned(unsafe) let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) {
        self.pool = pool
        self.index = index
    }
}
