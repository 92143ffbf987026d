/// Emits only complete UTF-8 sequences, holding back a token's partial character for the next
/// (a streamed reply never shows half a character).
public struct UTF8Stream: Sendable {
    public init() {}

    private var pending: [UInt8] = []

    public mutating func push(_ bytes: [UInt8]) -> [UInt8] {
        pending += bytes
        var end = pending.count
        // Back up over an incomplete trailing sequence (at most 3 bytes).
        var i = pending.count - 1, back = 0
        while i >= 0 && back < 4 && pending[i] & 0xC0 == 0x80 { i -= 1; back += 1 }
        if i >= 0 {
            let lead = pending[i]
            let need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
            if pending.count - i < need { end = i }
        }
        let out = Array(pending[..<end])
        pending.removeFirst(end)
        return out
    }

    public mutating func flush() -> [UInt8] {
        defer { pending = [] }
        return pending
    }
}
