import EdgeHAL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Picks the next token from logits: greedy at temperature 0, else temperature, top-k and
/// top-p (nucleus) sampling with a seeded generator, so runs repeat.
public struct Sampler: Sendable {
    public var temperature: Float
    public var topK: Int
    public var topP: Float
    private var random: SeededRandom

    public init(temperature: Float = 0, topK: Int = 40, topP: Float = 0.95, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        random = SeededRandom(seed: seed)
    }

    public static func argmax(_ logits: [Float]) -> Int32 {
        logits.withUnsafeBufferPointer { argmax($0) }
    }

    /// The first index of the largest value (NaN never wins).
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        guard !logits.isEmpty else { return 0 }
        var best = 0
        var bestValue = logits[0]
        for i in 1..<logits.count where logits[i] > bestValue {
            best = i
            bestValue = logits[i]
        }
        return Int32(best)
    }

    /// Greedy steps read the buffer in place; sampling copies it once for sorting.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        temperature > 0 ? sample(Array(logits)) : Self.argmax(logits)
    }

    public mutating func sample(_ logits: [Float]) -> Int32 {
        guard temperature > 0 else { return Self.argmax(logits) }
        var order = logits.indices.sorted { logits[$0] > logits[$1] }
        if topK > 0 { order = Array(order.prefix(topK)) }
        let maxLogit = logits[order[0]]
        var probs = order.map { expf((logits[$0] - maxLogit) / temperature) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        var kept = 0, cumulative: Float = 0
        while kept < probs.count {
            cumulative += probs[kept]
            kept += 1
            if cumulative >= topP { break }
        }
        let target = Float(random.unit()) * cumulative
        var acc: Float = 0
        for i in 0..<kept {
            acc += probs[i]
            if acc >= target { return Int32(order[i]) }
        }
        return Int32(order[kept - 1])
    }
}
