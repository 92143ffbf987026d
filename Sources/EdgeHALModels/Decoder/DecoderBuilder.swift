import EdgeHAL

/// The pieces every decoder family is made of, on top of the core graph API: named weights with
/// their shapes checked, RMS norms, the attention block with its KV cache states, the gated
/// feed-forward. An architecture wires them; the executor fuses and places every op per backend.
public struct DecoderBuilder {
    public var b = GraphBuilder()
    public let model: LanguageModel
    public let config: ModelConfig
    public let tokens: Int
    public let cacheLength: Int
    /// Token ids [T], positions [T], cache rows [T·Hkv].
    public let tokenIDs: TensorID, positions: TensorID, cacheRows: TensorID
    /// Additive causal mask [cacheLength, T] of global layers.
    public let mask: TensorID
    /// The mask of sliding-window layers, when the model has them.
    public let localMask: TensorID?
    /// Weights already in the graph, by name: a tied table is one tensor however often it is used.
    private var weights: [String: TensorID] = [:]

    init(model: LanguageModel, tokens t: Int, cacheLength: Int) {
        self.model = model
        config = model.config
        tokens = t
        self.cacheLength = cacheLength
        tokenIDs = b.input("tokens", .i32, Shape(t))
        positions = b.input("positions", .i32, Shape(t))
        cacheRows = b.input("cache_rows", .i32, Shape(t * config.kvHeads))
        mask = b.input("mask", .f32, Shape(cacheLength, t))
        localMask = config.slidingWindow == nil ? nil : b.input("mask_local", .f32, Shape(cacheLength, t))
    }

    /// A weight from the file; `shape`, when given, must match.
    public mutating func weight(_ name: String, _ shape: Shape? = nil) throws -> TensorID {
        guard let info = model.file.tensor(named: name) else { throw ModelError("missing tensor \(name)") }
        let w = try weights[name] ?? b.weight(name, info.type, info.shape, data: model.weightData(info))
        weights[name] = w
        if let shape, b.graph[w].desc.shape != shape {
            throw ModelError("tensor \(name) is [\(b.graph[w].desc.shape)], expected [\(shape)]")
        }
        return w
    }

    /// rms_norm(x)·w over ne0, with w [ne0] broadcast over the other axes (fused where supported).
    public mutating func norm(_ x: TensorID, _ weightName: String) throws -> TensorID {
        let n = b.graph[x].desc.shape[0]
        return try b.mul(try b.rmsNorm(x, eps: config.rmsEpsilon), try weight(weightName, Shape(n)))
    }

    /// Stages of the graph (``Graph/Node/stage``) for placing whole layers: the embedding lookup
    /// (and what an architecture does to it before layer 0), layer l as l, the final norm and the
    /// output projection as `layers`.
    public static let embeddingStage = -1
    public static func outputStage(_ config: ModelConfig) -> Int { config.layers }

    /// Starts layer `l`: the nodes that follow belong to its stage.
    public mutating func beginLayer(_ l: Int) { b.stage = l }

    /// The token embeddings [E, T], looked up in `token_embd.weight`.
    public mutating func embed() throws -> TensorID {
        b.stage = Self.embeddingStage
        return try b.getRows(try weight("token_embd.weight", Shape(config.embedding, config.vocabulary)), tokenIDs)
    }

    /// How one layer's attention differs between families.
    public struct AttentionStyle {
        public var rope: RopeParams
        /// Per-head RMS norm of q and k before rope (`attn_q_norm`, `attn_k_norm`).
        public var normQK = false
        public var scale: Float
        public var local = false
    }

    /// Self-attention of layer `l` on the normed input `h` [E, T], through the output projection:
    /// q, k, v projections to heads, rope, the layer's KV cache state, attention, `attn_output`.
    public mutating func attention(_ h: TensorID, layer l: Int, _ style: AttentionStyle) throws -> TensorID {
        let (e, hd, t, c) = (config.embedding, config.headDim, tokens, config)
        let p = "blk.\(l)."
        // Projections to heads [hd, heads, T] → (norm) → (rope) → [hd, T, heads].
        func project(_ name: String, heads: Int, norm: String?, rotate: Bool) throws -> TensorID {
            var y = try b.reshape(try b.mulMat(try weight(p + name, Shape(e, hd * heads)), h), Shape(hd, heads, t))
            if let norm { y = try self.norm(y, p + norm) }
            if rotate { y = try b.rope(y, positions: positions, style.rope) }
            return try b.permute(y, 0, 2, 1, 3)
        }
        func cache(_ name: String, _ fresh: TensorID) throws -> TensorID {
            let state = try b.state("\(name).\(l)", .f32, Shape(hd, cacheLength * c.kvHeads))
            let written = try b.setRows(state, try b.reshape(fresh, Shape(hd, t * c.kvHeads)), ids: cacheRows)
            return try b.reshape(written, Shape(hd, cacheLength, c.kvHeads))
        }
        let q = try project("attn_q.weight", heads: c.heads, norm: style.normQK ? "attn_q_norm.weight" : nil, rotate: true)
        let k = try cache("cache_k", try project("attn_k.weight", heads: c.kvHeads, norm: style.normQK ? "attn_k_norm.weight" : nil, rotate: true))
        let v = try cache("cache_v", try project("attn_v.weight", heads: c.kvHeads, norm: nil, rotate: false))
        guard let layerMask = style.local ? localMask : mask else { throw ModelError("layer \(l) is local but the model has no sliding window") }
        let att = try b.attention(q: q, k: k, v: v, mask: layerMask, scale: style.scale)
        let merged = try b.reshape(try b.permute(att, 0, 2, 1, 3), Shape(hd * c.heads, t))
        return try b.mulMat(try weight(p + "attn_output.weight", Shape(hd * c.heads, e)), merged)
    }

    public enum Activation { case silu, gelu }

    /// The gated feed-forward of layer `l`: down(act(gate·h) · up·h).
    public mutating func feedForward(_ h: TensorID, layer l: Int, _ activation: Activation) throws -> TensorID {
        let (e, f, p) = (config.embedding, config.feedForward, "blk.\(l).")
        let gate = try b.mulMat(try weight(p + "ffn_gate.weight", Shape(e, f)), h)
        let up = try b.mulMat(try weight(p + "ffn_up.weight", Shape(e, f)), h)
        let act = activation == .silu ? try b.silu(gate) : try b.gelu(gate)
        return try b.mulMat(try weight(p + "ffn_down.weight", Shape(f, e)), try b.mul(act, up))
    }
}
