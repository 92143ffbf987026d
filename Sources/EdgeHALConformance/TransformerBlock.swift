import EdgeHAL

/// A llama-style decoder block with random quantized weights, built from unfused ops so each
/// backend's fusion pass and every op placement are exercised end to end.
public enum TransformerBlock {
    public struct Config: Sendable, CustomStringConvertible {
        public var embedding: Int, heads: Int, kvHeads: Int, ffn: Int, tokens: Int
        public var weightType: DType
        public var kvOffset = 0

        public var headDim: Int { embedding / heads }
        public var description: String {
            "e=\(embedding) h=\(heads)/\(kvHeads) ffn=\(ffn) t=\(tokens)"
        }
        var matrices: [(String, k: Int, m: Int)] {
            [("wq", embedding, embedding), ("wk", embedding, headDim * kvHeads), ("wv", embedding, headDim * kvHeads),
             ("wo", embedding, embedding), ("w_gate", embedding, ffn), ("w_up", embedding, ffn), ("w_down", ffn, embedding)]
        }
        public var flops: Double {
            Double(matrices.reduce(0) { $0 + 2 * $1.k * $1.m * tokens }
                   + 4 * headDim * tokens * (tokens + kvOffset) * heads)
        }
        public var weightBytes: Int { matrices.reduce(0) { $0 + weightType.rowBytes($1.k) * $1.m } }
    }

    public static func make(_ cfg: Config, rng: inout SeededRandom) throws -> CaseGraph {
        var c = OpCaseBuilder()
        let (e, t, hd) = (cfg.embedding, cfg.tokens, cfg.headDim)
        var w: [String: TensorID] = [:]
        for (name, k, m) in cfg.matrices {
            // Scaled like trained weights so activations stay O(1) through the block.
            let data = TestData.weights(cfg.weightType, k: k, rows: m, rng: &rng, scale: 1 / Float(k).squareRoot())
            w[name] = try c.weight(name, cfg.weightType, Shape(k, m), data)
        }
        let attnNorm = try c.weight("attn_norm", .f32, Shape(e), TestData.bytes(of: rng.uniform(0.8, 1.2, count: e)))
        let ffnNorm = try c.weight("ffn_norm", .f32, Shape(e), TestData.bytes(of: rng.uniform(0.8, 1.2, count: e)))
        let x = c.floats("x", Shape(e, t), rng.normal(count: e * t))
        let pos = c.ints("pos", (0..<t).map { Int32(cfg.kvOffset + $0) })
        let mask = c.floats("mask", Shape(t, t), TestData.causalMask(kv: t, tokens: t, kvOffset: 0))
        let rope = RopeParams(mode: .normal, nDims: hd, freqBase: 10000)

        var b = c.builder
        let h = try b.mul(try b.rmsNorm(x, eps: 1e-5), attnNorm)
        func heads(_ weight: String, _ n: Int, rotate: Bool) throws -> TensorID {
            var y = try b.reshape(try b.mulMat(w[weight]!, h), Shape(hd, n, t))
            if rotate { y = try b.rope(y, positions: pos, rope) }
            return try b.permute(y, 0, 2, 1, 3)
        }
        let q = try heads("wq", cfg.heads, rotate: true)
        let k = try heads("wk", cfg.kvHeads, rotate: true)
        let v = try heads("wv", cfg.kvHeads, rotate: false)
        let att = try b.attention(q: q, k: k, v: v, mask: mask, scale: 1 / Float(hd).squareRoot())
        let merged = try b.reshape(try b.permute(att, 0, 2, 1, 3), Shape(e, t))
        let x2 = try b.add(x, try b.mulMat(w["wo"]!, merged))
        let h2 = try b.mul(try b.rmsNorm(x2, eps: 1e-5), ffnNorm)
        let gated = try b.mul(try b.silu(try b.mulMat(w["w_gate"]!, h2)), try b.mulMat(w["w_up"]!, h2))
        let out = try b.add(x2, try b.mulMat(w["w_down"]!, gated))
        c.builder = b
        return c.finish(out)
    }
}
