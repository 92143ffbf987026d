import EdgeHAL

/// Llama and the families that share its tensors and graph (SmolLM2, TinyLlama, …): pre-norm
/// blocks, rope on adjacent pairs (GGUF stores q and k permuted for it), SwiGLU feed-forward.
public struct Llama: DecoderArchitecture {
    public var name: String { "llama" }

    public func configure(_ config: inout ModelConfig, from gguf: GGUFFile) throws {
        config.ropeMode = .normal
    }

    public func hidden(_ d: inout DecoderBuilder) throws -> TensorID {
        let c = d.config
        let style = DecoderBuilder.AttentionStyle(
            rope: RopeParams(mode: c.ropeMode, nDims: c.ropeDims, freqBase: c.ropeFreqBase, freqScale: c.ropeFreqScale),
            scale: 1 / Float(c.headDim).squareRoot())
        var x = try d.embed()
        for l in 0..<c.layers {
            d.beginLayer(l)
            x = try d.b.add(x, try d.attention(try d.norm(x, "blk.\(l).attn_norm.weight"), layer: l, style))
            x = try d.b.add(x, try d.feedForward(try d.norm(x, "blk.\(l).ffn_norm.weight"), layer: l, .silu))
        }
        return x
    }
}
