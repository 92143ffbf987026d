/// Everything a `Tokenizer` is built from: the `tokenizer.*` metadata of a GGUF file.
///
/// Optional fields left `nil` take llama.cpp's defaults for the model (`TokenizerConfig.init(gguf:)` leaves a
/// field `nil` exactly when the key is missing from the file).
public struct TokenizerConfig: Sendable {
    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE) or "llama" (SentencePiece).
    public var model: String
    /// `tokenizer.ggml.pre`: the BPE pre-tokenizer ("smollm", "llama-bpe", "qwen2", …; nil means "default").
    public var pre: String?
    /// `tokenizer.ggml.tokens`, as raw bytes-in-a-String (GGUF strings are UTF-8).
    public var tokens: [String]
    /// `tokenizer.ggml.scores` (SentencePiece merge priorities).
    public var scores: [Float]?
    /// `tokenizer.ggml.token_type`: normal 1, unknown 2, control 3, user-defined 4, unused 5, byte 6.
    public var tokenTypes: [Int32]?
    /// `tokenizer.ggml.merges` ("left right", in rank order).
    public var merges: [String]?
    /// `tokenizer.ggml.bos_token_id`, `eos_token_id`, `eot_token_id`.
    public var bos: Int32?
    public var eos: Int32?
    public var eot: Int32?
    /// `tokenizer.ggml.eom_token_id`, `unknown_token_id`.
    public var eom: Int32?
    public var unk: Int32?
    /// `tokenizer.ggml.fim_pad_token_id`, `fim_rep_token_id`, `fim_sep_token_id` (end-of-generation tokens).
    public var fimPad: Int32?
    public var fimRep: Int32?
    public var fimSep: Int32?
    /// `tokenizer.ggml.add_bos_token` / `add_eos_token`, or llama.cpp's default for the model and pre-tokenizer.
    public var addBOS: Bool
    public var addEOS: Bool
    /// `tokenizer.ggml.add_space_prefix` (nil: true for "llama", false for "gpt2").
    public var addSpacePrefix: Bool?
    /// `tokenizer.chat_template`.
    public var chatTemplate: String?

    public init(model: String, pre: String? = nil, tokens: [String], scores: [Float]? = nil,
                tokenTypes: [Int32]? = nil, merges: [String]? = nil,
                bos: Int32? = nil, eos: Int32? = nil, eot: Int32? = nil, eom: Int32? = nil, unk: Int32? = nil,
                fimPad: Int32? = nil, fimRep: Int32? = nil, fimSep: Int32? = nil,
                addBOS: Bool? = nil, addEOS: Bool? = nil, addSpacePrefix: Bool? = nil,
                chatTemplate: String? = nil) {
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.bos = bos
        self.eos = eos
        self.eot = eot
        self.eom = eom
        self.unk = unk
        self.fimPad = fimPad
        self.fimRep = fimRep
        self.fimSep = fimSep
        self.addBOS = addBOS ?? TokenizerConfig.defaultAddBOS(model: model, pre: pre)
        self.addEOS = addEOS ?? false
        self.addSpacePrefix = addSpacePrefix
        self.chatTemplate = chatTemplate
    }

    /// llama.cpp's `add_bos` when `tokenizer.ggml.add_bos_token` is absent: true for SentencePiece, and for BPE
    /// only with the pre-tokenizers that ask for it (the Llama 3 family, tekken, chameleon).
    public static func defaultAddBOS(model: String, pre: String?) -> Bool {
        switch model {
        case "llama": return true
        case "gpt2": return (try? PreTokenizer.named(pre))?.addBOS ?? false
        default: return false
        }
    }
}

/// Why a tokenizer could not be built.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case unsupportedModel(String, supported: [String])
    case unsupportedPreTokenizer(String, supported: [String])
    case missingMerges
    case invalid(String)

    public var description: String {
        switch self {
        case .unsupportedModel(let m, let s):
            return "unsupported tokenizer model '\(m)' (tokenizer.ggml.model); supported: \(s.joined(separator: ", "))"
        case .unsupportedPreTokenizer(let p, let s):
            return "unsupported pre-tokenizer '\(p)' (tokenizer.ggml.pre); supported: \(s.joined(separator: ", "))"
        case .missingMerges:
            return "a gpt2 (BPE) tokenizer needs tokenizer.ggml.merges"
        case .invalid(let why):
            return "invalid tokenizer metadata: \(why)"
        }
    }
}
