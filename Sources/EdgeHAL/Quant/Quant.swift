/// GGUF's block formats, written out plainly (scalar code, one block at a time).
///
/// This is the reference implementation: quantizing gives exactly the bytes of gguf-py 0.19.0
/// (`gguf/quants.py`, which follows ggml's `quantize_row_*_ref`), and dequantizing does the same
/// float operations, in the same order, as gguf-py and ggml's `dequantize_row_*` (no fused multiply-add).
///
/// Layouts live next to the code: `Quant+Blocks32.swift` (q8_0, q4_0, q4_1, q5_0, q5_1) and
/// `Quant+KQuants.swift` (q2_K … q6_K, dequantize only). All multi-byte fields are little-endian
/// and may be unaligned.
public enum Quant {
    /// Dequantizes `count` values (a multiple of type.blockSize) stored as `type` at `src` into `dst`.
    /// Supports f32, f16 and every quantized DType (q8_0,q4_0,q4_1,q5_0,q5_1,q2_K,q3_K,q4_K,q5_K,q6_K). Precondition: type != .i32.
    public static func dequantize(_ type: DType, from src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        precondition(type != .i32, "i32 is not a floating-point type and cannot be dequantized")
        precondition(count >= 0 && count % type.blockSize == 0,
                     "\(count) values is not a whole number of \(type) blocks")
        let dequantizeBlock: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void
        switch type {
        case .f32: dequantizeBlock = { block, y in y[0] = Float(bitPattern: readU32(block, 0)) }
        case .f16: dequantizeBlock = { block, y in y[0] = readF16(block, 0) }
        case .q8_0: dequantizeBlock = dequantizeQ8_0
        case .q4_0: dequantizeBlock = dequantizeQ4_0
        case .q4_1: dequantizeBlock = dequantizeQ4_1
        case .q5_0: dequantizeBlock = dequantizeQ5_0
        case .q5_1: dequantizeBlock = dequantizeQ5_1
        case .q2_K: dequantizeBlock = dequantizeQ2_K
        case .q3_K: dequantizeBlock = dequantizeQ3_K
        case .q4_K: dequantizeBlock = dequantizeQ4_K
        case .q5_K: dequantizeBlock = dequantizeQ5_K
        case .q6_K: dequantizeBlock = dequantizeQ6_K
        case .i32: preconditionFailure("unreachable")
        }
        for block in 0..<(count / type.blockSize) {
            dequantizeBlock(src + block * type.blockBytes, dst + block * type.blockSize)
        }
    }

    /// Quantizes `count` floats into `type` (f32, f16, q8_0, q4_0, q4_1, q5_0, q5_1 — i.e. DType.canQuantize), byte-identical to gguf-py / ggml's reference quantizers.
    public static func quantize(_ type: DType, from src: UnsafePointer<Float>, into dst: UnsafeMutableRawPointer, count: Int) {
        precondition(type.canQuantize, "quantizing to \(type) is not supported (K-quants are dequantize-only)")
        precondition(count >= 0 && count % type.blockSize == 0,
                     "\(count) values is not a whole number of \(type) blocks")
        let quantizeBlock: (UnsafePointer<Float>, UnsafeMutableRawPointer) -> Void
        switch type {
        case .f32: quantizeBlock = { x, block in writeU32(x[0].bitPattern, block, 0) }
        case .f16: quantizeBlock = { x, block in writeF16(x[0], block, 0) }
        case .q8_0: quantizeBlock = quantizeQ8_0
        case .q4_0: quantizeBlock = quantizeQ4_0
        case .q4_1: quantizeBlock = quantizeQ4_1
        case .q5_0: quantizeBlock = quantizeQ5_0
        case .q5_1: quantizeBlock = quantizeQ5_1
        default: preconditionFailure("unreachable")
        }
        for block in 0..<(count / type.blockSize) {
            quantizeBlock(src + block * type.blockSize, dst + block * type.blockBytes)
        }
    }

    /// Array conveniences.
    public static func dequantize(_ type: DType, _ bytes: [UInt8]) -> [Float] {
        precondition(bytes.count % type.blockBytes == 0,
                     "\(bytes.count) bytes is not a whole number of \(type) blocks")
        let count = bytes.count / type.blockBytes * type.blockSize
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            if count > 0 {
                bytes.withUnsafeBytes { src in
                    dequantize(type, from: src.baseAddress!, into: out.baseAddress!, count: count)
                }
            }
            initialized = count
        }
    }

    public static func quantize(_ type: DType, _ values: [Float]) -> [UInt8] {
        let byteCount = type.rowBytes(values.count)
        return [UInt8](unsafeUninitializedCapacity: byteCount) { out, initialized in
            if byteCount > 0 {
                values.withUnsafeBufferPointer { src in
                    quantize(type, from: src.baseAddress!, into: UnsafeMutableRawPointer(out.baseAddress!),
                             count: values.count)
                }
            }
            initialized = byteCount
        }
    }
}

// MARK: - Little-endian fields and numpy's integer casts

extension Quant {
    static func readU8(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        p.load(fromByteOffset: offset, as: UInt8.self)
    }

    static func readU32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// An IEEE half stored little-endian at `offset`, widened (exactly) to Float.
    static func readF16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        let bits = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        return Float(Float16(bitPattern: bits))
    }

    static func writeU8(_ value: UInt8, _ p: UnsafeMutableRawPointer, _ offset: Int) {
        p.storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }

    static func writeU32(_ value: UInt32, _ p: UnsafeMutableRawPointer, _ offset: Int) {
        p.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }

    /// Stores `value` as an IEEE half, rounded to nearest even (as numpy's `astype(np.float16)`
    /// and ggml's `GGML_FP32_TO_FP16` do).
    static func writeF16(_ value: Float, _ p: UnsafeMutableRawPointer, _ offset: Int) {
        p.storeBytes(of: Float16(value).bitPattern.littleEndian, toByteOffset: offset, as: UInt16.self)
    }

    /// `x` truncated toward zero to a 32-bit integer the way x86's `cvttss2si` does it:
    /// NaN and values outside Int32's range give Int32.min.
    ///
    /// numpy's `astype(np.uint8)` / `astype(np.int8)` on x86-64 is this followed by keeping the low
    /// byte, and so is ggml's C cast; see `numpyUInt8` / `numpyInt8`. For the values real data
    /// produces (0...31 or -127...127) it is plain truncation.
    static func truncateToInt32(_ x: Float) -> Int32 {
        guard x.isFinite, x > -2147483904.0, x < 2147483648.0 else { return Int32.min }
        return Int32(x)
    }

    /// numpy's `x.astype(np.uint8)` on x86-64 (truncation, then wrap to the low byte).
    static func numpyUInt8(_ x: Float) -> UInt8 {
        UInt8(truncatingIfNeeded: truncateToInt32(x))
    }

    /// numpy's `x.astype(np.int8)` on x86-64 (truncation, then wrap to the low byte).
    static func numpyInt8(_ x: Float) -> Int8 {
        Int8(truncatingIfNeeded: truncateToInt32(x))
    }
}
