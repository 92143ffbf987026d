// The K-quant formats: super-blocks of 256 values split into sub-blocks of 16 or 32 values,
// each sub-block with its own small integer scale (and, for q2_K/q4_K/q5_K, minimum) that
// multiplies the super-block's fp16 `d` (and `dmin`). Dequantize only.
//
// Each function mirrors ggml's dequantize_row_q*_K and gguf-py's Q*_K.dequantize_blocks,
// including the order of float operations: first the sub-block factor `d * scale` (and
// `dmin * min`), then `factor * q` (then `- dmin * min`).
//
// Indexing convention below: value i (0..<256) of the super-block.

extension Quant {
    // MARK: q2_K — { uint8 scales[16]; uint8 qs[64]; fp16 d; fp16 dmin }, 84 bytes.
    //
    // Sixteen sub-blocks of 16 values. scales[s]: low nibble = scale, high nibble = min.
    // 2-bit codes: value i = 128*h + 32*k + l (h 0..<2, k 0..<4, l 0..<32) is bits 2k...2k+1 of qs[32*h + l].
    // x = (d * scale) * q - (dmin * min).

    static func dequantizeQ2_K(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = readF16(block, 80)
        let dmin = readF16(block, 82)
        for s in 0..<16 {
            let packed = readU8(block, s)
            let dl = d * Float(packed & 0x0F)
            let ml = dmin * Float(packed >> 4)
            for i in (16 * s)..<(16 * s + 16) {
                let h = i / 128, k = (i % 128) / 32, l = i % 32
                let q = (readU8(block, 16 + 32 * h + l) >> (2 * k)) & 3
                y[i] = dl * Float(q) - ml
            }
        }
    }

    // MARK: q3_K — { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; fp16 d }, 110 bytes.
    //
    // Sixteen sub-blocks of 16 values, each with a signed 6-bit scale (stored + 32):
    //   low 4 bits of scale s:  nibble s / 8 of scales[s % 8] (low nibble for s < 8);
    //   high 2 bits of scale s: bits 2*(s/4)...2*(s/4)+1 of scales[8 + s % 4].
    // Low 2 bits of the 3-bit code: value i = 128*h + 32*k + l is bits 2k...2k+1 of qs[32*h + l].
    // Third bit: bit i / 32 of hmask[i % 32]. When it is *clear*, the code is reduced by 4, so
    // q = low2 - (bit set ? 0 : 4), in -4...3.
    // x = (d * (scale - 32)) * q.

    static func dequantizeQ3_K(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let scalesOffset = 96
        let d = readF16(block, 108)
        for s in 0..<16 {
            let low4 = (readU8(block, scalesOffset + s % 8) >> (4 * (s / 8))) & 0x0F
            let high2 = (readU8(block, scalesOffset + 8 + s % 4) >> (2 * (s / 4))) & 0x03
            let scale = Int(low4 | high2 << 4) - 32
            let dl = d * Float(scale)
            for i in (16 * s)..<(16 * s + 16) {
                let h = i / 128, k = (i % 128) / 32, l = i % 32
                let low2 = (readU8(block, 32 + 32 * h + l) >> (2 * k)) & 3
                let highBit = (readU8(block, l) >> (i / 32)) & 1
                let q = Int(low2) - (highBit == 1 ? 0 : 4)
                y[i] = dl * Float(q)
            }
        }
    }

    // MARK: q4_K — { fp16 d; fp16 dmin; uint8 scales[12]; uint8 qs[128] }, 144 bytes.
    //
    // Eight sub-blocks of 32 values with 6-bit scale and min packed in `scales` (see scaleAndMinK4).
    // 4-bit codes: sub-block s's value l is nibble s % 2 (low first) of qs[32 * (s / 2) + l].
    // x = (d * scale) * q - (dmin * min).

    static func dequantizeQ4_K(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = readF16(block, 0)
        let dmin = readF16(block, 2)
        for s in 0..<8 {
            let (scale, min) = scaleAndMinK4(block + 4, s)
            let d1 = d * Float(scale)
            let m1 = dmin * Float(min)
            for l in 0..<32 {
                let q = (readU8(block, 16 + 32 * (s / 2) + l) >> (4 * (s % 2))) & 0x0F
                y[32 * s + l] = d1 * Float(q) - m1
            }
        }
    }

    // MARK: q5_K — { fp16 d; fp16 dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128] }, 176 bytes.
    //
    // As q4_K, plus a fifth bit: for sub-block s's value l, bit s of qh[l].
    // x = (d * scale) * q - (dmin * min), q in 0...31.

    static func dequantizeQ5_K(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = readF16(block, 0)
        let dmin = readF16(block, 2)
        for s in 0..<8 {
            let (scale, min) = scaleAndMinK4(block + 4, s)
            let d1 = d * Float(scale)
            let m1 = dmin * Float(min)
            for l in 0..<32 {
                let low4 = (readU8(block, 48 + 32 * (s / 2) + l) >> (4 * (s % 2))) & 0x0F
                let high1 = (readU8(block, 16 + l) >> s) & 1
                let q = low4 | high1 << 4
                y[32 * s + l] = d1 * Float(q) - m1
            }
        }
    }

    // MARK: q6_K — { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d }, 210 bytes.
    //
    // Sixteen sub-blocks of 16 values with signed 8-bit scales.
    // Value i = 128*h + 32*k + l (h 0..<2, k 0..<4, l 0..<32):
    //   low 4 bits:  nibble k / 2 (low first) of ql[64*h + 32*(k % 2) + l];
    //   high 2 bits: bits 2k...2k+1 of qh[32*h + l].
    // x = (d * scale) * (q - 32).

    static func dequantizeQ6_K(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = readF16(block, 208)
        for s in 0..<16 {
            let scale = Int8(bitPattern: readU8(block, 192 + s))
            let dl = d * Float(scale)
            for i in (16 * s)..<(16 * s + 16) {
                let h = i / 128, k = (i % 128) / 32, l = i % 32
                let low4 = (readU8(block, 64 * h + 32 * (k % 2) + l) >> (4 * (k / 2))) & 0x0F
                let high2 = (readU8(block, 128 + 32 * h + l) >> (2 * k)) & 3
                let q = Int(low4 | high2 << 4) - 32
                y[i] = dl * Float(q)
            }
        }
    }

    // MARK: Shared pieces

    /// Sub-block `s`'s 6-bit scale and min from q4_K/q5_K's 12 packed bytes (ggml's get_scale_min_k4):
    ///
    ///     byte 0...3:  bits 0-5 = scale s (s < 4),  bits 6-7 = high 2 bits of scale s + 4
    ///     byte 4...7:  bits 0-5 = min s   (s < 4),  bits 6-7 = high 2 bits of min s + 4
    ///     byte 8...11: low nibble = low 4 bits of scale s + 4, high nibble = low 4 bits of min s + 4
    static func scaleAndMinK4(_ scales: UnsafeRawPointer, _ s: Int) -> (scale: UInt8, min: UInt8) {
        let q = { (j: Int) in readU8(scales, j) }
        if s < 4 {
            return (q(s) & 63, q(s + 4) & 63)
        } else {
            let scale = (q(s + 4) & 0x0F) | (q(s - 4) >> 6) << 4
            let min = (q(s + 4) >> 4) | (q(s) >> 6) << 4
            return (scale, min)
        }
    }
}
