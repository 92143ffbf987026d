import ArgumentParser
import EdgeHAL
import EdgeHALCPU
import EdgeHALConformance
import Foundation

/// `conformance perf`: the benchmark — large mat-vecs, SmolLM2's shapes and prefill batches on
/// every available backend side by side, against the memory bandwidth measured in the same run.
struct Perf: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the performance table (or the cases --op/--type keep) on every available backend side by side.")
    @OptionGroup var options: CaseOptions

    struct PerfReport: Encodable {
        /// The host's read bandwidth (what CPU and emulated devices use).
        var bandwidthGBps: Double
        /// Per backend, the bandwidth its fractions are against: the host's for CPU and emulated
        /// devices, a device-to-device copy measured through the backend for GPUs.
        var deviceBandwidthGBps: [String: Double]
        var threads: Int
        var runs: Int
        var backends: [String]
        var results: [CaseResult]
        /// Weight GB/s over measured bandwidth, per result with weight traffic (same order as results).
        var bandwidthFraction: [Double?]
    }

    func run() throws {
        let registry = options.registry()
        let probed = registry.probeAll()
        let json = options.json
        let choices = try options.backend.map { try Selection.resolve($0, probed: probed) }
            ?? Selection.ranked(probed).filter { !$0.info.isReference }
        let devices = try choices.map { try registry.open($0) }
        defer { options.printProfiles(devices) }
        let cases = options.op.isEmpty && options.type.isEmpty ? CaseTable.perf : options.filter(CaseTable.all + CaseTable.perf)
        let threads = CPUBackend.threads
        let bandwidth = MemoryBandwidth.measure(pool: WorkerPool(threads: threads)) / 1e9
        // GPUs against their own memory: a copy kernel through the backend, in the same run.
        var own: [String: Double] = [:]
        for d in devices {
            let onGPU = d.info.kind == .gpu || d.info.kind == .integrated
            own[d.backendName] = onGPU ? (try? DeviceBandwidth.measure(d)).flatMap { $0 }.map { $0 / 1e9 } ?? bandwidth : bandwidth
        }
        let against = { (r: CaseResult) in own[r.backend ?? ""] ?? bandwidth }
        let runner = ConformanceRunner(seed: options.seed, perfRuns: max(3, options.runs))
        if !json {
            print(String(format: "memory read bandwidth: %.1f GB/s at %d threads (same run); %d timed runs per case, median", bandwidth, threads, runner.perfRuns))
            for d in devices where own[d.backendName] != bandwidth {
                print(String(format: "%@ (%@): %.1f GB/s device-to-device copy (same run); its %% of bandwidth is against this",
                             d.backendName, d.info.name, own[d.backendName] ?? 0))
            }
            print("| case | backend | status | ms | GFLOPS | weight GB/s | % of bandwidth | × reference |")
            print("|---|---|---|---|---|---|---|---|")
        }
        var all: [CaseResult] = []
        for c in cases {
            for r in runner.compare(c, on: devices) {
                all.append(r)
                guard !json else { continue }
                let f = { (v: Double?, fmt: String) in v.map { String(format: fmt, $0) } ?? "-" }
                print("| \(c.op) \(c.type) \(c.shape) | \(r.backend ?? "") | \(r.status.rawValue) | \(f(r.ms, "%.3f")) | \(f(r.gflops, "%.2f")) | \(f(r.weightGBps, "%.2f")) | \(f(r.weightGBps.map { 100 * $0 / against(r) }, "%.0f%%")) | \(f(r.speedupVsReference, "%.1f")) |")
            }
        }
        if json {
            let report = PerfReport(bandwidthGBps: bandwidth, deviceBandwidthGBps: own, threads: threads, runs: runner.perfRuns,
                                    backends: devices.map(\.backendName), results: all,
                                    bandwidthFraction: all.map { r in r.weightGBps.map { $0 / against(r) } })
            try options.printJSON(report, snakeCase: true)
        }
        if all.contains(where: { $0.status == .fail }) { throw ExitCode(1) }
    }
}
