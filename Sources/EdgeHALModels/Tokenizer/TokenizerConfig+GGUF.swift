extension TokenizerConfig {
    /// Reads the `tokenizer.*` metadata of a GGUF file. Keys that are absent stay `nil` (or take llama.cpp's
    /// default, for `add_bos_token` / `add_eos_token`).
    public init(gguf: GGUFFile) throws {
        guard let model = gguf.string("tokenizer.ggml.model") else {
            throw TokenizerError.invalid("the file has no tokenizer.ggml.model")
        }
        guard let tokens = gguf.metadata["tokenizer.ggml.tokens"]?.stringArray else {
            throw TokenizerError.invalid("the file has no tokenizer.ggml.tokens string array")
        }
        func id(_ key: String) -> Int32? { gguf.int("tokenizer.ggml." + key).flatMap { Int32(exactly: $0) } }
        var types: [Int32]?
        if let value = gguf.metadata["tokenizer.ggml.token_type"] {
            guard let ints = value.intArray else { throw TokenizerError.invalid("tokenizer.ggml.token_type is not an integer array") }
            types = ints.map { Int32(truncatingIfNeeded: $0) }
        }
        var scores: [Float]?
        if let value = gguf.metadata["tokenizer.ggml.scores"] {
            guard let floats = value.floatArray else { throw TokenizerError.invalid("tokenizer.ggml.scores is not a number array") }
            scores = floats
        }
        var merges: [String]?
        if let value = gguf.metadata["tokenizer.ggml.merges"] {
            guard let strings = value.stringArray else { throw TokenizerError.invalid("tokenizer.ggml.merges is not a string array") }
            merges = strings
        }
        self.init(model: model, pre: gguf.string("tokenizer.ggml.pre"), tokens: tokens, scores: scores,
                  tokenTypes: types, merges: merges,
                  bos: id("bos_token_id"), eos: id("eos_token_id"), eot: id("eot_token_id"), eom: id("eom_token_id"),
                  unk: id("unknown_token_id"),
                  fimPad: id("fim_pad_token_id"), fimRep: id("fim_rep_token_id"), fimSep: id("fim_sep_token_id"),
                  addBOS: gguf.bool("tokenizer.ggml.add_bos_token"), addEOS: gguf.bool("tokenizer.ggml.add_eos_token"),
                  addSpacePrefix: gguf.bool("tokenizer.ggml.add_space_prefix"),
                  chatTemplate: gguf.string("tokenizer.chat_template"))
    }
}

extension Tokenizer {
    /// The tokenizer described by a GGUF file's metadata.
    public convenience init(gguf: GGUFFile) throws {
        try self.init(TokenizerConfig(gguf: gguf))
    }
}
