// The 32-value block formats: q8_0, q4_0, q4_1, q5_0, q5_1.
//
// Quantizers follow gguf-py 0.19.0's quants.py (itself a transcription of ggml's
// quantize_row_*_ref), operation for operation in Float32:
//   - the scale is computed in Float32, and its reciprocal is 0 when the scale is 0;
//   - q8_0 rounds half away from zero (`roundf`; gguf-py's `np_roundf`);
//   - q4/q5 add 0.5 (or 8.5 / 16.5) and truncate toward zero, then clip to the top code;
//   - the scale (and q4_1/q5_1's minimum) is then stored as fp16, rounded to nearest even,
//     while the codes were computed with the unrounded Float32 scale.
// When several values tie for the largest magnitude (q4_0, q5_0) the first one wins, as with
// numpy's argmax and ggml's strict `<` scan.
//
// 4-bit codes: byte j of `qs` holds value j in its low nibble and value j + 16 in its high nibble.
// q5 fifth bits: bit j of the little-endian UInt32 `qh` is bit 4 of value j.

extension Quant {
    // MARK: q8_0 — { fp16 d; int8 qs[32] }, 34 bytes. x = d * q.

    static func quantizeQ8_0(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer) {
        let d = largestMagnitude(x) / 127
        let id: Float = d == 0 ? 0 : 1 / d
        writeF16(d, block, 0)
        for j in 0..<32 {
            let q = numpyInt8((x[j] * id).rounded(.toNearestOrAwayFromZero))
            writeU8(UInt8(bitPattern: q), block, 2 + j)
        }
    }

    static func dequantizeQ8_0(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = readF16(block, 0)
        for j in 0..<32 {
            let q = Int8(bitPattern: readU8(block, 2 + j))
            y[j] = Float(q) * d
        }
    }

    // MARK: q4_0 — { fp16 d; uint8 qs[16] }, 18 bytes. x = d * (q - 8), q in 0...15.

    static func quantizeQ4_0(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer) {
        let max = valueOfLargestMagnitude(x)
        let d = max / -8           // so that `max` itself maps to code 0
        let id: Float = d == 0 ? 0 : 1 / d
        writeF16(d, block, 0)
        for j in 0..<16 {
            let low = min(15, numpyUInt8(x[j] * id + 8.5))
            let high = min(15, numpyUInt8(x[j + 16] * id + 8.5))
            writeU8(low | high << 4, block, 2 + j)
        }
    }

    static func dequantizeQ4_0(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = readF16(block, 0)
        for j in 0..<16 {
            let byte = readU8(block, 2 + j)
            y[j] = d * Float(Int(byte & 0x0F) - 8)
            y[j + 16] = d * Float(Int(byte >> 4) - 8)
        }
    }

    // MARK: q4_1 — { fp16 d; fp16 m; uint8 qs[16] }, 20 bytes. x = d * q + m, q in 0...15.

    static func quantizeQ4_1(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer) {
        let (min, max) = minAndMax(x)
        let d = (max - min) / 15
        let id: Float = d == 0 ? 0 : 1 / d
        writeF16(d, block, 0)
        writeF16(min, block, 2)
        for j in 0..<16 {
            let low = Swift.min(15, numpyUInt8((x[j] - min) * id + 0.5))
            let high = Swift.min(15, numpyUInt8((x[j + 16] - min) * id + 0.5))
            writeU8(low | high << 4, block, 4 + j)
        }
    }

    static func dequantizeQ4_1(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = readF16(block, 0)
        let m = readF16(block, 2)
        for j in 0..<16 {
            let byte = readU8(block, 4 + j)
            y[j] = d * Float(byte & 0x0F) + m
            y[j + 16] = d * Float(byte >> 4) + m
        }
    }

    // MARK: q5_0 — { fp16 d; uint32 qh; uint8 qs[16] }, 22 bytes. x = d * (q - 16), q in 0...31.

