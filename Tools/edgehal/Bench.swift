import ArgumentParser
import EdgeHAL
import EdgeHALBuiltins
import EdgeHALModels
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prompt-processing and generation speed per backend, like llama-bench.")
    @Option(help: "GGUF model file (default: the default model).") var model: String?
    @Option(help: "Comma-separated backends to measure (default: every available one but the reference).")
    var backend: String?
    @Option(name: .short, help: "Prompt tokens (pp).") var p: Int = 128
    @Option(name: .short, help: "Generated tokens (tg).") var n: Int = 64
    @Option(name: .short, help: "Repetitions; the median is reported.") var r: Int = 3
    @Option(help: "Load a backend plugin (absolute path, optionally #sha256=HEX); repeatable.") var plugin: [String] = []
    @Flag var json = false

    struct Row: Encodable {
        var backend: String, device: String, test: String, tokens_per_s: Double, tokens: Int
        var model_bytes: Int, peak_rss_bytes: Int, threads: Int
        /// Seconds from opening the device to the logits of an 8-token prompt: device creation, graph
        /// compilation (shader compiles at the first dispatch on lavapipe, from Mesa's cache when warm).
        var first_token_s: Double
    }

    func run() throws {
        let path = try model ?? ModelStore.ensureDefaultModel { Terminal.note($0) }
        let llama = try Terminal.failing("cannot load \(path)") { try LanguageModel(path: path) }
        BuiltinBackends.addPlugins(plugin)
        let registry = BuiltinBackends.registry()
        let probed = registry.probeAll()
        let names = backend.map { $0.split(separator: ",").map(String.init) }
            ?? Selection.ranked(probed).filter { !$0.info.isReference }.map { "\($0.backend):\($0.index)" }
        var rows: [Row] = []
        for name in names {
            let start = Terminal.now()
            let devices = try Terminal.failing("backend \(name)") { try BuiltinBackends.openDevices(name, registry: registry) }
            let session = ModelSession(model: llama, devices: devices, contextLength: p + n + 1, batchSize: p)
            let prompt = (0..<p).map { Int32(($0 * 7919 + 13) % llama.config.vocabulary) }
            _ = try session.evaluate(Array(prompt.prefix(8)))  // warm-up: builds graphs, touches weights
            let firstToken = Terminal.now() - start
            try session.reset()
            var pp: [Double] = [], tg: [Double] = []
            for _ in 0..<max(1, r) {
                try session.reset()
                let t0 = Terminal.now()
                var logits = try session.evaluate(prompt)
                let t1 = Terminal.now()
                for _ in 0..<n { logits = try session.evaluate([Sampler.argmax(logits)]) }
                let t2 = Terminal.now()
                pp.append(Double(p) / (t1 - t0))
                tg.append(Double(n) / (t2 - t1))
            }
            let device = devices[0]
            let threads = Int(device.info.features.first { $0.hasPrefix("threads=") }?.dropFirst(8) ?? "") ?? device.info.computeUnits
            for (test, values, tokens) in [("pp\(p)", pp, p), ("tg\(n)", tg, n)] {
                rows.append(Row(backend: device.backendName, device: device.info.name, test: test,
                                tokens_per_s: values.sorted()[values.count / 2], tokens: tokens,
                                model_bytes: llama.file.fileSize, peak_rss_bytes: Self.peakRSS(), threads: threads,
                                first_token_s: firstToken))
            }
        }
        if json {
            print(try Terminal.json(rows))
        } else {
            print("| backend | device | threads | model MiB | test | tokens/s | peak RSS MiB |")
            print("|---|---|---|---|---|---|---|")
            for row in rows {
                print(String(format: "| %@ | %@ | %d | %.1f | %@ | %.2f | %.0f |", row.backend, row.device, row.threads,
                             Double(row.model_bytes) / 1048576, row.test, row.tokens_per_s, Double(row.peak_rss_bytes) / 1048576))
            }
            for row in rows where row.test.hasPrefix("pp") {
                print(String(format: "%@: %.3f s from opening the device to the first token (8-token prompt)", row.backend, row.first_token_s))
            }
        }
    }

    static func peakRSS() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
