import EdgeHAL

/// Hyper-parameters of a llama-family model, read from GGUF metadata (`{arch}.…` keys).
public struct LlamaConfig: Sendable, Equatable {
    public var architecture: String
    public var embedding: Int
    public var layers: Int
    public var feedForward: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var ropeDims: Int
    public var ropeFreqBase: Float
    public var ropeFreqScale: Float
    public var ropeMode: RopeMode
    public var rmsEpsilon: Float
    public var contextLength: Int
    public var vocabulary: Int

    /// Architectures whose graph is the llama one (same tensors, same ops).
    public static let supportedArchitectures: Set<String> = ["llama"]

    public init(gguf: GGUFFile) throws {
        guard let arch = gguf.string("general.architecture") else { throw ModelError("missing general.architecture") }
        guard Self.supportedArchitectures.contains(arch) else {
            throw ModelError("architecture '\(arch)' is not supported (supported: \(Self.supportedArchitectures.sorted().joined(separator: ", ")))")
        }
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
        guard embedding % heads == 0, heads % kvHeads == 0 else {
            throw ModelError("embedding \(embedding), heads \(heads), kv heads \(kvHeads) do not divide")
        }
        headDim = embedding / heads
        ropeDims = (try? int("rope.dimension_count")) ?? headDim
        guard ropeDims <= headDim, ropeDims % 2 == 0 else { throw ModelError("rope.dimension_count \(ropeDims) invalid for head size \(headDim)") }
        ropeFreqBase = Float(gguf.float("\(arch).rope.freq_base") ?? 10000)
        // Linear scaling stretches positions: θ uses pos / factor.
        if gguf.string("\(arch).rope.scaling.type") == "linear", let factor = gguf.float("\(arch).rope.scaling.factor"), factor > 0 {
            ropeFreqScale = Float(1 / factor)
        } else {
            ropeFreqScale = 1
        }
        ropeMode = .normal  // llama GGUF files store Q/K permuted for adjacent-pair rotation
        rmsEpsilon = Float(gguf.float("\(arch).attention.layer_norm_rms_epsilon") ?? 1e-5)
        contextLength = (try? int("context_length")) ?? 2048
        guard let embd = gguf.tensor(named: "token_embd.weight") else { throw ModelError("missing tensor token_embd.weight") }
        vocabulary = embd.shape[1]
    }
}

public struct ModelError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
