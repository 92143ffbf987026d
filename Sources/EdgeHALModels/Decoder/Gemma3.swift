import EdgeHAL

/// Gemma 3, as llama.cpp computes it (`llm_build_gemma3_iswa`):
/// - embeddings × √E;
/// - per layer: rms_norm·attn_norm → attention with per-head rms_norm·attn_q_norm / attn_k_norm
///   before NeoX rope over the whole head, q scaled by 1/√head → rms_norm·post_attention_norm →
///   + residual → rms_norm·ffn_norm → down(gelu(gate)·up) → rms_norm·post_ffw_norm → + residual;
/// - sliding-window layers (window `attention.sliding_window`, rope base 10 000 or
///   `rope.freq_base_swa`) with every sixth layer global (rope base `rope.freq_base`, and the
///   file's rope scaling);
/// - output tied to the token embeddings when the file has no `output.weight`.
/// The converter has already folded Gemma's `1 + w` into the stored norm weights.
public struct Gemma3: DecoderArchitecture {
    public var name: String { "gemma3" }

    /// llama.cpp's `set_swa_pattern(6)` for gemma3: five local layers, then one global.
    static let swaPeriod = 6

    public func configure(_ config: inout ModelConfig, from gguf: GGUFFile) throws {
        config.ropeMode = .neox
        if let window = gguf.int("gemma3.attention.sliding_window") {
            guard window > 0 else { throw ModelError("invalid gemma3.attention.sliding_window \(window)") }
            config.slidingWindow = .init(size: window, period: Self.swaPeriod,
                                         ropeFreqBase: Float(gguf.float("gemma3.rope.freq_base_swa") ?? 10000))
        }
        // Gemma 2's logit soft-capping is gone in Gemma 3; a file asking for it is not one we know.
        if let cap = gguf.float("gemma3.final_logit_softcapping"), cap > 0 {
            throw ModelError("gemma3.final_logit_softcapping \(cap) is not supported")
        }
    }

    public func hidden(_ d: inout DecoderBuilder) throws -> TensorID {
        let c = d.config
        let global = DecoderBuilder.AttentionStyle(
            rope: RopeParams(mode: .neox, nDims: c.ropeDims, freqBase: c.ropeFreqBase, freqScale: c.ropeFreqScale),
            normQK: true, scale: 1 / Float(c.headDim).squareRoot())
        var local = global
        local.local = true
        if let w = c.slidingWindow { local.rope = RopeParams(mode: .neox, nDims: c.ropeDims, freqBase: w.ropeFreqBase, freqScale: 1) }

        var x = try d.b.scale(try d.embed(), Float(c.embedding).squareRoot())
        for l in 0..<c.layers {
            let p = "blk.\(l)."
            d.beginLayer(l)
            let style = c.slidingWindow?.isLocal(layer: l) == true ? local : global
            let att = try d.attention(try d.norm(x, p + "attn_norm.weight"), layer: l, style)
            x = try d.b.add(x, try d.norm(att, p + "post_attention_norm.weight"))
            let ffn = try d.feedForward(try d.norm(x, p + "ffn_norm.weight"), layer: l, .gelu)
            x = try d.b.add(x, try d.norm(ffn, p + "post_ffw_norm.weight"))
        }
        return x
    }
}
