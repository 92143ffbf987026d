// The BPE pre-tokenizers of llama.cpp (src/llama-vocab.cpp `llm_tokenizer_bpe`, src/unicode.cpp
// `unicode_regex_split`), reimplemented as hand-written scanners with the exact semantics llama.cpp gives
// each regex: its custom splitters for the GPT-2, Llama 3 and Qwen2 patterns are ported line by line, and
// the few patterns it runs through std::regex on "collapsed" text (one byte per code point) are matched
// the same way here.

/// One regex of a pre-tokenizer. Every rule splits each segment left by the previous rules further.
enum SplitRule: Sendable, Equatable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)` (llama.cpp's custom gpt2 splitter)
    case gpt2
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3
    /// The Llama 3 pattern with `\p{N}` in place of `\p{N}{1,3}` (llama.cpp's custom qwen2 splitter).
    case qwen2
    /// `\p{N}` (each number alone) or `\p{N}+` (runs of numbers), via std::regex on collapsed text.
    case numbers(runs: Bool)
    /// `[\p{P}\$\+<=>\^~\|]+`, with `` ` `` added for Falcon, via std::regex on collapsed text.
    case punctuation(backtick: Bool)
    /// `[0-9][0-9][0-9]` via std::wregex.
    case threeDigits
}

/// What `tokenizer.ggml.pre` selects: the split rules and the flags llama.cpp sets with them.
struct PreTokenizer: Sendable {
    var name: String
    var rules: [SplitRule]
    var cleanSpaces = true
    var ignoreMerges = false
    var addBOS = false
    /// chatglm-bpe and glm4 have no BOS token unless the metadata names one.
    var noDefaultBOS = false

    static let defaultRules: [SplitRule] = [.punctuation(backtick: false), .gpt2, .numbers(runs: true), .threeDigits]
    static let smollmRules: [SplitRule] = [.numbers(runs: false), .gpt2]

    /// Every `tokenizer.ggml.pre` value accepted, in llama.cpp's spelling ("gpt2" is accepted as an alias of "gpt-2").
    static let supportedNames: [String] = [
        "default", "gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
        "mellum", "modern-bert", "mpt", "olmo", "jais", "exaone4", "trillion", "granite-docling",
        "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2",
        "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano",
        "dbrx", "smaug-bpe", "chatglm-bpe", "glm4", "glm5",
        "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "stablelm2", "megrez", "hunyuan", "solar-open",
        "falcon",
    ]

    /// llama.cpp's mapping of `tokenizer.ggml.pre` (a missing or empty value means "default").
    static func named(_ pre: String?) throws -> PreTokenizer {
        let name = pre ?? ""
        var p = PreTokenizer(name: name.isEmpty ? "default" : name, rules: defaultRules)
        switch name {
        case "", "default":
            break
        case "gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
             "mellum", "modern-bert", "mpt", "olmo", "jais", "exaone4":
            p.rules = [.gpt2]
        case "trillion", "granite-docling":
            p.rules = [.gpt2]; p.cleanSpaces = false
        case "smollm", "command-r":
            p.rules = smollmRules; p.cleanSpaces = false
        case "starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2":
            p.rules = smollmRules
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano":
            p.rules = [.llama3]; p.ignoreMerges = true; p.addBOS = true
        case "dbrx", "smaug-bpe":
            p.rules = [.llama3]
        case "chatglm-bpe":
            p.rules = [.llama3]; p.noDefaultBOS = true
        case "glm4", "glm5":
            p.rules = [.llama3]; p.noDefaultBOS = true; p.ignoreMerges = true
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open":
            p.rules = [.qwen2]; p.cleanSpaces = false
        case "stablelm2", "megrez":
            p.rules = [.qwen2]
        case "falcon":
            p.rules = [.punctuation(backtick: true), .gpt2, .threeDigits]
        default:
            throw TokenizerError.unsupportedPreTokenizer(name, supported: supportedNames)
        }
        return p
    }

