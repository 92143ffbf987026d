import EdgeHAL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum TestData {
    /// `rows` rows of `k` values stored as `type`: quantized from normal data where the type can be
    /// produced, and random valid blocks (finite, small fp16 scales) for the dequantize-only K-quants.
    public static func weights(_ type: DType, k: Int, rows: Int, rng: inout SeededRandom, scale: Float = 1) -> [UInt8] {
        let count = k * rows
        switch type {
        case .f32: return bytes(of: rng.normal(count: count, scale: scale))
        case .f16: return Quant.quantize(.f16, rng.normal(count: count, scale: scale))
        case _ where type.canQuantize: return Quant.quantize(type, rng.normal(count: count, scale: scale))
        default: return Quant.randomBlocks(type, blocks: count / type.blockSize, rng: &rng, scale: scale)
        }
    }

    public static func bytes<T>(of values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

    public static func floats(_ bytes: [UInt8], as type: DType) -> [Float] {
        switch type {
        case .f32: return bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        case .i32: return bytes.withUnsafeBytes { $0.bindMemory(to: Int32.self).map(Float.init) }
        default: return Quant.dequantize(type, bytes)
        }
    }

    /// llama.cpp's causal mask for `tokens` queries at positions kvOffset..<kvOffset+tokens over `kv` keys:
    /// query t sees key j iff j ≤ kvOffset + t.
    public static func causalMask(kv: Int, tokens: Int, kvOffset: Int, window: Int? = nil) -> [Float] {
        (0..<tokens).flatMap { t in
            (0..<kv).map { j in j <= kvOffset + t && (window.map { kvOffset + t - j < $0 } ?? true) ? 0 : -Float.infinity }
        }
    }

    /// The causal mask with a random finite bias in [−bias, 0] on every visible key (position
    /// biases such as ALiBi travel in the mask): a kernel must add the mask after scaling the scores.
    public static func causalMask(kv: Int, tokens: Int, kvOffset: Int, window: Int? = nil, bias: Float, rng: inout SeededRandom) -> [Float] {
        var m = causalMask(kv: kv, tokens: tokens, kvOffset: kvOffset, window: window)
        guard bias > 0 else { return m }
        let b = rng.uniform(-bias, 0, count: m.count)
        for i in m.indices where m[i] == 0 { m[i] = b[i] }
        return m
    }
}

extension TestData {
    /// `values` with one value in every run of `every` multiplied by `factor` (at a random place in the run).
    public static func withOutliers(_ values: [Float], every: Int, factor: Float, rng: inout SeededRandom) -> [Float] {
        var out = values
        for start in stride(from: 0, to: out.count, by: every) {
            out[start + rng.int(below: min(every, out.count - start))] *= factor
        }
        return out
    }
}
