import ArgumentParser
import EdgeHAL
import EdgeHALConformance
import Foundation

/// `conformance run` (the default): the op × type × shape table on one device against the reference.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the case table on one device against the reference; exits non-zero when a case fails.")
    @OptionGroup var options: CaseOptions
    @Option(help: "Run the table over this many seeds (seed, seed+1, …) and report, per case, the worst NMSE and gain against their bounds.")
    var seeds = 1
    @Option(help: "Worker counts to run the CPU backend at, comma-separated (e.g. 1,3,2): the table runs once per count.")
    var threads: String?

    /// Per op: cases, and how many passed, failed and were unsupported — a plugin's coverage at a glance.
    func printPerOp(_ results: [CaseResult]) {
        var order: [String] = []
        var counts: [String: (pass: Int, fail: Int, unsupported: Int)] = [:]
        for r in results {
            if counts[r.op] == nil { order.append(r.op) }
            var c = counts[r.op] ?? (0, 0, 0)
            switch r.status {
            case .pass: c.pass += 1
            case .fail: c.fail += 1
            case .unsupported: c.unsupported += 1
            }
            counts[r.op] = c
        }
        print("op                 supported  passed  failed  unsupported")
        for op in order {
            let c = counts[op]!
            print("\(op.padded(18)) \(String(c.pass + c.fail).padded(10)) \(String(c.pass).padded(7)) \(String(c.fail).padded(7)) \(c.unsupported)")
        }
    }

    func run() throws {
        let cases = options.filter(CaseTable.all)
        let registry = options.registry()
        let choice = options.selection(registry).choice
        // Each worker count is a device of its own (the CPU backend reads EDGEHAL_THREADS when opened).
        let workerCounts = try threads.map { list in
            try list.split(separator: ",").map { s -> Int in
                guard let n = Int(s), n > 0 else { throw ValidationError("--threads takes positive counts, e.g. 1,3,2") }
                return n
            }
        }
        let devices: [(label: String, device: any Device)] = workerCounts.map { counts in
            counts.map { n in
                setenv("EDGEHAL_THREADS", "\(n)", 1)
                return (" @\(n) threads", options.open(choice, in: registry))
            }
        } ?? [("", options.open(choice, in: registry))]
        let device = devices[0].device
        defer { options.printProfiles(devices.map(\.device)) }
        let json = options.json, seed = options.seed
        if !json {
            print("conformance: \(device.backendName) — \(device.info.name), \(cases.count) cases, seed \(seed)"
                  + (seeds > 1 ? "…\(seed + UInt64(seeds) - 1)" : "") + (workerCounts.map { ", threads \($0.map(String.init).joined(separator: ","))" } ?? ""))
        }
        var results: [CaseResult] = []
        for s in 0..<UInt64(max(1, seeds)) {
            let runner = ConformanceRunner(seed: seed + s, perfRuns: max(1, options.runs))
            for (label, dev) in devices {
                let label = label + (seeds > 1 ? " seed \(seed + s)" : "")
                results += runner.run(cases, on: dev) { r in
                    guard !json, seeds == 1 || r.status != .pass else { return }
                    let nmse = r.nmse.map { String(format: "%.2e", $0) } ?? "-"
                    let ms = r.ms.map { String(format: "%9.3f ms", $0) } ?? "            "
                    let rate = r.gflops.map { String(format: " %7.2f GFLOPS", $0) } ?? ""
                    print("\(r.status.rawValue.uppercased().padded(11)) \(r.op.padded(18)) \(r.type.padded(7)) \((r.shape + label).padded(44)) nmse \(nmse.padded(9)) ≤ \(String(format: "%.1e", r.threshold)) \(ms)\(rate)"
                          + (r.status == .pass ? "" : "  — \(r.detail ?? "")"))
                }.results.map { r in var r = r; r.shape += label; return r }
            }
        }
        if seeds > 1 && !json { printHeadroom(results) }
        let report = ConformanceReport(backend: device.backendName, device: device.info.name, results: results)
        if json {
            try options.printJSON(report)
        } else {
            printPerOp(report.results)
            print("\(report.passed) passed, \(report.failed) failed, \(report.unsupported) unsupported")
        }
        if report.failed > 0 { throw ExitCode(1) }
    }

    /// Over many seeds: the cases closest to their bounds (NMSE / bound and |gain − 1| / band, worst seed).
    func printHeadroom(_ results: [CaseResult]) {
        var worst: [String: (nmse: Double, gain: Double)] = [:]
        for r in results {
            let key = "\(r.op) \(r.type) \(r.shape.components(separatedBy: " seed ")[0])"
            let n = (r.nmse ?? .infinity) / r.threshold
            let g = r.gain.flatMap { g in r.gainBand.map { abs(g - 1) / $0 } } ?? .infinity
            let old = worst[key] ?? (0, 0)
            worst[key] = (max(old.nmse, n), max(old.gain, g))
        }
        print("closest to the NMSE bound (worst seed, NMSE / bound):")
        for (k, v) in worst.sorted(by: { $0.value.nmse > $1.value.nmse }).prefix(8) { print(String(format: "  %.3f  ", v.nmse) + k) }
        print("closest to the gain band (worst seed, |gain − 1| / band):")
        for (k, v) in worst.sorted(by: { $0.value.gain > $1.value.gain }).prefix(8) { print(String(format: "  %.3f  ", v.gain) + k) }
    }
}
