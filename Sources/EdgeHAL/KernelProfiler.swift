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

extension KernelProfiler {
    /// One kernel's totals.
    public struct Row: Sendable, Hashable {
        public var kernel: String
        public var runs: Int
        public var milliseconds: Double
    }

    /// Every kernel's totals, largest first.
    public var rows: [Row] {
        totals.withLock { $0 }.map { Row(kernel: $0.key, runs: $0.value.runs, milliseconds: $0.value.ms) }
            .sorted { $0.milliseconds > $1.milliseconds }
    }
}

/// What a device measures about itself when profiling is on (`EDGEHAL_*_PROFILE`, or the backend's
/// initialiser) — time per kernel (GPU timestamps, OpenCL events, the CPU's wall time) and, beside
/// it, the host's wall time (submissions, buffer reads and writes). Values, read through
/// ``Device/profile``: the library prints nothing; the tools print ``report`` when they finish.
public final class DeviceProfile: Sendable {
    public let kernels = KernelProfiler()
    public let host = KernelProfiler()
    private let kernelsTitle: String
    private let hostTitle: String

    public init(kernels kernelsTitle: String, host hostTitle: String = "") {
        self.kernelsTitle = kernelsTitle
        self.hostTitle = hostTitle
    }

    /// Both tables as text (empty when nothing was profiled).
    public var report: String { kernels.table(kernelsTitle) + (hostTitle.isEmpty ? "" : host.table(hostTitle)) }

    /// The reports of the devices that keep a profile, one after another: what the tools print when they finish.
    public static func report(of devices: [any Device]) -> String {
        devices.compactMap { $0.profile?.report }.filter { !$0.isEmpty }.joined(separator: "\n")
    }
}
