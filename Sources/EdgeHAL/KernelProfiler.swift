import Synchronization

/// Device time per kernel, summed over profiled runs: what the GPU backends print when profiling is
/// on (Vulkan timestamp queries, OpenCL profiling events), largest share first.
public final class KernelProfiler: Sendable {
    private let totals = Mutex<[String: (runs: Int, ms: Double)]>([:])

    public init() {}

    public func add(_ kernel: String, ms: Double) {
        totals.withLock { t in
            let old = t[kernel] ?? (0, 0)
            t[kernel] = (old.runs + 1, old.ms + ms)
        }
    }

    /// A table headed by `title`; empty when nothing was profiled.
    public func table(_ title: String) -> String {
        let rows = totals.withLock { $0 }.sorted { $0.value.ms > $1.value.ms }
        let all = rows.reduce(0) { $0 + $1.value.ms }
        guard all > 0 else { return "" }
        return "\(title): kernel, runs, total ms, µs a run, share\n" + rows.map { k, v in
            let each = (v.ms * 10_000 / Double(max(1, v.runs))).rounded() / 10
            return "  \(k + String(repeating: " ", count: max(0, 32 - k.count))) \(v.runs)  \((v.ms * 10).rounded() / 10) ms  \(each) µs  \((1000 * v.ms / all).rounded() / 10) %\n"
        }.joined()
    }
}
