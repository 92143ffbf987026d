import EdgeHAL

// Values random data almost never produces but real models and kernels meet: subnormal, zero and
// maximal f16 block scales, inputs exactly halfway between two f16 values, and attention masks with
// rows that hide every key. A case asks for them the way it asks for outliers; the next kernel
// family gets them for free.

extension TestData {
    /// The f16 block scales (d, and the minimum m/dmin where the type has one) a weight case asks for.
    public enum BlockScales: String, Sendable {
        /// What the quantizer (or the random K-quant blocks) gives: normal f16 values.
        case natural
        /// Every block's scales from the f16 subnormal range (exponent field 0: 6e-8…6e-5, where a
        /// conversion without its subnormal branch goes wrong), the smallest normals (so a flush to
        /// zero is not the only error it can make) and ±0, all of one magnitude so each class shows
        /// in the output; the smallest and largest subnormal both occur.
        case subnormal
        /// Scales with exponent field 30 (32768…65504, 65504 itself in every row) and some ±0: the
        /// top of the range, where a conversion that mistakes exponent 30 for inf/NaN goes wrong.
        case maximal
        /// Not the scales but the codes at their extreme: every quant bit set (q8_0: every code −128;
        /// K-quant sub-block scales and minimums at their largest, q6_K's int8 scales 127), f16 scales
        /// random in 0.005…0.015 (identical blocks would make float rounding systematic, which the gain
        /// check reads as a scale error). Against activations of ±127 codes of one sign per 32 values
        /// (``CaseTable/Activations/extreme``) every partial sum a kernel keeps inside a block is as
        /// large as it gets: a narrow accumulator that wraps or saturates shows.
        case extremeCodes = "extreme-codes"
    }

    /// f16 bit patterns for `count` scales of class `scales` (deterministic in `rng`).
    static func scaleBits(_ scales: BlockScales, count: Int, rng: inout SeededRandom) -> [UInt16] {
        (0..<count).map { i -> UInt16 in
            let sign: UInt16 = rng.int(below: 2) == 0 ? 0 : 0x8000
            switch scales {
            case .natural, .extremeCodes: preconditionFailure("natural scales come from the quantizer")
            case .subnormal:
                switch i % 8 {
                case 0: return 0x0001                                     // the smallest subnormal, 2^-24
                case 1: return 0x03FF                                     // the largest, just below 2^-14
                case 2: return sign                                       // ±0
                case 3, 4: return 0x0400 | UInt16(rng.int(below: 0x400))  // smallest normals (2^-14…2^-13)
                default: return 0x0040 + UInt16(rng.int(below: 0x3C0))    // subnormal, 2^-18…2^-14
                }
            case .maximal:
                switch i % 8 {
                case 0: return 0x7BFF                                     // 65504
                case 1: return sign                                       // ±0
                default: return 0x7800 | UInt16(rng.int(below: 0x400))    // 32768…65504
                }
            }
        }
    }

    /// `weights(type, …)` with every block's f16 scale fields replaced by values of class `scales`:
    /// the quants stay as quantized (or random), so each block is a valid block with unusual scales.
    /// Positive scales for q4_0 are as valid as the quantizer's negative ones. For f16 weights each
    /// value is its own scale. Types without f16 scales (f32) are returned unchanged.
    public static func weights(_ type: DType, k: Int, rows: Int, rng: inout SeededRandom, scales: BlockScales) -> [UInt8] {
        if scales == .extremeCodes { return extremeCodeWeights(type, k: k, rows: rows, rng: &rng) }
        var out = weights(type, k: k, rows: rows, rng: &rng)
        let offsets = type.f16ScaleOffsets
        guard scales != .natural, !offsets.isEmpty else { return out }
        let blocks = k * rows / type.blockSize
        let bits = scaleBits(scales, count: blocks * offsets.count, rng: &rng)
        for b in 0..<blocks {
            for (j, off) in offsets.enumerated() {
                let h = bits[b * offsets.count + j]
                out[b * type.blockBytes + off] = UInt8(h & 0xFF)
                out[b * type.blockBytes + off + 1] = UInt8(h >> 8)
            }
        }
        return out
    }

    /// Blocks of `type` with every code at its extreme (BlockScales.extremeCodes); f32 and f16 weights
    /// are random in 0.5…1.5.
    static func extremeCodeWeights(_ type: DType, k: Int, rows: Int, rng: inout SeededRandom) -> [UInt8] {
        let count = k * rows
        switch type {
        case .f32: return (0..<count).map { _ in Float(0.5 + rng.unit()) }.withUnsafeBytes { Array($0) }
        case .f16: return (0..<count).map { _ in Float16(0.5 + rng.unit()) }.withUnsafeBytes { Array($0) }
        default: break
        }
        let blocks = count / type.blockSize
        var out = [UInt8](repeating: 0xFF, count: blocks * type.blockBytes)
        for b in 0..<blocks {
            let base = b * type.blockBytes
            for off in type.f16ScaleOffsets {
                let bits = Float16(0.01 * (0.5 + rng.unit())).bitPattern
                out[base + off] = UInt8(bits & 0xFF)
                out[base + off + 1] = UInt8(bits >> 8)
            }
            if type == .q8_0 { for j in 2..<34 { out[base + j] = 0x80 } }
            if type == .q6_K { for j in 192..<208 { out[base + j] = 0x7F } }
        }
        return out
    }

    // MARK: f32 → f16 rounding

