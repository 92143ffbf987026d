/// A tokenizer that gives exactly llama.cpp's token ids (src/llama-vocab.cpp `llama_vocab::impl`), built from
/// GGUF metadata: byte-level BPE ("gpt2") with llama.cpp's pre-tokenizers, and SentencePiece ("llama").
///
/// Special tokens (control and user-defined) found in the text are matched first, as llama.cpp's
/// `tokenizer_st_partition` does, before the remaining text is pre-tokenized and merged.
public final class Tokenizer: Sendable {
    /// llama.cpp's `llama_token_attr` bits.
    enum Attr {
        static let undefined: UInt32 = 0
        static let unknown: UInt32 = 1 << 0
        static let unused: UInt32 = 1 << 1
        static let normal: UInt32 = 1 << 2
        static let control: UInt32 = 1 << 3
        static let userDefined: UInt32 = 1 << 4
        static let byte: UInt32 = 1 << 5
        static let lstrip: UInt32 = 1 << 7
        static let rstrip: UInt32 = 1 << 8
    }

    enum Kind: Sendable {
        case bpe(BPEMerges, PreTokenizer)
        case spm(SPMMerger)
    }

    let kind: Kind
    /// Token texts as bytes (an empty text becomes "[EMPTY_<id>]", as in llama.cpp).
    let texts: [[UInt8]]
    let attrs: [UInt32]
    let tokenToID: [ByteKey: Int32]
    /// Control, user-defined and unknown tokens, longest text first (`cache_special_tokens`).
    let specialTokens: [Int32]
    /// `token_to_piece(special: true)` of every token.
    let pieces: [[UInt8]]
    let eog: Set<Int32>
    let addBOS: Bool
    let addEOS: Bool
    let addSpacePrefix: Bool
    let cleanSpaces: Bool

    public let bos: Int32?
    public let eos: Int32?
    public let eot: Int32?
    public let unk: Int32?
    public let chatTemplate: String?
    public var vocabularySize: Int { texts.count }

    public static let supportedModels = ["gpt2", "llama"]

