import EdgeHAL
import Synchronization

/// A decoder-only GGUF model of any supported architecture: its file (memory-mapped),
/// hyper-parameters and tokenizer.
public final class LanguageModel: Sendable {
    public let file: GGUFFile
    public let config: ModelConfig
    public let tokenizer: Tokenizer
    public let path: String
    /// One HostData per tensor, so every graph (and every device upload) shares it.
    private let weights = Mutex<[String: HostData]>([:])

    /// Opens a GGUF file, or an encrypted model (`edgehal encrypt`) with the key in `keyFile`,
    /// decrypted into memory.
    public init(path: String, keyFile: String? = nil) throws {
        self.path = path
        if EncryptedModel.isEncrypted(path) {
            guard let keyFile else {
                throw EncryptionError("\(path) is an encrypted model: give its key (--key-file or \(ModelKey.environmentVariable))")
            }
            file = try EncryptedModel.open(path, keyFile: keyFile)
        } else {
            file = try GGUFFile.open(path: path)
        }
        config = try ModelConfig(gguf: file)
        tokenizer = try Tokenizer(try TokenizerConfig(gguf: file))
    }

    func weightData(_ info: GGUFTensorInfo) -> HostData {
        weights.withLock { cache in
            if let d = cache[info.name] { return d }
            let d = file.data(for: info)
            cache[info.name] = d
            return d
        }
    }

    /// The output projection's tensor: `output.weight`, or the token embeddings when the file ties them.
    public var outputWeightName: String {
        file.tensor(named: "output.weight") != nil ? "output.weight" : "token_embd.weight"
    }

    /// Bytes of tensor data in the file.
    public var weightBytes: Int { file.tensors.reduce(0) { $0 + $1.byteCount } }
}

/// A conversation with a model on a list of devices: a KV cache and graphs per batch size,
/// built once and run as many times as needed.
public final class ModelSession {
    public let model: LanguageModel
    public let devices: [any Device]
    public let contextLength: Int
    public private(set) var position = 0
    public let resident = ResidentTensors()
    private var executables: [String: (DecoderGraph, Executable)] = [:]
    /// Tokens per prefill graph run; longer prompts go in several runs.
    public var batchSize: Int

    /// Whole layers pinned to devices of the list (``LayerSplit``); nil: each op on the first device supporting it.
    public private(set) var split: LayerSplit?

    public init(model: LanguageModel, devices: [any Device], contextLength: Int = 2048, batchSize: Int = 64) {
        self.model = model
        self.devices = devices
        self.contextLength = max(1, min(contextLength, model.config.contextLength))
        self.batchSize = max(1, batchSize)
    }

    /// A session whose layers are split across `devices` as `split` asks; the plan is made (and a
    /// model that fits nowhere refused) before any weight is loaded.
    public convenience init(model: LanguageModel, devices: [any Device], contextLength: Int = 2048, batchSize: Int = 64,
                            split request: LayerSplit.Request) throws {
        self.init(model: model, devices: devices, contextLength: contextLength, batchSize: batchSize)
        split = try LayerSplit.plan(request, model: model, devices: devices, contextLength: self.contextLength, batchSize: self.batchSize)
    }

    /// Forgets the conversation.
    public func reset() throws {
        position = 0
        try resident.resetStates()
    }

    /// Forgets every token from `position` on and continues from there (as llama.cpp's
    /// `llama_memory_seq_rm`): the cache rows past it stay but are masked out, then overwritten.
    public func rewind(to newPosition: Int) {
        position = max(0, min(position, newPosition))
    }

    /// The executable for `tokens` tokens at a time; built on first use.
    public func executable(tokens: Int, allLogits: Bool) throws -> (DecoderGraph, Executable) {
        let key = "\(tokens)/\(allLogits)"
        if let e = executables[key] { return e }
        let g = try DecoderGraph(model: model, tokens: tokens, cacheLength: contextLength, allLogits: allLogits)
        var options = ExecutionOptions.fromEnvironment
        options.stageDevices = split?.stageDevices ?? [:]
        let exe = try Executable(graph: g.graph, devices: devices, options: options, resident: resident)
        executables[key] = (g, exe)
        return (g, exe)
    }

