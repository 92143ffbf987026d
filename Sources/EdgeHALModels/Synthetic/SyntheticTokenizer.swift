/// The tokenizer a synthetic model carries: byte-level BPE ("gpt2") with the 256 byte tokens and
/// no merges, so any text encodes (one token per byte) in EdgeHAL and llama.cpp alike, then a
/// begin and an end token, then unused tokens up to the model's vocabulary.
public enum SyntheticTokenizer {
    public static let bos: Int32 = 256
    public static let eos: Int32 = 257
    public static var minimumVocabulary: Int { 258 }

    /// GPT-2's byte → character map: printable bytes stand for themselves, the others take the
    /// characters from U+0100 on, in byte order.
    static var byteTokens: [String] {
        let printable = Set(Array(33...126) + Array(161...172) + Array(174...255))
        var next = 256
        return (0..<256).map { b in
            if printable.contains(b) { return String(UnicodeScalar(UInt8(b))) }
            defer { next += 1 }
            return String(UnicodeScalar(UInt32(next))!)
        }
    }

    /// `tokenizer.*` metadata for a vocabulary of `size` tokens (≥ minimumVocabulary).
    static func metadata(vocabulary size: Int) -> [(String, GGUFValue)] {
        let named = byteTokens + ["<|begin_of_text|>", "<|end_of_text|>"]
        let tokens = named + (named.count..<size).map { "<|unused_\($0)|>" }
        // llama.cpp's token types: 1 normal, 3 control, 5 unused.
        let types = [Int32](repeating: 1, count: 256) + [3, 3] + [Int32](repeating: 5, count: size - minimumVocabulary)
        return [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string("gpt-2")),
            ("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(.int32, types.map { .int32($0) })),
            ("tokenizer.ggml.merges", .array(.string, [])),
            ("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos))),
            ("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos))),
            ("tokenizer.ggml.add_bos_token", .bool(true)),
        ]
    }
}
