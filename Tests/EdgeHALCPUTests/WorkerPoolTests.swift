import EdgeHALCPU
import Synchronization
import Testing

struct WorkerPoolTests {
    @Test(arguments: [1, 2, 3, 8])
    func everyWorkerRunsOncePerJob(_ threads: Int) {
        let pool = WorkerPool(threads: threads)
        let hits = Atomic<Int>(0)
        for _ in 0..<1000 { pool.run { _ in hits.add(1, ordering: .relaxed) } }
        #expect(hits.load(ordering: .relaxed) == 1000 * threads)
    }

    @Test func parallelForCoversTheRangeExactlyOnce() {
        let pool = WorkerPool(threads: 3)
        for count in [0, 1, 2, 7, 64, 1001] {
            let seen = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
            seen.initialize(repeating: 0, count: max(count, 1))
            nonisolated(unsafe) let s = seen
            pool.parallelFor(count, granularity: 4) { r in for i in r { s[i] += 1 } }
            #expect((0..<count).allSatisfy { seen[$0] == 1 })
            seen.deallocate()
        }
    }
}