    public init(_ config: TokenizerConfig) throws {
        let n = config.tokens.count
        guard n > 0 else { throw TokenizerError.invalid("tokenizer.ggml.tokens is empty") }
        if let s = config.scores, s.count < n {
            throw TokenizerError.invalid("\(s.count) scores for \(n) tokens")
        }
        if let t = config.tokenTypes, t.count < n {
            throw TokenizerError.invalid("\(t.count) token types for \(n) tokens")
        }

        // Model type and the special ids llama.cpp assumes before reading the metadata.
        var pre: PreTokenizer?
        var defaultBOS: Int32?, defaultEOS: Int32?, defaultUNK: Int32?
        switch config.model {
        case "gpt2":
            let p = try PreTokenizer.named(config.pre)
            pre = p
            defaultBOS = p.noDefaultBOS ? nil : 11
            defaultEOS = 11
            guard config.merges != nil else { throw TokenizerError.missingMerges }
        case "llama":
            defaultBOS = 1; defaultEOS = 2; defaultUNK = 0
        default:
            throw TokenizerError.unsupportedModel(config.model, supported: Tokenizer.supportedModels)
        }

        // Vocabulary: the last of duplicate texts owns the text, as with llama.cpp's token_to_id[word] = i.
        var texts = [[UInt8]](), attrs = [UInt32]()
        var tokenToID = [ByteKey: Int32](minimumCapacity: n)
        texts.reserveCapacity(n); attrs.reserveCapacity(n)
        for (i, token) in config.tokens.enumerated() {
            var bytes = Array(token.utf8)
            if bytes.isEmpty { bytes = Array("[EMPTY_\(i)]".utf8) }
            tokenToID[ByteKey(bytes)] = Int32(i)
            texts.append(bytes)
            var attr = Attr.normal
            if let types = config.tokenTypes {
                switch types[i] {
                case 1: attr = Attr.normal
                case 2: attr = Attr.unknown
                case 3: attr = Attr.control
                case 4: attr = Attr.userDefined
                case 5: attr = Attr.unused
                case 6: attr = Attr.byte
                default: attr = Attr.undefined
                }
            }
            attrs.append(attr)
        }

        // Special ids: a default out of range is dropped; a metadata id out of range keeps the default.
        func special(_ value: Int32?, _ fallback: Int32?) -> Int32? {
            let def = fallback.flatMap { $0 >= 0 && Int($0) < n ? $0 : nil }
            guard let v = value, v >= 0, Int(v) < n else { return def }
            return v
        }
        let bos = special(config.bos, defaultBOS)
        let eos = special(config.eos, defaultEOS)
        var eot = special(config.eot, nil)
        var eom = special(config.eom, nil)
        let unk = special(config.unk, defaultUNK)
        var fimPad = special(config.fimPad, nil), fimRep = special(config.fimRep, nil), fimSep = special(config.fimSep, nil)

        // Auto-detection by text (llama.cpp walks its unordered_map; here the lowest id of a kind wins).
        func lookup(_ names: Set<String>) -> [Int32] {
            names.compactMap { tokenToID[ByteKey(Array($0.utf8))] }.sorted()
        }
        func detect(_ current: inout Int32?, _ names: Set<String>) {
            guard current == nil, let id = lookup(names).first else { return }
            current = id
            attrs[Int(id)] |= Attr.control
        }
        var fimPre: Int32?, fimSuf: Int32?, fimMid: Int32?
        detect(&eot, SpecialTexts.eot)
        detect(&eom, ["<|eom_id|>"])
        detect(&fimPre, SpecialTexts.fimPre)
        detect(&fimSuf, SpecialTexts.fimSuf)
        detect(&fimMid, SpecialTexts.fimMid)
        detect(&fimPad, SpecialTexts.fimPad)
        detect(&fimRep, SpecialTexts.fimRep)
        detect(&fimSep, ["<|file_sep|>"])

        let unused = Array("unused".utf8)
        for id in tokenToID.values where attrs[Int(id)] & Attr.control != 0 && texts[Int(id)].contains(subsequence: unused) {
            attrs[Int(id)] |= Attr.unused
        }

        // End-of-generation tokens.
        var eog = Set<Int32>([fimPad, fimRep, fimSep].compactMap { $0 })
        for id in lookup(SpecialTexts.eog) {
            eog.insert(id)
            attrs[Int(id)] |= Attr.control
        }
        for id in lookup(SpecialTexts.alwaysRendered) { attrs[Int(id)] = Attr.userDefined }
        for id in [eos, eot, eom].compactMap({ $0 }) { eog.insert(id) }
        let eogText = { (id: Int32) in String(decoding: texts[Int(id)], as: UTF8.self) }
        let eogTexts = Set(eog.map(eogText))
        let hasCall = eogTexts.contains("<|call|>") || eogTexts.contains("<|calls|>")
        if eogTexts.contains("<|end|>"), (eogTexts.contains("<|return|>") && hasCall) || (hasCall && eogTexts.contains("<|flush|>")),
           let end = eog.filter({ eogText($0) == "<|end|>" }).min() {
            eog.remove(end)
            attrs[Int(end)] = Attr.userDefined
        }
        if eogTexts.contains("<|tool_response>") || eogTexts.contains("<|plamo:eos|>"),
           let s = eog.filter({ eogText($0) == "</s>" }).min() {
            eog.remove(s)
            attrs[Int(s)] = Attr.normal
        }

        // Special tokens, longest text first.
        let specialMask = Attr.control | Attr.userDefined | Attr.unknown
        var specialTokens = [Int32]()
        for i in 0 ..< n where attrs[i] & specialMask != 0 { specialTokens.append(Int32(i)) }
        specialTokens.sort { (a: Int32, b: Int32) -> Bool in
            let la = texts[Int(a)].count, lb = texts[Int(b)].count
            return la > lb || (la == lb && a < b)
        }

        // Tokenizer proper.
        let addSpacePrefix: Bool
        if let pre {
            kind = .bpe(BPEMerges(merges: config.merges ?? [], tokenToID: tokenToID, vocabSize: n), pre)
            addSpacePrefix = config.addSpacePrefix ?? false
            cleanSpaces = pre.cleanSpaces
        } else {
            kind = .spm(SPMMerger(scores: config.scores.map { Array($0.prefix(n)) } ?? [Float](repeating: 0, count: n)))
            addSpacePrefix = config.addSpacePrefix ?? true
            cleanSpaces = false
        }
        if config.addBOS && bos == nil { throw TokenizerError.invalid("add_bos_token is set but there is no BOS token") }
        if config.addEOS && eos == nil { throw TokenizerError.invalid("add_eos_token is set but there is no EOS token") }

        self.texts = texts
        self.attrs = attrs
        self.tokenToID = tokenToID
        self.specialTokens = specialTokens
        self.eog = eog
        self.addBOS = config.addBOS
        self.addEOS = config.addEOS
        self.addSpacePrefix = addSpacePrefix
        self.bos = bos
        self.eos = eos
        self.eot = eot
        self.unk = unk
        self.chatTemplate = config.chatTemplate
        self.pieces = Tokenizer.renderPieces(texts: texts, attrs: attrs, isBPE: pre != nil)
    }

    // MARK: - Queries

    /// Whether generation ends at `id`: EOS, EOT, EOM and the tokens llama.cpp recognises by text
    /// (`<|im_end|>`, `<|endoftext|>`, `<|eot_id|>`, `<end_of_turn>`, …).
    public func isEndOfGeneration(_ id: Int32) -> Bool { eog.contains(id) }

    /// The token whose text is exactly `text`, if any.
    public func token(forText text: String) -> Int32? { tokenToID[ByteKey(Array(text.utf8))] }

    /// The raw vocabulary text of a token (GPT-2 byte-encoded for BPE, "▁" for spaces in SentencePiece).
    public func tokenText(_ id: Int32) -> String {
        guard id >= 0, Int(id) < texts.count else { return "" }
        return String(decoding: texts[Int(id)], as: UTF8.self)
    }

