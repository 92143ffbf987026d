import EdgeHAL

/// The shape of a synthetic model: what `edgehal synthesize` writes, by preset or by hand.
///
/// Presets copy the published hyper-parameters of the models people run (their config.json), so a
/// benchmark on the synthetic file streams the same bytes per token and launches the same kernels
/// as the real model. Only the weights (random) and the tokenizer (byte-level) differ.
public struct SyntheticShape: Sendable, Equatable {
    public enum Architecture: String, Sendable, CaseIterable { case llama, gemma3 }

    public var architecture: Architecture
    public var layers: Int
    public var embedding: Int
    public var feedForward: Int
    public var heads: Int
    public var kvHeads: Int
    public var vocabulary: Int
    public var context: Int
    /// Gemma 3 stores its head size (256) apart from embedding / heads; llama derives it.
    public var headDim: Int?
    /// Output projection tied to the token embeddings (no `output.weight`).
    public var tiedOutput: Bool
    public var ropeFreqBase: Float
    /// Gemma 3's sliding window (local layers).
    public var slidingWindow: Int?

    public init(architecture: Architecture, layers: Int, embedding: Int, feedForward: Int, heads: Int, kvHeads: Int,
                vocabulary: Int, context: Int, headDim: Int? = nil, tiedOutput: Bool = true, ropeFreqBase: Float = 10000,
                slidingWindow: Int? = nil) {
        self.architecture = architecture
        self.layers = layers
        self.embedding = embedding
        self.feedForward = feedForward
        self.heads = heads
        self.kvHeads = kvHeads
        self.vocabulary = vocabulary
        self.context = context
        self.headDim = headDim
        self.tiedOutput = tiedOutput
        self.ropeFreqBase = ropeFreqBase
        self.slidingWindow = slidingWindow
    }

    /// The head size the file will state or imply.
    public var headSize: Int { headDim ?? embedding / max(1, heads) }

    public static let presets: [String: SyntheticShape] = [
        // HuggingFaceTB/SmolLM2-135M-Instruct
        "smollm2-135m": SyntheticShape(architecture: .llama, layers: 30, embedding: 576, feedForward: 1536, heads: 9, kvHeads: 3,
                                       vocabulary: 49152, context: 8192, ropeFreqBase: 100000),
        // meta-llama/Llama-3.2-1B, -3B (tied embeddings), Meta-Llama-3-8B (separate output)
        "llama-3.2-1b": SyntheticShape(architecture: .llama, layers: 16, embedding: 2048, feedForward: 8192, heads: 32, kvHeads: 8,
                                       vocabulary: 128256, context: 131072, ropeFreqBase: 500000),
        "llama-3.2-3b": SyntheticShape(architecture: .llama, layers: 28, embedding: 3072, feedForward: 8192, heads: 24, kvHeads: 8,
                                       vocabulary: 128256, context: 131072, ropeFreqBase: 500000),
        "llama-3-8b": SyntheticShape(architecture: .llama, layers: 32, embedding: 4096, feedForward: 14336, heads: 32, kvHeads: 8,
                                     vocabulary: 128256, context: 8192, tiedOutput: false, ropeFreqBase: 500000),
        // google/gemma-3-270m, gemma-3-1b
        "gemma3-270m": SyntheticShape(architecture: .gemma3, layers: 18, embedding: 640, feedForward: 2048, heads: 4, kvHeads: 1,
                                      vocabulary: 262144, context: 32768, headDim: 256, ropeFreqBase: 1_000_000, slidingWindow: 512),
        "gemma3-1b": SyntheticShape(architecture: .gemma3, layers: 26, embedding: 1152, feedForward: 6912, heads: 4, kvHeads: 1,
                                    vocabulary: 262144, context: 32768, headDim: 256, ropeFreqBase: 1_000_000, slidingWindow: 512),
    ]

    public static var presetNames: [String] { presets.keys.sorted() }

    /// The reasons this shape cannot be written as `type`, or none.
    public func problems(for type: DType) -> [String] {
        var out: [String] = []
        for (name, value) in [("layers", layers), ("embd", embedding), ("ffn", feedForward), ("heads", heads),
                              ("kv-heads", kvHeads), ("vocab", vocabulary), ("ctx", context)] where value <= 0 {
            out.append("\(name) must be positive (got \(value))")
        }
        guard out.isEmpty else { return out }
        if heads % kvHeads != 0 { out.append("heads \(heads) is not a multiple of kv-heads \(kvHeads)") }
        if headDim == nil && embedding % heads != 0 { out.append("heads \(heads) do not divide embd \(embedding)") }
        if headSize % 2 != 0 { out.append("the head size \(headSize) is odd: rope rotates pairs") }
        if architecture == .llama && headDim != nil { out.append("llama derives its head size from embd / heads") }
        if vocabulary < SyntheticTokenizer.minimumVocabulary {
            out.append("vocab \(vocabulary) is smaller than the byte-level tokenizer's \(SyntheticTokenizer.minimumVocabulary) tokens")
        }
        if vocabulary > 1 << 24 || embedding > 1 << 20 || feedForward > 1 << 20 || layers > 4096 { out.append("the shape is implausibly large") }
        if ![.f32, .f16].contains(type) && !type.isQuantized { out.append("\(type.rawValue) is not a weight type") }
        // Every matrix's rows (ne0) must be whole blocks of the type.
        var widths = [("embd", embedding), ("ffn", feedForward)]
        if heads * headSize != embedding { widths.append(("heads × head size", heads * headSize)) }
        for (what, k) in widths where k % type.blockSize != 0 {
            out.append("\(type.rawValue) holds rows of a multiple of \(type.blockSize) values; \(what) is \(k)")
        }
        return out
    }

    /// Parameters in the weight matrices and norms (what the file holds, embeddings included).
    public var parameterCount: Int {
        let e = embedding, d = headSize
        var perLayer = e * heads * d * 2 + e * kvHeads * d * 2 + 3 * e * feedForward + 2 * e
        if architecture == .gemma3 { perLayer += 2 * d + 2 * e }
        return layers * perLayer + vocabulary * e * (tiedOutput ? 1 : 2) + e
    }
}
