import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A persistent pool of worker threads for data-parallel kernels.
///
/// `run` hands one closure to every worker (the caller is worker 0) and returns when all are done.
/// Workers spin between jobs — a decode step dispatches hundreds of small ops with serial gaps of
/// 5–50 µs between them, and waking a parked thread (futex wake, reschedule) costs tens of µs in
/// this VM — then park on a condition variable once idle for ``spinNanoseconds``.
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

    /// How long an idle worker spins before it parks. A limit of 20 000 spin iterations (≈ 7 µs)
    /// parked the worker inside most decode steps: SmolLM2 decode ran 1.17× faster at 2 threads with
    /// ≈ 300 000 (edgehal bench -p 0 -n 64 -d 128, 5 interleaved rounds). Time-based so it does not
    /// depend on how fast a core spins; 2 ms covers the gap between two tokens.
    static let spinNanoseconds: UInt64 = 2_000_000

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
            var deadline: UInt64 = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                spins &+= 1
                // The clock is read once every 1024 spins (≈ 0.3–1 µs): cheap next to the spin itself.
                var parking = false
                if spins & 1023 == 0 {
                    let now = Self.monotonicNanoseconds()
                    if deadline == 0 { deadline = now &+ Self.spinNanoseconds } else { parking = now > deadline }
                }
                if !parking {
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
                    deadline = 0
                }
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            job?(index)
            pending.subtract(1, ordering: .releasing)
        }
    }

    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
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
