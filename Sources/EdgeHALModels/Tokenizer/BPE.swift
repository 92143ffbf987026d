// Byte-level BPE merging exactly as llama.cpp's `llm_tokenizer_bpe_session::tokenize` does it, and the
// SentencePiece score merging of `llm_tokenizer_spm_session`.

/// Token text bytes as a dictionary key. Token texts are compared as bytes (never as Swift `String`s, whose
/// equality is Unicode canonical equivalence and would merge distinct tokens).
struct ByteKey: Hashable, Sendable {
    var bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init(_ bytes: ArraySlice<UInt8>) { self.bytes = Array(bytes) }
    static func == (a: ByteKey, b: ByteKey) -> Bool { a.bytes == b.bytes }
    func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
}

/// A min-heap ordered by `before` (the element that compares `before` all others is on top).
struct Heap<Element> {
    private(set) var items: [Element] = []
    let before: (Element, Element) -> Bool
    init(before: @escaping (Element, Element) -> Bool) { self.before = before }
    var isEmpty: Bool { items.isEmpty }
    mutating func removeAll() { items.removeAll(keepingCapacity: true) }
    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !before(items[i], items[parent]) { break }
            items.swapAt(i, parent)
            i = parent
        }
    }
    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            let n = items.count
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < n && before(items[l], items[m]) { m = l }
                if r < n && before(items[r], items[m]) { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}

/// The merge table of a byte-level BPE vocabulary, with every string interned: strings in the vocabulary are
/// interned as their token id, other merge operands and results after them. Merging interned ids is then
/// exactly llama.cpp's merging of strings.
struct BPEMerges: Sendable {
    let vocabSize: Int32
    /// (left id << 32 | right id) → (rank << 32 | merged id). The first of duplicate merges wins, as with
    /// llama.cpp's `bpe_ranks.emplace`.
    let table: [UInt64: UInt64]
    /// Interned id of the GPT-2 character of each byte.
    let byteID: [Int32]
    /// UTF-8 of the GPT-2 character of each byte.
    let byteText: [[UInt8]]
    /// Token id of each one-byte string, or -1 (llama.cpp's fallback for symbols that are no token).
    let singleByteToken: [Int32]

    init(merges: [String], tokenToID: [ByteKey: Int32], vocabSize: Int) {
        self.vocabSize = Int32(vocabSize)
        var intern = tokenToID
        var next = Int32(vocabSize)
        func id(_ bytes: [UInt8]) -> Int32 {
            let key = ByteKey(bytes)
            if let v = intern[key] { return v }
            intern[key] = next
            next += 1
            return next - 1
        }
        var table = [UInt64: UInt64](minimumCapacity: merges.count)
        for (rank, merge) in merges.enumerated() {
            let word = Array(merge.utf8)
            // llama.cpp: word.find(' ', 1); without a space both halves are empty.
            var first: [UInt8] = [], second: [UInt8] = []
            if word.count > 1, let space = word[1...].firstIndex(of: 0x20) {
                first = Array(word[..<space])
                second = Array(word[(space + 1)...])
            }
            let l = id(first), r = id(second)
            let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
            if table[key] == nil {
                let merged = id(first + second)
                table[key] = UInt64(UInt32(rank)) << 32 | UInt64(UInt32(bitPattern: merged))
            }
        }
        var byteText = [[UInt8]]()
        var byteID = [Int32]()
        var singleByteToken = [Int32]()
        for b in 0 ..< 256 {
            var utf8 = [UInt8]()
            LlamaUnicode.appendUTF8(LlamaUnicode.byteToCodepoint[b], to: &utf8)
            byteText.append(utf8)
            byteID.append(id(utf8))
            singleByteToken.append(tokenToID[ByteKey([UInt8(b)])] ?? -1)
        }
        self.table = table
        self.byteID = byteID
        self.byteText = byteText
        self.singleByteToken = singleByteToken
    }

    struct Bigram {
        var rank: UInt32
        var left: Int32
        var right: Int32
        var leftID: Int32
        var rightID: Int32
    }

    /// Scratch space reused across the words of one `encode` call.
    struct Scratch {
        var ids: [Int32] = [], start: [Int32] = [], len: [Int32] = [], prev: [Int32] = [], next: [Int32] = []
        var heap = Heap<Bigram> { a, b in a.rank < b.rank || (a.rank == b.rank && a.left < b.left) }
    }

    func makeScratch() -> Scratch { Scratch() }

