import EdgeHAL

/// Measures the machine's memory read bandwidth the way the llama.cpp baseline did: summing a
/// large float array (far beyond the caches) with every worker, best of several passes.
public enum MemoryBandwidth {
    /// Bytes per second.
    public static func measure(pool: WorkerPool, megabytes: Int = 512, passes: Int = 3) -> Double {
        let count = megabytes << 18  // floats
        let data = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { data.deallocate() }
        data.initialize(repeating: 1, count: count)
        nonisolated(unsafe) let base = UnsafeRawPointer(data)
        var best = 0.0
        var sink: Float = 0
        for _ in 0..<passes {
            let partial = UnsafeMutablePointer<Float>.allocate(capacity: pool.threads * 16)
            defer { partial.deallocate() }
            nonisolated(unsafe) let out = partial
            let start = monotonicSeconds()
            pool.parallelFor(count, granularity: 64) { r in
                var a = SIMD16<Float>(repeating: 0), b = a
                var i = r.lowerBound
                while i + 32 <= r.upperBound {
                    a += base.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                    b += base.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD16<Float>.self)
                    i += 32
                }
                out[r.lowerBound * pool.threads / count * 16] = (a + b).sum()
            }
            let seconds = monotonicSeconds() - start
            sink += partial[0]
            best = max(best, Double(count * 4) / seconds)
        }
        return sink.isNaN ? 0 : best
    }

    static func monotonicSeconds() -> Double { MonotonicClock.seconds() }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