    /// Appends `tokens` to the conversation and returns logits: [vocabulary] for the last token,
    /// or [T × vocabulary] for every token when `allLogits`.
    public func evaluate(_ tokens: [Int32], allLogits: Bool = false) throws -> [Float] {
        try validate(tokens)
        var logits: [Float] = []
        var start = 0
        while start < tokens.count {
            let chunk = Array(tokens[start..<min(tokens.count, start + batchSize)])
            let isLast = start + chunk.count == tokens.count
            if allLogits {
                logits += try run(chunk, allLogits: true)
            } else if isLast {
                logits = try run(chunk, allLogits: false)
            } else {
                _ = try prepare(chunk, allLogits: false)   // only the cache matters before the last chunk
            }
            start += chunk.count
        }
        return logits
    }

    /// Appends `tokens` and calls `body` with the last token's logits, in place where the device
    /// allows (a greedy or sampling step without copying the vocabulary's logits).
    public func evaluate<R>(_ tokens: [Int32], _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        try validate(tokens)
        var start = 0
        while tokens.count - start > batchSize {
            _ = try prepare(Array(tokens[start..<(start + batchSize)]), allLogits: false)
            start += batchSize
        }
        let (g, exe) = try prepare(Array(tokens[start...]), allLogits: false)
        return try exe.withFloats(g.logits, body)
    }

    /// Whole-request checks, before any state changes.
    private func validate(_ tokens: [Int32]) throws {
        guard !tokens.isEmpty else { throw ModelError("nothing to evaluate") }
        guard position + tokens.count <= contextLength else {
            throw ModelError("context full: \(position) + \(tokens.count) tokens exceed \(contextLength)")
        }
        let vocabulary = model.config.vocabulary
        for id in tokens where id < 0 || Int(id) >= vocabulary {
            throw ModelError("token id \(id) is outside the vocabulary (\(vocabulary))")
        }
    }

    private func run(_ chunk: [Int32], allLogits: Bool) throws -> [Float] {
        let (g, exe) = try prepare(chunk, allLogits: allLogits)
        return try exe.read(g.logits)
    }

    /// Sets the inputs of and runs one validated chunk (at most a batch), advancing the position.
    private func prepare(_ chunk: [Int32], allLogits: Bool) throws -> (graph: DecoderGraph, executable: Executable) {
        let t = chunk.count, kvHeads = model.config.kvHeads
        let (g, exe) = try executable(tokens: t, allLogits: allLogits)
        try exe.setInput(g.tokenIDs, chunk)
        try exe.setInput(g.positions, (0..<t).map { Int32(position + $0) })
        // Cache rows are ordered (kv head, token) to match the permuted [headDim, T, kvHeads] keys.
        try exe.setInput(g.cacheRows, (0..<(kvHeads * t)).map { Int32(($0 / t) * contextLength + position + $0 % t) })
        try exe.setInput(g.mask, Self.causalMask(contextLength: contextLength, position: position, tokens: t, window: nil))
        if let local = g.localMask {
            let window = model.config.slidingWindow?.size
            try exe.setInput(local, Self.causalMask(contextLength: contextLength, position: position, tokens: t, window: window))
        }
        if let last = g.lastRow { try exe.setInput(last, [Int32(t - 1)]) }
        try exe.run()
        position += t
        return (g, exe)
    }

    /// The additive mask [contextLength, T] of `tokens` tokens from `position`: query i (at
    /// p = position + i) sees keys k ≤ p, and with a window only those with p − k < window.
    static func causalMask(contextLength: Int, position: Int, tokens t: Int, window: Int?) -> [Float] {
        var mask = [Float](repeating: -.infinity, count: contextLength * t)
        for i in 0..<t {
            let p = position + i
            let first = window.map { max(0, p - $0 + 1) } ?? 0
            for k in first...p { mask[i * contextLength + k] = 0 }
        }
        return mask
    }
}

extension Tokenizer {
    /// Whether encoding starts with BOS (`tokenizer.ggml.add_bos_token`, else llama.cpp's default).
    public var addsBOS: Bool { addBOS }
}
