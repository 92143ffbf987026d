/// exp on eight lanes at once, for the activation functions (gelu, silu and their gated forms).
///
/// Why not `expf`: glibc's expf is a call per value, and on Gemma 3's prefill GeGLU (128 × 2048 values)
/// those calls were 4 % of the whole prefill on the Zen2 EPYC. This is Cephes' expf — n = round(x/ln 2),
/// r = x − n·ln 2 in two parts, a degree-6 polynomial, 2^n put into the exponent bits — written on
/// SIMD8 with integer lanes only, so it compiles to straight AVX2 (no conversions, no calls).
/// Relative error ≤ 2 ulp over the range, far inside the table's `Tolerance.float` (NMSE 1e-8).
enum VectorMath {
    /// e^x. Below ln(FLT_MIN) it returns 0 and above 88 it saturates at e^88 (≈ 1.65e38, finite):
    /// the callers divide by 1 + e^x, where that is 0 to within far below a float's precision.
    /// A NaN lane comes back NaN.
    @inline(__always) static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let lowest: Float = -87.336_54, highest: Float = 88
        // Compare-and-blend, not `clamped`: Swift's min/max semantics for NaN make that one lane at a time.
        let xc = x.replacing(with: highest, where: x .> highest).replacing(with: lowest, where: x .< lowest)
        // Adding 1.5·2^23 rounds to the nearest integer and leaves it in the low mantissa bits.
        let magic: Float = 12_582_912
        let shifted = SIMD8<Float>(repeating: magic).addingProduct(xc, 1.442_695_04)
        let n = shifted - magic
        let r = xc.addingProduct(n, -0.693_359_375).addingProduct(n, 2.121_944_4e-4)
        // Horner with fused multiply-adds (`p * r + c` would stay two instructions: Swift does not contract).
        var p = SIMD8<Float>(repeating: 1.398_199_95e-3).addingProduct(SIMD8(repeating: 1.987_569_15e-4), r)
        p = SIMD8(repeating: 8.333_451_9e-3).addingProduct(p, r)
        p = SIMD8(repeating: 4.166_579_59e-2).addingProduct(p, r)
        p = SIMD8(repeating: 1.666_666_55e-1).addingProduct(p, r)
        p = SIMD8(repeating: 5.000_000_12e-1).addingProduct(p, r)
        let y = (r + 1).addingProduct(p, r * r)
        // shifted's bits hold n + 0x4B400000; the exponent field wants n + 127.
        let bits = unsafeBitCast(shifted, to: SIMD8<UInt32>.self)
        let scale = unsafeBitCast((bits &- 0x4B40_0000 &+ 127) &<< 23, to: SIMD8<Float>.self)
        return (y * scale).replacing(with: 0, where: x .< lowest).replacing(with: x, where: x .!= x)
    }

    /// x·sigmoid(x) = x / (1 + e^−x).
    @inline(__always) static func silu(_ x: SIMD8<Float>) -> SIMD8<Float> {
        x / (1 + exp(-x))
    }

    /// gelu's tanh form, written x·sigmoid(2u) = x / (1 + e^(−2u)) with u = √(2/π)·(x + 0.044715·x³):
    /// the same value as 0.5·x·(1 + tanh u), one exp instead of a tanh.
    @inline(__always) static func gelu(_ x: SIMD8<Float>) -> SIMD8<Float> {
        x / (1 + exp(-1.595_769_1 * (x + 0.044715 * x * x * x)))
    }
}
