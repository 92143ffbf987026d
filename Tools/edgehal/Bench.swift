import ArgumentParser
import EdgeHAL
import EdgeHALBuiltins
import EdgeHALModels
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prompt-processing and generation speed per backend, like llama-bench.")
    @Option(help: "A catalogue model (smollm2, gemma3; `edgehal models` lists them) or a GGUF path (default: smollm2).") var model: String?
    @Option(help: "Comma-separated backends to measure (default: every available one but the reference).")
    var backend: String?
    @Option(name: .short, help: "Prompt tokens (pp); 0 skips the prompt test.") var p: Int = 128
    @Option(name: .short, help: "Generated tokens (tg).") var n: Int = 64
    @Option(name: [.customShort("d"), .long], help: ArgumentHelp(
        "Cached tokens before each test, as llama-bench -d: pp and tg both start at this depth. Without it, tg runs after the prompt (depth p).",
        valueName: "D"))
    var depth: Int?
    @Option(name: [.customShort("t"), .long], help: "CPU worker counts to measure, comma-separated (as EDGEHAL_THREADS; default: its value or all cores).")
    var threads: String?
    @Option(name: .short, help: "Repetitions; the median is reported.") var r: Int = 3
    @Option(name: .customLong("gpu-layers"), help: ArgumentHelp("Layer splits to measure, comma-separated (as edgehal run --gpu-layers, e.g. 0,10,30): each backend runs the last N layers, the rest on the CPU fallback.", valueName: "N,…"))
    var gpuLayers: String?
    @Option(help: "Load a backend plugin (absolute path, optionally #sha256=HEX); repeatable.") var plugin: [String] = []
    @Option(name: .customLong("key-file"), help: "The key of an encrypted model; default: EDGEHAL_MODEL_KEY_FILE.") var keyFile: String?
    @Flag(help: "Energy per token and average power per test, from the machine's meters (powercap/RAPL, hwmon, NVML): whole package or card, not this process alone; where none is readable, the reason.")
    var energy = false
    @Flag var json = false

    struct Row: Encodable {
        var backend: String, device: String, test: String, tokens_per_s: Double, tokens: Int, depth: Int
        var model_bytes: Int, peak_rss_bytes: Int, threads: Int
        /// With --gpu-layers: the layers on the backend (the rest on the next device), and the split.
        var gpu_layers: Int?
        var split: String?
        /// Every repetition's tokens/s, in the order run.
        var runs: [Double]
        /// With --energy: joules per token and average watts (medians over repetitions), summed over the meters.
        var joules_per_token: Double?
        var watts: Double?
        /// Seconds from opening the device to the logits of an 8-token prompt: device creation, graph
        /// compilation (shader compiles at the first dispatch on lavapipe, from Mesa's cache when warm).
        /// Warm: with the kernel caches the cold open filled.
        var first_token_s: Double
        /// The same with every kernel cache empty (EdgeHAL's, Mesa's, PoCL's, NVIDIA's: a fresh
        /// folder for this run; the OS file cache is not dropped). The first row of a backend only.
        var cold_first_token_s: Double?
    }

    func run() throws {
        let path = try Terminal.failing("model") { try ModelStore.resolve(model) { Terminal.note($0) } }
        let llama = try Terminal.loadModel(path, keyFile: keyFile)
        guard p >= 0, n >= 0, p + n > 0, (depth ?? 0) >= 0 else { throw ValidationError("need -p ≥ 0, -n ≥ 0, one of them > 0, and -d ≥ 0") }
        var threadCounts: [Int?] = [nil]
        if let threads {
            threadCounts = try Self.counts(threads, atLeast: 1, "thread count")
        }
        let (meters, tried) = energy ? EnergyMeters.discover() : ([], [])
        defer { meters.forEach { $0.stop() } }
        if energy {
            Terminal.note(meters.isEmpty ? "energy: no meter readable — " + tried.joined(separator: "; ")
                          : "energy: " + meters.map(\.name).joined(separator: ", "))
        }
        let caches = Self.emptyKernelCaches()
        defer { if let caches { try? FileManager.default.removeItem(atPath: caches) } }
        let registry = BuiltinBackends.registry(plugins: plugin)
        let probed = registry.probeAll()
        let names = backend.map { $0.split(separator: ",").map(String.init) }
            ?? Selection.ranked(probed).filter { !$0.info.isReference }.map { "\($0.backend):\($0.index)" }
        let vocabulary = llama.config.vocabulary
        let tokens = { (count: Int, salt: Int) in (0..<count).map { Int32(($0 * 7919 + 13 + salt) % vocabulary) } }
        var rows: [Row] = []
        var opened: Set<String> = []
        let splits: [Int?] = try gpuLayers.map { try Self.counts($0, atLeast: 0, "layer count") } ?? [nil]
        for threadCount in threadCounts {
            // The CPU backend (and every CPU fallback) reads EDGEHAL_THREADS when its device opens.
            if let threadCount { setenv("EDGEHAL_THREADS", String(threadCount), 1) }
            for name in names {
                for layers in splits {
                    rows += try measure(name, llama: llama, registry: registry, tokens: tokens, cold: opened.insert(name).inserted,
                                        meters: meters, gpuLayers: layers)
                }
            }
        }
        if json {
            print(try Terminal.json(rows))
        } else {
            let withEnergy = rows.contains { $0.joules_per_token != nil }
            let withSplit = rows.contains { $0.gpu_layers != nil }
            print("| backend | device | threads |" + (withSplit ? " gpu layers |" : "") + " model MiB | test | tokens/s | peak RSS MiB |" + (withEnergy ? " J/token | W |" : ""))
            print("|---|---|---|" + (withSplit ? "---|" : "") + "---|---|---|---|" + (withEnergy ? "---|---|" : ""))
            for row in rows {
                let e = withEnergy ? String(format: " %.4f | %.1f |", row.joules_per_token ?? .nan, row.watts ?? .nan) : ""
                let split = withSplit ? " \(row.gpu_layers.map(String.init) ?? "-") |" : ""
                print(String(format: "| %@ | %@ | %@ |%@ %.1f | %@ | %.2f | %.0f |", row.backend, row.device, row.threads > 0 ? "\(row.threads)" : "-", split,
                             Double(row.model_bytes) / 1048576, row.test, row.tokens_per_s, Double(row.peak_rss_bytes) / 1048576) + e)
            }
            for row in rows where row.test == rows.first(where: { $0.backend == row.backend && $0.threads == row.threads && $0.gpu_layers == row.gpu_layers })?.test {
                let cold = row.cold_first_token_s.map { String(format: "%.3f s cold (empty kernel caches), ", $0) } ?? ""
                print(String(format: "%@: %@%.3f s warm from opening the device to the first token (8-token prompt)", row.backend, cold, row.first_token_s))
            }
        }
    }

    /// pp and tg on one backend: each repetition fills the cache to the depth (untimed), times the
    /// prompt, rewinds to the depth and times the generation — llama-bench's tests.
    func measure(_ name: String, llama: LanguageModel, registry: BackendRegistry,
                 tokens: (Int, Int) -> [Int32], cold: Bool, meters: [any EnergyMeter], gpuLayers: Int?) throws -> [Row] {
        let d = depth ?? 0
        // Room for the tests, and for open()'s 8-token prompt when they are shorter (`-p 0 -n 4` did not fit).
        let context = max(d + p + n, 8) + 1
        /// Opens the devices and evaluates an 8-token prompt (builds graphs, touches weights, compiles kernels).
        func open() throws -> (session: ModelSession, devices: [any Device], seconds: Double) {
            let start = Terminal.now()
            let devices = try Terminal.failing("backend \(name)") { try registry.select(name).devices }
            let session = try Terminal.failing("split") {
                try ModelSession(model: llama, devices: devices, contextLength: context, batchSize: max(1, p),
                                 split: gpuLayers.map { .gpuLayers($0) } ?? .none)
            }
            _ = try session.evaluate(Array(tokens(8, 0)))
            return (session, devices, Terminal.now() - start)
        }
        // Cold: this backend's first open in the run, every kernel cache empty; released before the warm one.
        let coldFirstToken = cold ? try open().seconds : nil
        let (session, devices, firstToken) = try open()
        defer { Terminal.printProfiles(devices) }
        var pp: [Double] = [], tg: [Double] = []
        var ppEnergy: [(joules: Double, seconds: Double)] = [], tgEnergy: [(joules: Double, seconds: Double)] = []
        /// Joules on every meter together (nil when there are none or a read fails).
        func joules() -> Double? {
            guard !meters.isEmpty else { return nil }
            let values = meters.compactMap { $0.joules() }
            return values.count == meters.count ? values.reduce(0, +) : nil
        }
        for rep in 0..<max(1, r) {
            try session.reset()
            // The cached context (depth), in prompt-sized batches as llama-bench fills it.
            if d > 0 { _ = try session.evaluate(tokens(d, 1)) }
            var logits: [Float] = []
            if p > 0 {
                let e0 = joules(), t0 = Terminal.now()
                logits = try session.evaluate(tokens(p, 2 + rep))
                let seconds = Terminal.now() - t0
                pp.append(Double(p) / seconds)
                if let e0, let e1 = joules() { ppEnergy.append((e1 - e0, seconds)) }
            }
            if n > 0 {
                // With -d, generation starts at the depth too; without it, after the prompt.
                if depth != nil { session.rewind(to: d) }
                var next = logits.isEmpty || depth != nil ? tokens(1, 3)[0] : Sampler.argmax(logits)
                let e0 = joules(), t1 = Terminal.now()
                for _ in 0..<n { next = try session.evaluate([next]) { Sampler.argmax($0) } }
                let seconds = Terminal.now() - t1
                tg.append(Double(n) / seconds)
                if let e0, let e1 = joules() { tgEnergy.append((e1 - e0, seconds)) }
            }
        }
        let device = devices[0]
        // Worker threads of a CPU backend (0: a GPU or another device that names none; printed as "-").
        let threads = Int(device.info.features.first { $0.hasPrefix("threads=") }?.dropFirst(8) ?? "") ?? 0
        let suffix = depth.map { " @ d\($0)" } ?? ""
        var rows: [Row] = []
        func median(_ v: [Double]) -> Double? { v.isEmpty ? nil : v.sorted()[v.count / 2] }
        for (test, values, count, used) in [("pp\(p)" + suffix, pp, p, ppEnergy), ("tg\(n)" + suffix, tg, n, tgEnergy)] where !values.isEmpty {
            rows.append(Row(backend: device.backendName, device: device.info.name, test: test,
                            tokens_per_s: values.sorted()[values.count / 2], tokens: count, depth: depth ?? (test.hasPrefix("tg") ? p : 0),
                            model_bytes: llama.file.fileSize, peak_rss_bytes: Self.peakRSS(), threads: threads,
                            gpu_layers: gpuLayers, split: session.split?.description,
                            runs: values, joules_per_token: median(used.map { $0.joules / Double(count) }),
                            watts: median(used.map { $0.joules / $0.seconds }),
                            first_token_s: firstToken, cold_first_token_s: coldFirstToken))
        }
        return rows
    }

    /// Points every kernel cache EdgeHAL's backends and their drivers keep at one new empty folder
    /// (before any driver loads), so a backend's first open is cold; returns the folder.
    static func emptyKernelCaches() -> String? {
        var template = Array((NSTemporaryDirectory() + "/edgehal-bench-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { return nil }
        let folder = String(cString: made)
        for (variable, sub) in [("EDGEHAL_CACHE", ""), ("MESA_SHADER_CACHE_DIR", "/mesa"), ("POCL_CACHE_DIR", "/pocl"),
                                ("__GL_SHADER_DISK_CACHE_PATH", "/nvidia")] {
            CacheFolder.makeDirectories(folder + sub)
            setenv(variable, folder + sub, 1)
        }
        return folder
    }

    /// A comma-separated list of whole numbers, each at least `atLeast` (-t 1,2; --gpu-layers 0,10,30).
    static func counts(_ list: String, atLeast: Int, _ what: String) throws -> [Int] {
        try list.split(separator: ",").map { s in
            guard let n = Int(s.trimmingCharacters(in: .whitespaces)), n >= atLeast else { throw ValidationError("bad \(what) '\(s)'") }
            return n
        }
    }

    static func peakRSS() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
