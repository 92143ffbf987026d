extension Tokenizer {
    /// A piece of the input: raw text still to tokenize (a byte range) or an already matched special token.
    enum Fragment {
        case text(Int, Int)  // offset, length
        case token(Int32)
    }

    /// Tokenizes `text` as llama.cpp's `llama_tokenize(text, add_special:, parse_special:)`.
    ///
    /// - Parameters:
    ///   - addSpecial: add BOS/EOS as the model's `add_bos_token` / `add_eos_token` ask.
    ///   - parseSpecial: match control tokens (like `<|im_start|>`) in the text; user-defined tokens are
    ///     matched either way.
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int32] {
        encode(bytes: Array(text.utf8), addSpecial: addSpecial, parseSpecial: parseSpecial)
    }

    /// `encode` of raw UTF-8 bytes (malformed sequences are handled as llama.cpp handles them).
    public func encode(bytes: [UInt8], addSpecial: Bool = true, parseSpecial: Bool = true) -> [Int32] {
        let fragments = bytes.isEmpty ? [] : partition(bytes, parseSpecial: parseSpecial)
        var out = [Int32]()
        out.reserveCapacity(bytes.count / 3 + 4)
        switch kind {
        case .bpe(let merges, let pre):
            if addSpecial && addBOS, let bos { out.append(bos) }
            var scratch = merges.makeScratch()
            var word = [UInt8]()
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    out.append(id)
                case .text(let offset, let length):
                    let cpts = LlamaUnicode.codepoints(fromUTF8: bytes[offset ..< offset + length])
                    var p = 0
                    for len in pre.split(cpts) {
                        word.removeAll(keepingCapacity: true)
                        for k in p ..< p + len { LlamaUnicode.appendUTF8(cpts[k], to: &word) }
                        p += len
                        merges.encode(word: word, tokenToID: tokenToID, ignoreMerges: pre.ignoreMerges,
                                      scratch: &scratch, into: &out)
                    }
                }
            }
            if addSpecial && addEOS, let eos { out.append(eos) }
        case .spm(let merger):
            var isPrevSpecial = true  // the first text gets the space prefix
            if addSpecial && addBOS, let bos { out.append(bos) }
            for fragment in fragments {
                switch fragment {
                case .token(let id):
                    out.append(id)
                    isPrevSpecial = true
                case .text(let offset, let length):
                    var text = [UInt8]()
                    text.reserveCapacity(length + 3)
                    if addSpacePrefix && isPrevSpecial { text.append(contentsOf: [0xE2, 0x96, 0x81]) }
                    for b in bytes[offset ..< offset + length] {
                        if b == 0x20 { text.append(contentsOf: [0xE2, 0x96, 0x81]) } else { text.append(b) }
                    }
                    merger.encode(text: text, tokenToID: tokenToID, byteToken: spmByteToken, into: &out)
                    isPrevSpecial = false
                }
            }
            if addSpecial && addEOS, let eos { out.append(eos) }
        }
        return out
    }

    /// `byte_to_token` of SentencePiece: "<0xXX>", else the byte itself as a token, else (where llama.cpp
    /// would throw) the unknown token.
    func spmByteToken(_ b: UInt8) -> Int32? {
        let hex = Array("0123456789ABCDEF".utf8)
        let name: [UInt8] = [0x3C, 0x30, 0x78, hex[Int(b >> 4)], hex[Int(b & 15)], 0x3E]
        return tokenToID[ByteKey(name)] ?? tokenToID[ByteKey([b])] ?? unk
    }

    /// `tokenizer_st_partition`: split out every occurrence of each special token, longest tokens first.
    func partition(_ bytes: [UInt8], parseSpecial: Bool) -> [Fragment] {
        var fragments: [Fragment] = [.text(0, bytes.count)]
        @inline(__always) func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (0x09 ... 0x0D).contains(b) }
        for id in specialTokens {
            let attr = attrs[Int(id)]
            if !parseSpecial && attr & (Attr.control | Attr.unknown) != 0 { continue }
            let needle = texts[Int(id)]
            // Cheap pre-check: most special tokens do not occur at all.
            guard bytes.firstRange(of: needle, in: 0 ..< bytes.count) != nil else { continue }
            var result = [Fragment]()
            result.reserveCapacity(fragments.count + 2)
            for fragment in fragments {
                guard case .text(var base, var length) = fragment else { result.append(fragment); continue }
                while true {
                    guard let match = bytes.firstRange(of: needle, in: base ..< base + length) else {
                        result.append(.text(base, length))
                        break
                    }
                    if match > base {
                        var leftLength = match - base
                        if attr & Attr.lstrip != 0 {
                            while leftLength > 0 && isSpace(bytes[base + leftLength - 1]) { leftLength -= 1 }
                        }
                        if leftLength > 0 { result.append(.text(base, leftLength)) }
                    }
                    result.append(.token(id))
                    guard match + needle.count < base + length else { break }
                    var rightOffset = match + needle.count
                    var rightLength = length - ((match - base) + needle.count)
                    if attr & Attr.rstrip != 0 {
                        while rightLength > 0 && isSpace(bytes[rightOffset]) { rightOffset += 1; rightLength -= 1 }
                    }
                    if rightLength == 0 { break }
                    base = rightOffset
                    length = rightLength
                }
            }
            fragments = result
        }
        return fragments
    }

    /// llama.cpp's `llama_detokenize(tokens, remove_special:, unparse_special:)`: the token pieces joined, the
    /// SentencePiece prefix space removed, and — for the BPE pre-tokenizers that ask for it — the
    /// `clean_up_tokenization_spaces` passes applied.
    public func detokenize(_ ids: [Int32], removeSpecial: Bool = false, unparseSpecial: Bool = false) -> [UInt8] {
        var tokens = ids[...]
        var removeSpace = addSpacePrefix
        if removeSpecial && addBOS, let first = tokens.first, first == bos {
            removeSpace = false
            tokens = tokens.dropFirst()
        }
        if removeSpecial && addEOS, let last = tokens.last, last == eos { tokens = tokens.dropLast() }
        var text = [UInt8]()
        for id in tokens {
            var piece = tokenBytes(id, special: unparseSpecial)[...]
            if removeSpace, piece.first == 0x20 { piece = piece.dropFirst() }
            removeSpace = false
            text.append(contentsOf: piece)
        }
        guard cleanSpaces, !text.isEmpty else { return text }
        // " ?", " !", " .", " ,"
        var t1: [UInt8] = [text[0]]
        for i in 1 ..< text.count {
            let x = text[i]
            if text[i - 1] == 0x20 && (x == 0x3F || x == 0x21 || x == 0x2E || x == 0x2C) { t1.removeLast() }
            t1.append(x)
        }
        // " ' " → "'"
        var t2: [UInt8] = [t1[0]]
        var i = 1
        while i < t1.count {
            let x = t1[i]
            if x == 0x27 && i + 1 < t1.count && t1[i - 1] == 0x20 && t1[i + 1] == 0x20 {
                t2.removeLast()     // the space before
                t1[i + 1] = 0       // the space after (llama.cpp overwrites it with NUL and skips it)
                t2.append(x)
                i += 2
                continue
            }
            t2.append(x)
            i += 1
        }
        // " 's", " 'm", " 're", " 've"
        var t3: [UInt8] = [t2[0]]
        for i in 1 ..< t2.count {
            let x = t2[i]
            if t2[i - 1] == 0x20 && x == 0x27 && i + 1 < t2.count {
                let x1 = t2[i + 1]
                if x1 == 0x73 || x1 == 0x6D {
                    t3.removeLast()
                } else if x1 != 0x74 && x1 != 0x64 && i + 2 < t2.count {
                    let x2 = t2[i + 2]
                    if (x1 == 0x72 && x2 == 0x65) || (x1 == 0x76 && x2 == 0x65) { t3.removeLast() }
                }
            }
            t3.append(x)
        }
        return t3
    }
}
