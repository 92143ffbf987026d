import EdgeHAL

extension Workload {
    /// The work of running `model`: its matrices by type (every 2-D tensor but the embedding table,
    /// which decode reads one row of; with tied embeddings the table is also the output matrix, which
    /// a prefill runs for its last token only), the ops of its decode graph as built (before fusion),
    /// `promptTokens` of prefill in runs of `batch`, then `generatedTokens` of decode.
    public init(model: LanguageModel, promptTokens: Int = 128, generatedTokens: Int = 64, batch: Int = 64) {
        let outputName = model.outputWeightName
        var byType: [DType: Matrices] = [:]
        for t in model.file.tensors where t.shape[1] > 1 && (t.name != "token_embd.weight" || outputName == t.name) {
            var m = byType[t.type] ?? Matrices(type: t.type, count: 0, bytes: 0, prefillElements: 0)
            m.count += 1
            m.bytes += Double(t.byteCount)
            if t.name != outputName { m.prefillElements += Double(t.shape.count) }
            byType[t.type] = m
        }
        let ops = (try? DecoderGraph(model: model, tokens: 1, cacheLength: 16, allLogits: false))?.graph.nodes.count
        let name = model.path.split(separator: "/").last.map(String.init) ?? model.path
        self.init(name: "\(name), \(promptTokens) prompt + \(generatedTokens) generated tokens",
                  matrices: byType.values.sorted { $0.bytes > $1.bytes }, ops: ops ?? 20 * model.config.layers,
                  promptTokens: promptTokens, generatedTokens: generatedTokens, batch: batch)
    }
}