    /// `unicode_regex_split` without the byte encoding: the lengths, in code points, of the words of `cpts`.
    func split(_ cpts: [UInt32]) -> [Int] {
        var offsets = [cpts.count]
        LlamaUnicode.table.withUnsafeBufferPointer { tbl in
            cpts.withUnsafeBufferPointer { c in
                for rule in rules {
                    switch rule {
                    case .gpt2: offsets = PreTokenizer.splitGPT2(c, offsets, tbl)
                    case .llama3: offsets = PreTokenizer.splitLlama3(c, offsets, tbl, digitGroup: 3)
                    case .qwen2: offsets = PreTokenizer.splitLlama3(c, offsets, tbl, digitGroup: 1)
                    case .numbers(let runs):
                        offsets = PreTokenizer.splitMatches(c, offsets) { pos, end in
                            var p = pos
                            while p < end, PreTokenizer.collapsed(c[p], tbl) == 0xD1 || (0x30 ... 0x39).contains(c[p]) {
                                p += 1
                                if !runs { break }
                            }
                            return p - pos
                        }
                    case .punctuation(let backtick):
                        offsets = PreTokenizer.splitMatches(c, offsets) { pos, end in
                            var p = pos
                            while p < end, PreTokenizer.isPunctuationClass(c[p], backtick: backtick, tbl) { p += 1 }
                            return p - pos
                        }
                    case .threeDigits:
                        offsets = PreTokenizer.splitMatches(c, offsets) { pos, end in
                            guard pos + 3 <= end else { return 0 }
                            for k in pos ..< pos + 3 where !(0x30 ... 0x39).contains(c[k]) { return 0 }
                            return 3
                        }
                    }
                }
            }
        }
        return offsets
    }

    // MARK: - std::regex on collapsed text

    /// The byte llama.cpp puts in place of a code point before running std::regex: ASCII as is, other
    /// whitespace as 0x0B, and one byte per category (N 0xD1, L 0xD2, P 0xD3, M 0xD4, S 0xD5, else 0xD0).
    @inline(__always)
    static func collapsed(_ cpt: UInt32, _ tbl: UnsafeBufferPointer<UInt16>) -> UInt8 {
        if cpt < 128 { return UInt8(cpt) }
        let f = LlamaUnicode.flags(cpt, tbl)
        if f & LlamaUnicode.whitespace != 0 { return 0x0B }
        switch f & LlamaUnicode.categoryMask {
        case LlamaUnicode.number: return 0xD1
        case LlamaUnicode.letter: return 0xD2
        case LlamaUnicode.punctuation: return 0xD3
        case LlamaUnicode.accentMark: return 0xD4
        case LlamaUnicode.symbol: return 0xD5
        default: return 0xD0
        }
    }

    /// `[\p{P}\$\+<=>\^~\|]` after collapsing: \p{P} becomes `\xD3!-#%-*,-/:-;?-@\[-\]_\{\}`.
    @inline(__always)
    static func isPunctuationClass(_ cpt: UInt32, backtick: Bool, _ tbl: UnsafeBufferPointer<UInt16>) -> Bool {
        let b = collapsed(cpt, tbl)
        switch b {
        case 0xD3, 0x21 ... 0x23, 0x25 ... 0x2A, 0x2C ... 0x2F, 0x3A ... 0x3B, 0x3F ... 0x40, 0x5B ... 0x5D, 0x5F, 0x7B, 0x7D,
             0x24, 0x2B, 0x3C ... 0x3E, 0x5E, 0x7E, 0x7C:
            return true
        case 0x60:
            return backtick
        default:
            return false
        }
    }

