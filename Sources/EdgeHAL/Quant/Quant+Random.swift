extension DType {
    /// Byte offsets of a block's f16 scale fields: d, and m / dmin where the type has one (an f16
    /// value is its own scale); none for f32 and i32. What a generator sets to give blocks chosen
    /// scales, and where a kernel's f16 conversion meets them.
    public var f16ScaleOffsets: [Int] {
        switch self {
        case .f16, .q8_0, .q4_0, .q5_0: return [0]
        case .q4_1, .q5_1: return [0, 2]
        case .q2_K: return [80, 82]
        case .q3_K: return [108]
        case .q4_K, .q5_K: return [0, 2]
        case .q6_K: return [208]
        case .f32, .i32: return []
        }
    }
}

extension Quant {
    /// `blocks` random valid blocks of `type` (random quants and sub-scales, finite positive f16
    /// super-block scales), sized so dequantized values are O(`scale`): for the K-quants, which
    /// `quantize` cannot produce, in test data and synthetic models.
    public static func randomBlocks(_ type: DType, blocks: Int, rng: inout SeededRandom, scale: Float) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: blocks * type.blockBytes)
        for i in out.indices { out[i] = UInt8(truncatingIfNeeded: rng.next()) }
        // Sub-scales reach 63 and quants 31 in the widest types.
        let magnitude = scale / (type == .q6_K ? 1024 : 256)
        for b in 0..<blocks {
            for off in type.f16ScaleOffsets {
                let h = Float16(magnitude * Float(0.25 + rng.unit()))
                out[b * type.blockBytes + off] = UInt8(truncatingIfNeeded: h.bitPattern)
                out[b * type.blockBytes + off + 1] = UInt8(truncatingIfNeeded: h.bitPattern >> 8)
            }
        }
        return out
    }
}