    /// Whether `id` is a control token (rendered as nothing by `tokenBytes`).
    public func isControl(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < attrs.count && attrs[Int(id)] & Attr.control != 0
    }

    // MARK: - Decoding

    /// The bytes of one token, as llama.cpp's `token_to_piece(lstrip: 0, special:)`: with `special` false,
    /// control and unknown tokens give nothing; user-defined tokens give their text; byte tokens one byte.
    public func tokenBytes(_ id: Int32, special: Bool = false) -> [UInt8] {
        guard id >= 0, Int(id) < texts.count else { return [] }
        if !special && attrs[Int(id)] & (Attr.unknown | Attr.control) != 0 { return [] }
        return pieces[Int(id)]
    }

    /// The concatenated `tokenBytes` of `ids`, as UTF-8 (invalid sequences become U+FFFD).
    public func decode(_ ids: [Int32]) -> String {
        var bytes = [UInt8]()
        for id in ids { bytes.append(contentsOf: tokenBytes(id)) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func renderPieces(texts: [[UInt8]], attrs: [UInt32], isBPE: Bool) -> [[UInt8]] {
        var pieces = [[UInt8]]()
        pieces.reserveCapacity(texts.count)
        for (i, text) in texts.enumerated() {
            let attr = attrs[i]
            if attr & (Attr.unknown | Attr.control | Attr.userDefined) != 0 {
                pieces.append(text)
            } else if attr & Attr.normal != 0 {
                pieces.append(isBPE ? decodeByteLevel(text) : unescapeWhitespace(text))
            } else if attr & Attr.byte != 0 {
                pieces.append(text.count >= 5 ? [hexByte(text[3 ..< 5])] : [])
            } else {
                pieces.append([])
            }
        }
        return pieces
    }

    /// `llama_decode_text`: each character of a byte-level token back to its byte.
    static func decodeByteLevel(_ text: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        for cpt in LlamaUnicode.codepoints(fromUTF8: text) {
            if let b = LlamaUnicode.codepointToByte[cpt] {
                out.append(b)
            } else {
                var utf8 = [UInt8]()
                LlamaUnicode.appendUTF8(cpt, to: &utf8)
                out.append(contentsOf: Array("[UNK_BYTE_0x".utf8))
                for c in utf8 {
                    let digits = Array("0123456789abcdef".utf8)
                    out.append(digits[Int(c >> 4)]); out.append(digits[Int(c & 15)])
                }
                out.append(contentsOf: text)
                out.append(UInt8(ascii: "]"))
            }
        }
        return out
    }

    /// "▁" (U+2581) back to " ".
    static func unescapeWhitespace(_ text: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if i + 2 < text.count, text[i] == 0xE2, text[i + 1] == 0x96, text[i + 2] == 0x81 {
                out.append(0x20); i += 3
            } else {
                out.append(text[i]); i += 1
            }
        }
        return out
    }

    /// `strtol(text.substr(3, 2), 16)` of a "<0xXX>" token.
    static func hexByte(_ s: ArraySlice<UInt8>) -> UInt8 {
        var v = 0
        for c in s {
            switch c {
            case 0x30 ... 0x39: v = v * 16 + Int(c - 0x30)
            case 0x41 ... 0x46: v = v * 16 + Int(c - 0x37)
            case 0x61 ... 0x66: v = v * 16 + Int(c - 0x57)
            default: return UInt8(truncatingIfNeeded: v)
            }
        }
        return UInt8(truncatingIfNeeded: v)
    }
}

/// Token texts llama.cpp recognises (llama-vocab.cpp, `llama_vocab::impl::load`).
enum SpecialTexts {
    static let eot: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
        "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    ]
    static let fimPre: Set<String> = [
        "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>",
    ]
    static let fimSuf: Set<String> = [
        "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>",
    ]
    static let fimMid: Set<String> = [
        "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>",
    ]
    static let fimPad: Set<String> = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]
    static let fimRep: Set<String> = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]
    static let eog: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    ]
    /// gpt-oss tokens llama.cpp always renders (made user-defined).
    static let alwaysRendered: Set<String> = ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"]
}

extension Array where Element == UInt8 {
    func contains(subsequence needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        return firstRange(of: needle, in: 0 ..< count) != nil
    }

    /// The first occurrence of `needle` within `range` (the byte-wise `std::string_view::find`).
    func firstRange(of needle: [UInt8], in range: Range<Int>) -> Int? {
        let m = needle.count
        guard m > 0, range.count >= m else { return nil }
        return withUnsafeBufferPointer { hay in
            needle.withUnsafeBufferPointer { nd in
                let first = nd[0]
                var i = range.lowerBound
                let last = range.upperBound - m
                outer: while i <= last {
                    if hay[i] == first {
                        var k = 1
                        while k < m {
                            if hay[i + k] != nd[k] { i += 1; continue outer }
                            k += 1
                        }
                        return i
                    }
                    i += 1
                }
                return nil
            }
        }
    }
}