    /// `unicode_regex_split_stl`: the leftmost matches in each segment become words, and so do the gaps.
    /// `match(pos, end)` is the length of the match starting at `pos` (0: none).
    static func splitMatches(_ c: UnsafeBufferPointer<UInt32>, _ offsets: [Int], _ match: (Int, Int) -> Int) -> [Int] {
        var out = [Int]()
        out.reserveCapacity(offsets.count * 2)
        var start = 0
        for offset in offsets {
            let end = start + offset
            var gap = start, p = start
            while p < end {
                let m = match(p, end)
                if m > 0 {
                    if p > gap { out.append(p - gap) }
                    out.append(m)
                    p += m
                    gap = p
                } else {
                    p += 1
                }
            }
            if gap < end { out.append(end - gap) }
            start = end
        }
        return out
    }

    // MARK: - llama.cpp's custom splitters

    static let outOfRange: UInt32 = 0xFFFF_FFFF

    /// `unicode_regex_split_custom_gpt2`.
    static func splitGPT2(_ c: UnsafeBufferPointer<UInt32>, _ offsets: [Int], _ tbl: UnsafeBufferPointer<UInt16>) -> [Int] {
        let L = LlamaUnicode.letter, N = LlamaUnicode.number, WS = LlamaUnicode.whitespace
        var out = [Int]()
        out.reserveCapacity(offsets.count)
        var start = 0
        for offset in offsets {
            let ini = start, end = start + offset
            start = end
            @inline(__always) func cpt(_ p: Int) -> UInt32 { p >= ini && p < end ? c[p] : outOfRange }
            @inline(__always) func fl(_ p: Int) -> UInt16 { p >= ini && p < end ? LlamaUnicode.flags(c[p], tbl) : 0 }
            var prevEnd = ini
            @inline(__always) func add(_ e: Int) -> Int {
                let len = e - prevEnd
                if len > 0 { out.append(len) }
                prevEnd = e
                return len
            }
            var pos = ini
            while pos < end {
                let cp = cpt(pos), f = fl(pos)
                // 's|'t|'re|'ve|'m|'ll|'d
                if cp == 0x27 && pos + 1 < end {
                    let n = cpt(pos + 1)
                    if n == 0x73 || n == 0x74 || n == 0x6D || n == 0x64 { pos += add(pos + 2); continue }
                    if pos + 2 < end {
                        let nn = cpt(pos + 2)
                        if (n == 0x72 && nn == 0x65) || (n == 0x76 && nn == 0x65) || (n == 0x6C && nn == 0x6C) {
                            pos += add(pos + 3); continue
                        }
                    }
                }
                var f2 = cp == 0x20 ? fl(pos + 1) : f
                // <space>?\p{L}+
                if f2 & L != 0 {
                    if cp == 0x20 { pos += 1 }
                    while f2 & L != 0 { pos += 1; f2 = fl(pos) }
                    _ = add(pos); continue
                }
                // <space>?\p{N}+
                if f2 & N != 0 {
                    if cp == 0x20 { pos += 1 }
                    while f2 & N != 0 { pos += 1; f2 = fl(pos) }
                    _ = add(pos); continue
                }
                // <space>?[^\s\p{L}\p{N}]+
                if f2 & (WS | L | N) == 0 && f2 != 0 {
                    if cp == 0x20 { pos += 1 }
                    while f2 & (WS | L | N) == 0 && f2 != 0 { pos += 1; f2 = fl(pos) }
                    _ = add(pos); continue
                }
                var nws = 0
                while fl(pos + nws) & WS != 0 { nws += 1 }
                // \s+(?!\S)
                if nws > 1 && cpt(pos + nws) != outOfRange { pos += nws - 1; _ = add(pos); continue }
                // \s+
                if nws > 0 { pos += nws; _ = add(pos); continue }
                pos += 1; _ = add(pos)
            }
        }
        return out
    }