    /// `count` f32 values each exactly halfway between two neighbouring f16 values, of magnitude
    /// about `scale` (exponents spread over 2^-3…2^3 around it), half of them with an even lower
    /// neighbour (round to nearest even rounds down) and half odd (it rounds up); random signs.
    /// Rounding ties away from zero (or toward zero) gets half of them wrong by one f16 ulp, which
    /// no NMSE bound above 1e-8 overlooks.
    public static func f16Ties(count: Int, scale: Float = 1, rng: inout SeededRandom) -> [Float] {
        (0..<count).map { i in
            let magnitude = Float(sign: .plus, exponent: rng.int(below: 6) - 3, significand: scale * Float(1 + rng.unit()))
            var h = Float16(magnitude).bitPattern & 0x7FFF
            h = (h & ~1) | UInt16(i & 1)          // lower neighbour's parity
            if h >= 0x7BFF { h = 0x7BFE }
            let lo = Float(Float16(bitPattern: h)), hi = Float(Float16(bitPattern: h + 1))
            let tie = (lo + hi) / 2               // exact: 12 significant bits
            return rng.int(below: 2) == 0 ? tie : -tie
        }
    }

    /// The f32 values at the edges of f16 conversion, each class several times: ties in the normal and
    /// subnormal ranges (both parities), the subnormal/normal boundary, ±65504, just below the
    /// overflow tie 65520, 65520 itself (→ ±inf: the even neighbour is inf), beyond (70000, 1e30, ±inf
    /// → ±inf), f16 subnormals, 2^-25 (the tie below the smallest subnormal → ±0) and a hair above it
    /// (→ ±2^-24), values far below (→ ±0), signed zeros, and ordinary values between them.
    public static func f16Edges(count: Int, rng: inout SeededRandom) -> [Float] {
        let fixed: [Float] = [
            65504, Float(65520).nextDown, 65520, 70000, 1e30, .infinity, 0, 0x1p-25, 0x1.000002p-25, 1e-10,
            0x1p-24, 0x1.ff8p-15,                 // the tie between the largest subnormal and 2^-14
            0x1p-14, 0x1.004p-14,                 // the smallest normal, and a tie just above it
        ]
        var out: [Float] = []
        out.reserveCapacity(count)
        var i = 0
        while out.count < count {
            let sign: Float = (i / 6) % 2 == 0 ? 1 : -1
            switch i % 6 {
            case 0: out.append(sign * fixed[(i / 12) % fixed.count])
            case 1: out += f16Ties(count: 1, scale: 1, rng: &rng)
            case 2:                                // subnormal ties: (m + ½)·2^-24, m even and odd
                let m = Float(rng.int(below: 1023))
                out.append(sign * (m + 0.5) * 0x1p-24)
            case 3: out.append(sign * Float(rng.int(below: 1024)) * 0x1p-24)   // f16 subnormals, exact
            case 4: out += f16Ties(count: 1, scale: 4096, rng: &rng)          // ties with ulp 2…4
            default: out.append(Float(rng.normal(count: 1)[0]) * 100)
            }
            i += 1
        }
        return out
    }

    /// f16 bit patterns at the edges of f16 → f32 widening: every subnormal class, ±0, ±65504, ±inf and
    /// the smallest normals, mixed with ordinary values.
    public static func f16EdgeBits(count: Int, rng: inout SeededRandom) -> [UInt8] {
        let fixed: [UInt16] = [0x0001, 0x03FF, 0x0000, 0x8000, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x0400, 0x8400, 0x3C00, 0x0200]
        var bits: [UInt16] = []
        for i in 0..<count {
            switch i % 4 {
            case 0: bits.append(fixed[(i / 4) % fixed.count])
            case 1: bits.append(UInt16(rng.int(below: 0x400)) | (i % 8 == 1 ? 0 : 0x8000))   // subnormals
            default: bits.append(UInt16(rng.int(below: 0x7C00)) | UInt16(rng.int(below: 2)) << 15)
            }
        }
        return bytes(of: bits)
    }

    // MARK: masks

    /// The kinds of mask row `edgeMask` cycles through.
    public enum MaskRow: Int, CaseIterable, Sendable {
        /// Every key hidden (padding in batched use, a query before a window): the output row is zeros.
        case hidden
        /// One visible key, at the first, the last or a middle position: the output is that key's value.
        case onlyFirst, onlyLast, onlyMiddle
        /// -inf mixed with large finite biases (−100, −60, −20, 0, +5): the −100 keys still count.
        case mixed
        /// Every key visible, every bias −100: exp without the maximum subtracted underflows, yet
        /// no key is masked.
        case allVeryNegative
        /// The causal mask with finite biases in [−4, 0].
        case causal
    }

    /// A mask [kv, tokens] whose row t is of kind `MaskRow((first + t) % 7)`.
    public static func edgeMask(kv: Int, tokens: Int, first: Int = 0, rng: inout SeededRandom) -> [Float] {
        let inf = -Float.infinity
        return (0..<tokens).flatMap { t -> [Float] in
            let kind = MaskRow(rawValue: (first + t) % MaskRow.allCases.count)!
            var row = [Float](repeating: inf, count: kv)
            switch kind {
            case .hidden: break
            case .onlyFirst: row[0] = 0
            case .onlyLast: row[kv - 1] = -3
            case .onlyMiddle: row[kv / 2 + 1] = 2
            case .mixed:
                let biases: [Float] = [inf, -100, -60, -20, 0, 5, inf]
                for j in 0..<kv { row[j] = biases[rng.int(below: biases.count)] }
                (row[kv / 3], row[kv - 1]) = (-100, 0)
            case .allVeryNegative: row = [Float](repeating: -100, count: kv)
            case .causal:
                let visible = kv - tokens + t
                for j in 0...visible { row[j] = Float(rng.unit()) * -4 }
            }
            return row
        }
    }
}
