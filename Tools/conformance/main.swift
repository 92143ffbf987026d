import ArgumentParser
import EdgeHAL
import EdgeHALBuiltins
import EdgeHALCPU
import EdgeHALModels
import EdgeHALPlugins
import EdgeHALReference
import EdgeHALConformance
import Foundation

struct Conformance: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Check a backend against the reference on every op × type × shape case (and time it).")

    @Option(help: "Backend to test: name or name:device (default: what EDGEHAL_BACKEND selects, else auto).")
    var backend: String?
    @Option(help: "Only cases of this op (e.g. mul_mat, attention, transformer_block); repeatable.")
    var op: [String] = []
    @Option(help: "Only cases of this type (e.g. q4_0, f32, fused); repeatable.")
    var type: [String] = []
    @Flag(help: "List the cases and exit.")
    var list = false
    @Option(help: "Seed for the case data.")
    var seed: UInt64 = 2026
    @Option(help: "Run the table over this many seeds (seed, seed+1, …) and report, per case, the worst NMSE and gain against their bounds.")
    var seeds = 1
    @Option(help: "Worker counts to run the CPU backend at, comma-separated (e.g. 1,3,2): the table runs once per count.")
    var threads: String?
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false
    @Option(help: "Timed runs per case; the median is reported.")
    var runs = 1
    @Option(help: "Also run the end-to-end model case: a catalogue name (smollm2, gemma3), 'default' (smollm2) or a GGUF path.")
    var model: String?
    @Option(help: "Tokens of the fixed text the model case evaluates (0: all of it, 285 with SmolLM2).")
    var modelTokens = 0
    @Option(name: .customLong("gpu-layers"), help: ArgumentHelp("Run the model case split as edgehal --gpu-layers: the last N layers on the first device of --backend (e.g. vulkan,cpu), the rest on the second.", valueName: "N"))
    var gpuLayers: Int?
    @Option(help: "Load a backend plugin (absolute path, optionally #sha256=HEX) and test it (unless --backend names another); repeatable.")
    var plugin: [String] = []
    @Flag(help: "Benchmark: the performance table (or the cases chosen with --op/--type) on every available backend side by side, with the machine's memory bandwidth measured in the same run.")
    var perf = false

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
        if perf { return try runPerf() }
        let cases = CaseTable.all.filter { (op.isEmpty || op.contains($0.op)) && (type.isEmpty || type.contains($0.type)) }
        if list {
            for c in cases { print("\(c.op.padded(18)) \(c.type.padded(8)) \(c.shape)  [\(c.check.rawValue), NMSE ≤ \(c.threshold)]") }
            print("\(cases.count) cases")
            return
        }
        let registry = BuiltinBackends.registry(plugins: plugin)
        let probed = registry.probeAll()
        var backend = self.backend
        if backend == nil, let file = plugin.first {
            // The plugin named first: tested by its backend name once loaded, or refused with the reason.
            let path = PluginLoader.split(file).0
            guard let entry = probed.first(where: { $0.status.plugin?.path == path }) else {
                FileHandle.standardError.write(Data("conformance: plugin \(file) was not loaded\n".utf8))
                throw ExitCode(2)
            }
            guard entry.status.available else {
                FileHandle.standardError.write(Data("conformance: plugin \(path) refused: \(entry.status.reason ?? "unavailable")\n".utf8))
                throw ExitCode(2)
            }
            backend = entry.name
        }
        let choice: DeviceChoice
        var splitDevices: [any Device] = []
        do {
            let chosen = try Selection.resolve(backend ?? Selection.environmentValue, probed: probed)
            guard let first = chosen.first else { throw EdgeHALError.selection("nothing selected") }
            choice = first
            // A split model case runs on the selection's second device too (the host CPU unless named).
            if gpuLayers != nil { splitDevices = try Selection.withFallback(chosen, probed: probed).dropFirst().map { try registry.open($0) } }
        } catch {
            FileHandle.standardError.write(Data("conformance: \(error)\n".utf8))
            throw ExitCode(2)
        }
        // Each worker count is a device of its own (the CPU backend reads EDGEHAL_THREADS when opened).
        let workerCounts = try threads.map { list in
            try list.split(separator: ",").map { s -> Int in
                guard let n = Int(s), n > 0 else { throw ValidationError("--threads takes positive counts, e.g. 1,3,2") }
                return n
            }
        }
        let devices: [(label: String, device: any Device)]
        do {
            if let workerCounts {
                devices = try workerCounts.map { n in
                    setenv("EDGEHAL_THREADS", "\(n)", 1)
                    return (" @\(n) threads", try registry.open(choice))
                }
            } else {
                devices = [("", try registry.open(choice))]
            }
        } catch {
            FileHandle.standardError.write(Data("conformance: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let device = devices[0].device
        if !json {
            print("conformance: \(device.backendName) — \(device.info.name), \(cases.count) cases, seed \(seed)"
                  + (seeds > 1 ? "…\(seed + UInt64(seeds) - 1)" : "") + (workerCounts.map { ", threads \($0.map(String.init).joined(separator: ","))" } ?? ""))
        }
        var results: [CaseResult] = []
        for s in 0..<UInt64(max(1, seeds)) {
            let runner = ConformanceRunner(seed: seed + s, perfRuns: max(1, runs))
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
        var report = ConformanceReport(backend: device.backendName, device: device.info.name, results: results)
        if let model {
            let r = modelCase(model, device: device, splitDevices: splitDevices)
            if !json {
                print("\(r.status.rawValue.uppercased().padded(11)) model              \(r.type) \(r.shape)")
                if let f = r.model {
                    print(String(format: "    confident positions (lead > %.2f): %d of %d, agreement %.1f%% (must be 100%%)",
                                 f.margin, f.confident, f.positions, 100 * f.confidentAgreement))
                    print(String(format: "    near-ties: %d, flipped %d; top-1 overall %.1f%%; lead error %.3f RMS, %.3f max (logits)",
                                 f.nearTies, f.nearTieFlips, 100 * f.top1, f.rmsLeadError, f.maxLeadError))
                    print(String(format: "    KL(reference ‖ backend): mean %.2e (≤ %g), max %.2e (≤ %g)",
                                 f.meanKL, ModelAgreement.maximumMeanKL, f.maxKL, ModelAgreement.maximumKL))
                }
                if let detail = r.detail { print("    \(detail)") }
            }
            report = ConformanceReport(backend: report.backend, device: report.device, results: report.results + [r])
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            printPerOp(report.results)
            print("\(report.passed) passed, \(report.failed) failed, \(report.unsupported) unsupported")
        }
        if report.failed > 0 { throw ExitCode(1) }
    }
}

extension Conformance {
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

    /// The model case: the device against the reference over the fixed text, all positions.
    func modelCase(_ spec: String, device: any Device, splitDevices: [any Device]) -> CaseResult {
        var r = CaseResult(op: "model", type: "gguf", shape: "", check: .graph, status: .fail,
                           threshold: ModelAgreement.maximumMeanKL)
        do {
            let path = try ModelStore.resolve(spec == "default" ? nil : spec)
            let key = ProcessInfo.processInfo.environment[ModelKey.environmentVariable].flatMap { $0.isEmpty ? nil : $0 }
            let llama = try LanguageModel(path: path, keyFile: key)
            r.type = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            var tokens = llama.tokenizer.encode(ModelAgreement.text)
            if modelTokens > 0 { tokens = Array(tokens.prefix(modelTokens)) }
            r.shape = "\(tokens.count) tokens"
            // Ops the device lacks (a plugin's) run on the reference: exact, so every difference is the device's.
            if let gpuLayers { r.shape += ", last \(gpuLayers) layers on \(device.backendName), the rest on \(splitDevices.first?.backendName ?? "-")" }
            let m = try ModelAgreement.measure(model: llama, tokens: tokens, device: [device] + splitDevices + [ReferenceDevice()],
                                               reference: [ReferenceDevice()], split: gpuLayers.map { .gpuLayers($0) } ?? .none)
            r.model = ModelFigures(positions: m.positions, confident: m.confident, margin: ModelAgreement.confidentMargin,
                                   confidentAgreement: m.confidentAgreement, nearTies: m.nearTies, nearTieFlips: m.nearTieFlips,
                                   top1: 1 - Double(m.flips.count) / Double(max(1, m.positions)), meanKL: m.meanKL, maxKL: m.maxKL,
                                   maxLeadError: m.maxLeadError, rmsLeadError: m.rmsLeadError)
            r.ms = m.milliseconds
            r.status = m.passes ? .pass : .fail
            if !m.passes { r.detail = m.failures.joined(separator: "; ") }
            else if !m.flips.isEmpty { r.detail = "near-tie flips: " + m.flips.map(\.description).joined(separator: "; ") }
        } catch {
            r.detail = "\(error)"
        }
        return r
    }

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

    func runPerf() throws {
        let registry = BuiltinBackends.registry(plugins: plugin)
        let probed = registry.probeAll()
        let choices = try backend.map { try Selection.resolve($0, probed: probed) }
            ?? Selection.ranked(probed).filter { !$0.info.isReference }
        let devices = try choices.map { try registry.open($0) }
        let base = op.isEmpty && type.isEmpty ? CaseTable.perf : CaseTable.all + CaseTable.perf
        let cases = base.filter { (op.isEmpty || op.contains($0.op)) && (type.isEmpty || type.contains($0.type)) }
        let threads = CPUBackend.threads
        let bandwidth = MemoryBandwidth.measure(pool: WorkerPool(threads: threads)) / 1e9
        // GPUs against their own memory: a copy kernel through the backend, in the same run.
        var own: [String: Double] = [:]
        for d in devices {
            let onGPU = d.info.kind == .gpu || d.info.kind == .integrated
            own[d.backendName] = onGPU ? (try? DeviceBandwidth.measure(d)).flatMap { $0 }.map { $0 / 1e9 } ?? bandwidth : bandwidth
        }
        let against = { (r: CaseResult) in own[r.backend ?? ""] ?? bandwidth }
        let runner = ConformanceRunner(seed: seed, perfRuns: max(3, runs))
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
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
        if all.contains(where: { $0.status == .fail }) { throw ExitCode(1) }
    }
}

extension String {
    func padded(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}

Conformance.main()
