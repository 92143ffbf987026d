import EdgeHAL

/// Hyper-parameters of a decoder-only transformer, read from GGUF metadata (`{arch}.…` keys). The
/// common keys are read here; each ``DecoderArchitecture`` adds what only it has.
public struct ModelConfig: Sendable, Equatable {
    public var architecture: String
    public var embedding: Int
    public var layers: Int
    public var feedForward: Int
    public var heads: Int
    public var kvHeads: Int
    /// `attention.key_length` when present (Gemma 3: 256 with embedding 640), else embedding / heads.
    public var headDim: Int
    public var ropeDims: Int
    public var ropeFreqBase: Float
    public var ropeFreqScale: Float
    public var ropeMode: RopeMode
    public var rmsEpsilon: Float
    public var contextLength: Int
    public var vocabulary: Int
    /// Local (sliding-window) attention layers, if the architecture has them.
    public var slidingWindow: SlidingWindow?

    /// Layers that attend to a window of recent keys only, interleaved with global layers.
    public struct SlidingWindow: Sendable, Equatable {
        /// A query at position p sees keys k with p − k < `size` (and k ≤ p).
        public var size: Int
        /// Layer l is local when `l % period < period − 1` (llama.cpp's swa pattern: the last of
        /// every `period` layers is global).
        public var period: Int
        /// Rope base of the local layers (global layers use ``ModelConfig/ropeFreqBase``).
        public var ropeFreqBase: Float

        public func isLocal(layer l: Int) -> Bool { period <= 1 || l % period < period - 1 }
    }

    public init(gguf: GGUFFile) throws {
        guard let arch = gguf.string("general.architecture") else { throw ModelError("missing general.architecture") }
        let builder = try Architectures.require(arch)
        func int(_ key: String) throws -> Int {
            guard let v = gguf.int("\(arch).\(key)"), v > 0, v < 1 << 24 else { throw ModelError("missing or invalid \(arch).\(key)") }
            return v
        }
        architecture = arch
        embedding = try int("embedding_length")
        layers = try int("block_count")
        feedForward = try int("feed_forward_length")
        heads = try int("attention.head_count")
        kvHeads = (try? int("attention.head_count_kv")) ?? heads
        guard heads % kvHeads == 0 else { throw ModelError("heads \(heads) is not a multiple of kv heads \(kvHeads)") }
        if gguf.int("\(arch).attention.key_length") != nil {
            headDim = try int("attention.key_length")
            guard (try? int("attention.value_length")) ?? headDim == headDim else {
                throw ModelError("\(arch).attention.value_length differs from key_length: not supported")
            }
        } else {
            guard embedding % heads == 0 else { throw ModelError("embedding \(embedding) does not divide into \(heads) heads") }
            headDim = embedding / heads
        }
        ropeDims = (try? int("rope.dimension_count")) ?? headDim
        guard ropeDims <= headDim, ropeDims % 2 == 0 else { throw ModelError("rope.dimension_count \(ropeDims) invalid for head size \(headDim)") }
        ropeFreqBase = Float(gguf.float("\(arch).rope.freq_base") ?? 10000)
        // Linear scaling stretches positions: θ uses pos / factor.
        if gguf.string("\(arch).rope.scaling.type") == "linear", let factor = gguf.float("\(arch).rope.scaling.factor"), factor > 0 {
            ropeFreqScale = Float(1 / factor)
        } else {
            ropeFreqScale = 1
        }
        ropeMode = .normal
        rmsEpsilon = Float(gguf.float("\(arch).attention.layer_norm_rms_epsilon") ?? 1e-5)
        contextLength = (try? int("context_length")) ?? 2048
        guard let embd = gguf.tensor(named: "token_embd.weight") else { throw ModelError("missing tensor token_embd.weight") }
        vocabulary = embd.shape[1]
        try builder.configure(&self, from: gguf)
    }
}

public struct ModelError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
