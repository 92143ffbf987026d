import EdgeHAL

/// The forward pass of a model for a batch of `tokens`, built by its ``DecoderArchitecture`` with
/// the core graph API only, so the executor fuses and places every op per backend. The KV cache is
/// a state tensor per layer, written with set_rows and shared by every graph built on the same
/// ``ResidentTensors``.
public struct DecoderGraph {
    public var graph: Graph
    /// Token ids [T].
    public var tokenIDs: TensorID
    /// Positions [T] for rope.
    public var positions: TensorID
    /// Cache rows [T·Hkv] to write the new keys and values into.
    public var cacheRows: TensorID
    /// Additive mask [cacheLength, T].
    public var mask: TensorID
    /// Additive mask of sliding-window layers [cacheLength, T], for models that have them.
    public var localMask: TensorID?
    /// Logits [vocabulary, T], or [vocabulary, 1] for the last token only.
    public var logits: TensorID
    /// Which token's logits to keep when only the last is wanted (an input [1] holding T−1).
    public var lastRow: TensorID?
    public let tokens: Int
    public let cacheLength: Int

    public init(model: LanguageModel, tokens: Int, cacheLength: Int, allLogits: Bool) throws {
        let architecture = try Architectures.require(model.config.architecture)
        self.tokens = tokens
        self.cacheLength = cacheLength
        var d = DecoderBuilder(model: model, tokens: tokens, cacheLength: cacheLength)
        let hidden = try architecture.hidden(&d)
        d.b.stage = DecoderBuilder.outputStage(model.config)
        var final = try d.norm(hidden, "output_norm.weight")
        if !allLogits && tokens > 1 {
            // Keep only the last token's hidden state: get_rows over the [E, T] activations.
            let last = d.b.input("last_row", .i32, Shape(1))
            lastRow = last
            final = try d.b.getRows(final, last)
        }
        logits = try d.b.mulMat(try d.weight(model.outputWeightName, Shape(model.config.embedding, model.config.vocabulary)), final)
        d.b.output(logits)
        (tokenIDs, positions, cacheRows, mask, localMask) = (d.tokenIDs, d.positions, d.cacheRows, d.mask, d.localMask)
        graph = d.b.graph
    }
}
