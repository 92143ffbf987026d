import EdgeHAL

/// Builds the llama forward pass for a batch of `tokens` with the core graph API only, so the
/// executor fuses and places every op per backend. The KV cache is a state tensor per layer,
/// written with set_rows and shared by every graph built on the same ``ResidentTensors``.
public struct LlamaGraph {
    public var graph: Graph
    /// Token ids [T].
    public var tokenIDs: TensorID
    /// Positions [T] for rope.
    public var positions: TensorID
    /// Cache rows [T·Hkv] to write the new keys and values into.
    public var cacheRows: TensorID
    /// Additive mask [cacheLength, T].
    public var mask: TensorID
    /// Logits [vocabulary, T], or [vocabulary, 1] for the last token only.
    public var logits: TensorID
    /// Which token's logits to keep when only the last is wanted (an input [1] holding T−1).
    public var lastRow: TensorID?
    public let tokens: Int
    public let cacheLength: Int

    public init(model: LlamaModel, tokens: Int, cacheLength: Int, allLogits: Bool) throws {
        let c = model.config
        let (e, hd, t) = (c.embedding, c.headDim, tokens)
        self.tokens = tokens
        self.cacheLength = cacheLength
        var b = GraphBuilder()
        func weight(_ name: String) throws -> TensorID {
            guard let info = model.file.tensor(named: name) else { throw ModelError("missing tensor \(name)") }
            return try b.weight(name, info.type, info.shape, data: model.weightData(info))
        }
        func expect(_ id: TensorID, _ shape: Shape) throws {
            guard b.graph[id].desc.shape == shape else {
                throw ModelError("tensor \(b.graph[id].name) is [\(b.graph[id].desc.shape)], expected [\(shape)]")
            }
        }
        let tokenIDs = b.input("tokens", .i32, Shape(t))
        let positions = b.input("positions", .i32, Shape(t))
        let cacheRows = b.input("cache_rows", .i32, Shape(t * c.kvHeads))
        let mask = b.input("mask", .f32, Shape(cacheLength, t))
        let rope = RopeParams(mode: c.ropeMode, nDims: c.ropeDims, freqBase: c.ropeFreqBase, freqScale: c.ropeFreqScale)
        let scale = 1 / Float(hd).squareRoot()

        let embeddings = try weight("token_embd.weight")
        try expect(embeddings, Shape(e, c.vocabulary))
        var x = try b.getRows(embeddings, tokenIDs)
        for l in 0..<c.layers {
            let p = "blk.\(l)."
            let h = try b.mul(try b.rmsNorm(x, eps: c.rmsEpsilon), try weight(p + "attn_norm.weight"))
            // Projections to heads: [hd, heads, T] → rope → [hd, T, heads].
            func project(_ name: String, heads: Int, rotate: Bool) throws -> TensorID {
                let w = try weight(p + name)
                try expect(w, Shape(e, hd * heads))
                var y = try b.reshape(try b.mulMat(w, h), Shape(hd, heads, t))
                if rotate { y = try b.rope(y, positions: positions, rope) }
                return try b.permute(y, 0, 2, 1, 3)
            }
            let q = try project("attn_q.weight", heads: c.heads, rotate: true)
            func cache(_ name: String, _ fresh: TensorID) throws -> TensorID {
                let state = try b.state("\(name).\(l)", .f32, Shape(hd, cacheLength * c.kvHeads))
                let written = try b.setRows(state, try b.reshape(fresh, Shape(hd, t * c.kvHeads)), ids: cacheRows)
                return try b.reshape(written, Shape(hd, cacheLength, c.kvHeads))
            }
            let k = try cache("cache_k", try project("attn_k.weight", heads: c.kvHeads, rotate: true))
            let v = try cache("cache_v", try project("attn_v.weight", heads: c.kvHeads, rotate: false))
            let att = try b.attention(q: q, k: k, v: v, mask: mask, scale: scale)
            let merged = try b.reshape(try b.permute(att, 0, 2, 1, 3), Shape(e, t))
            let wo = try weight(p + "attn_output.weight")
            try expect(wo, Shape(e, e))
            x = try b.add(x, try b.mulMat(wo, merged))

            let h2 = try b.mul(try b.rmsNorm(x, eps: c.rmsEpsilon), try weight(p + "ffn_norm.weight"))
            let gate = try weight(p + "ffn_gate.weight"), up = try weight(p + "ffn_up.weight"), down = try weight(p + "ffn_down.weight")
            try expect(gate, Shape(e, c.feedForward))
            try expect(up, Shape(e, c.feedForward))
            try expect(down, Shape(c.feedForward, e))
            let ffn = try b.mul(try b.silu(try b.mulMat(gate, h2)), try b.mulMat(up, h2))
            x = try b.add(x, try b.mulMat(down, ffn))
        }
        var final = try b.mul(try b.rmsNorm(x, eps: c.rmsEpsilon), try weight("output_norm.weight"))
        var lastRow: TensorID?
        if !allLogits && t > 1 {
            // Keep only the last token's hidden state: get_rows over the [E, T] activations.
            let last = b.input("last_row", .i32, Shape(1))
            lastRow = last
            final = try b.getRows(final, last)
        }
        let output = model.file.tensor(named: "output.weight") != nil ? try weight("output.weight") : embeddings
        let logits = try b.mulMat(output, final)
        b.output(logits)
        (self.tokenIDs, self.positions, self.cacheRows, self.mask) = (tokenIDs, positions, cacheRows, mask)
        (self.logits, self.lastRow) = (logits, lastRow)
        graph = b.graph
    }
}