    /// Tokenizes one pre-tokenized word given as its UTF-8 bytes (before the GPT-2 byte encoding).
    func encode(word: [UInt8], tokenToID: [ByteKey: Int32], ignoreMerges: Bool,
                scratch s: inout Scratch, into out: inout [Int32]) {
        if word.isEmpty { return }
        if ignoreMerges {
            var encoded = [UInt8]()
            for b in word { encoded.append(contentsOf: byteText[Int(b)]) }
            if let token = tokenToID[ByteKey(encoded)] { out.append(token); return }
        }
        let n = word.count
        s.ids.removeAll(keepingCapacity: true); s.start.removeAll(keepingCapacity: true)
        s.len.removeAll(keepingCapacity: true); s.prev.removeAll(keepingCapacity: true)
        s.next.removeAll(keepingCapacity: true); s.heap.removeAll()
        for (i, b) in word.enumerated() {
            s.ids.append(byteID[Int(b)])
            s.start.append(Int32(i))
            s.len.append(1)
            s.prev.append(Int32(i - 1))
            s.next.append(i + 1 == n ? -1 : Int32(i + 1))
        }
        func addBigram(_ left: Int32, _ right: Int32, _ s: inout Scratch) {
            if left < 0 || right < 0 { return }
            let l = s.ids[Int(left)], r = s.ids[Int(right)]
            let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
            guard let v = table[key] else { return }
            s.heap.push(Bigram(rank: UInt32(v >> 32), left: left, right: right, leftID: l, rightID: r))
        }
        for i in 1 ..< max(n, 1) { addBigram(Int32(i - 1), Int32(i), &s) }
        while let bg = s.heap.pop() {
            let l = Int(bg.left), r = Int(bg.right)
            if s.len[l] == 0 || s.len[r] == 0 { continue }
            // llama.cpp skips a bigram whose text no longer equals left + right.
            if s.ids[l] != bg.leftID || s.ids[r] != bg.rightID { continue }
            let key = UInt64(UInt32(bitPattern: bg.leftID)) << 32 | UInt64(UInt32(bitPattern: bg.rightID))
            s.ids[l] = Int32(truncatingIfNeeded: table[key]! & 0xFFFF_FFFF)
            s.len[l] += s.len[r]
            s.len[r] = 0
            s.next[l] = s.next[r]
            if s.next[r] >= 0 { s.prev[Int(s.next[r])] = bg.left }
            addBigram(s.prev[l], bg.left, &s)
            addBigram(bg.left, s.next[l], &s)
        }
        for i in 0 ..< n where s.len[i] > 0 {
            let id = s.ids[i]
            if id >= 0 && id < vocabSize {
                out.append(id)
                continue
            }
            // Not a token: llama.cpp looks up each byte of the encoded text as a one-byte string.
            let from = Int(s.start[i])
            for b in word[from ..< from + Int(s.len[i])] {
                for e in byteText[Int(b)] where singleByteToken[Int(e)] >= 0 {
                    out.append(singleByteToken[Int(e)])
                }
            }
        }
    }
}

/// SentencePiece-style merging by score (`llm_tokenizer_spm_session`), on text whose spaces are already "▁".
struct SPMMerger: Sendable {
    let scores: [Float]

    struct Bigram {
        var score: Float
        var left: Int32
        var right: Int32
        var size: Int32
    }

    /// `byteToken(b)` is the token of `<0xXX>` (or of the byte itself), nil when the vocabulary has neither.
    func encode(text: [UInt8], tokenToID: [ByteKey: Int32], byteToken: (UInt8) -> Int32?, into out: inout [Int32]) {
        let n = text.count
        if n == 0 { return }
        var start = [Int32](), len = [Int32](), prev = [Int32](), next = [Int32]()
        var offs = 0, index: Int32 = 0
        while offs < n {
            let lead = text[offs] >> 4
            let charLen = lead < 12 ? 1 : lead < 14 ? 2 : lead == 14 ? 3 : 4  // unicode_len_utf8
            let l = min(charLen, n - offs)
            start.append(Int32(offs)); len.append(Int32(l)); prev.append(index - 1)
            offs += l
            next.append(offs == n ? -1 : index + 1)
            index += 1
        }
        var heap = Heap<Bigram> { a, b in a.score > b.score || (a.score == b.score && a.left < b.left) }
        func tryAdd(_ left: Int32, _ right: Int32) {
            if left < 0 || right < 0 { return }
            let from = Int(start[Int(left)])
            let size = Int(len[Int(left)] + len[Int(right)])
            guard let token = tokenToID[ByteKey(text[from ..< from + size])], Int(token) < scores.count else { return }
            heap.push(Bigram(score: scores[Int(token)], left: left, right: right, size: Int32(size)))
        }
        for i in 1 ..< Int(index) { tryAdd(Int32(i - 1), Int32(i)) }
        while let bg = heap.pop() {
            let l = Int(bg.left), r = Int(bg.right)
            if len[l] == 0 || len[r] == 0 || len[l] + len[r] != bg.size { continue }
            len[l] += len[r]
            len[r] = 0
            next[l] = next[r]
            if next[r] >= 0 { prev[Int(next[r])] = bg.left }
            tryAdd(prev[l], bg.left)
            tryAdd(bg.left, next[l])
        }
        var i: Int32 = 0
        while i != -1 {
            let from = Int(start[Int(i)]), size = Int(len[Int(i)])
            // Every merged symbol is a token; what is left unmerged and is no token falls back to bytes.
            if let token = tokenToID[ByteKey(text[from ..< from + size])] {
                out.append(token)
            } else {
                for b in text[from ..< from + size] {
                    if let t = byteToken(b) { out.append(t) }
                }
            }
            i = next[Int(i)]
        }
    }
}