    /// `unicode_regex_split_custom_llama3` (digitGroup 3) and `unicode_regex_split_custom_qwen2` (digitGroup 1).
    static func splitLlama3(_ c: UnsafeBufferPointer<UInt32>, _ offsets: [Int], _ tbl: UnsafeBufferPointer<UInt16>,
                            digitGroup: Int) -> [Int] {
        let L = LlamaUnicode.letter, N = LlamaUnicode.number, WS = LlamaUnicode.whitespace
        var out = [Int]()
        out.reserveCapacity(offsets.count)
        var start = 0
        for offset in offsets {
            let ini = start, end = start + offset
            start = end
            @inline(__always) func cpt(_ p: Int) -> UInt32 { p >= ini && p < end ? c[p] : outOfRange }
            @inline(__always) func fl(_ p: Int) -> UInt16 { p >= ini && p < end ? LlamaUnicode.flags(c[p], tbl) : 0 }
            // unicode_tolower: in llama.cpp's table only A-Z lower to the letters compared here.
            @inline(__always) func lower(_ x: UInt32) -> UInt32 { (0x41 ... 0x5A).contains(x) ? x + 0x20 : x }
            var prevEnd = ini
            @inline(__always) func add(_ e: Int) -> Int {
                let len = e - prevEnd
                if len > 0 { out.append(len) }
                prevEnd = e
                return len
            }
            var pos = ini
            while pos < end {
                let cp = cpt(pos), f = fl(pos)
                // (?i:'s|'t|'re|'ve|'m|'ll|'d)
                if cp == 0x27 && pos + 1 < end {
                    let n = lower(cpt(pos + 1))
                    if n == 0x73 || n == 0x74 || n == 0x6D || n == 0x64 { pos += add(pos + 2); continue }
                    if pos + 2 < end {
                        let nn = lower(cpt(pos + 2))
                        if (n == 0x72 && nn == 0x65) || (n == 0x76 && nn == 0x65) || (n == 0x6C && nn == 0x6C) {
                            pos += add(pos + 3); continue
                        }
                    }
                }
                // [^\r\n\p{L}\p{N}]?\p{L}+
                if !(cp == 0x0D || cp == 0x0A || f & N != 0) {
                    if f & L != 0 || fl(pos + 1) & L != 0 {
                        pos += 1
                        while fl(pos) & L != 0 { pos += 1 }
                        _ = add(pos); continue
                    }
                }
                // \p{N}{1,3} (llama3) or \p{N} (qwen2)
                if f & N != 0 {
                    if digitGroup == 1 {
                        pos += 1
                    } else {
                        var groupStart = pos
                        while fl(pos) & N != 0 {
                            pos += 1
                            if pos - groupStart >= digitGroup { _ = add(pos); groupStart = pos }
                        }
                    }
                    _ = add(pos); continue
                }
                // <space>?[^\s\p{L}\p{N}]+[\r\n]*   (llama.cpp tests the unshifted flags for "defined" here)
                var f2 = cp == 0x20 ? fl(pos + 1) : f
                if f2 & (WS | L | N) == 0 && f != 0 {
                    if cp == 0x20 { pos += 1 }
                    while f2 & (WS | L | N) == 0 && f2 != 0 { pos += 1; f2 = fl(pos) }
                    var c2 = cpt(pos)
                    while c2 == 0x0D || c2 == 0x0A { pos += 1; c2 = cpt(pos) }
                    _ = add(pos); continue
                }
                var nws = 0, lastEndRN = 0
                while fl(pos + nws) & WS != 0 {
                    let c2 = cpt(pos + nws)
                    if c2 == 0x0D || c2 == 0x0A { lastEndRN = pos + nws + 1 }
                    nws += 1
                }
                // \s*[\r\n]+
                if lastEndRN > 0 { pos = lastEndRN; _ = add(pos); continue }
                // \s+(?!\S)
                if nws > 1 && cpt(pos + nws) != outOfRange { pos += nws - 1; _ = add(pos); continue }
                // \s+
                if nws > 0 { pos += nws; _ = add(pos); continue }
                pos += 1; _ = add(pos)
            }
        }
        return out
    }
}