    static func quantizeQ5_0(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer) {
        let max = valueOfLargestMagnitude(x)
        let d = max / -16          // so that `max` itself maps to code 0
        let id: Float = d == 0 ? 0 : 1 / d
        var q = [UInt8](repeating: 0, count: 32)
        for j in 0..<32 { q[j] = min(31, numpyUInt8(x[j] * id + 16.5)) }
        writeF16(d, block, 0)
        writeFiveBitCodes(q, block, qhOffset: 2)
    }

    static func dequantizeQ5_0(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = readF16(block, 0)
        for j in 0..<32 {
            let q = readFiveBitCode(block, qhOffset: 2, j)
            y[j] = d * Float(Int(q) - 16)
        }
    }

    // MARK: q5_1 — { fp16 d; fp16 m; uint32 qh; uint8 qs[16] }, 24 bytes. x = d * q + m, q in 0...31.

    static func quantizeQ5_1(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer) {
        let (min, max) = minAndMax(x)
        let d = (max - min) / 31
        let id: Float = d == 0 ? 0 : 1 / d
        var q = [UInt8](repeating: 0, count: 32)
        for j in 0..<32 { q[j] = Swift.min(31, numpyUInt8((x[j] - min) * id + 0.5)) }
        writeF16(d, block, 0)
        writeF16(min, block, 2)
        writeFiveBitCodes(q, block, qhOffset: 4)
    }

    static func dequantizeQ5_1(_ block: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = readF16(block, 0)
        let m = readF16(block, 2)
        for j in 0..<32 {
            let q = readFiveBitCode(block, qhOffset: 4, j)
            y[j] = d * Float(q) + m
        }
    }

    // MARK: Shared pieces

    // The three block scans below treat a NaN the way numpy's max/argmax/min do: the first NaN
    // wins. The scale then is NaN, every code 0, as gguf-py writes it. (ggml's C scans skip NaNs.)

    /// The largest magnitude among the block's 32 values.
    static func largestMagnitude(_ x: UnsafePointer<Float>) -> Float {
        var amax: Float = 0
        for j in 0..<32 {
            if x[j].isNaN { return abs(x[j]) }
            amax = max(amax, abs(x[j]))
        }
        return amax
    }

    /// The value whose magnitude is largest; the first such value when several tie.
    /// (Starting from x[0] rather than 0 keeps the sign of an all-zero block's zeros, like numpy's argmax.)
    static func valueOfLargestMagnitude(_ x: UnsafePointer<Float>) -> Float {
        var largest = x[0]
        for j in 0..<32 {
            if x[j].isNaN { return x[j] }
            if abs(x[j]) > abs(largest) { largest = x[j] }
        }
        return largest
    }

    /// The smallest and largest of the block's 32 values.
    static func minAndMax(_ x: UnsafePointer<Float>) -> (min: Float, max: Float) {
        var lo = x[0], hi = x[0]
        for j in 0..<32 {
            if x[j].isNaN { return (x[j], x[j]) }
            if x[j] < lo { lo = x[j] }
            if x[j] > hi { hi = x[j] }
        }
        return (lo, hi)
    }

    /// Writes 32 five-bit codes: their fifth bits as the UInt32 at `qhOffset`, then their low
    /// four bits as 16 bytes (value j low nibble, value j + 16 high nibble).
    static func writeFiveBitCodes(_ q: [UInt8], _ block: UnsafeMutableRawPointer, qhOffset: Int) {
        var qh: UInt32 = 0
        for j in 0..<32 { qh |= UInt32(q[j] >> 4) << j }
        writeU32(qh, block, qhOffset)
        for j in 0..<16 {
            writeU8((q[j] & 0x0F) | (q[j + 16] & 0x0F) << 4, block, qhOffset + 4 + j)
        }
    }

    /// Reads five-bit code `j` (0..<32) written by `writeFiveBitCodes`.
    static func readFiveBitCode(_ block: UnsafeRawPointer, qhOffset: Int, _ j: Int) -> UInt8 {
        let qh = readU32(block, qhOffset)
        let byte = readU8(block, qhOffset + 4 + j % 16)
        let low = j < 16 ? byte & 0x0F : byte >> 4
        let high = UInt8((qh >> j) & 1)
        return low | high << 4
    }
}
