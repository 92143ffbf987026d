import EdgeHAL

/// NMSE thresholds (Σ(y−ref)² / Σref²) each backend must meet against the reference.
///
/// Each bound sits about an order of magnitude above the error a correct implementation makes by
/// the one approximation it is allowed, and orders of magnitude below what a wrong index, a
/// swapped nibble, a missed mask entry or a wrong rotation pair gives (NMSE ≈ 0.01…2).
public enum Tolerance {
    /// Data movement and exact arithmetic (get_rows, add, mul, scale, permute, convert): only the
    /// last-bit rounding of a float op may differ (NMSE ≈ 1e-14); f16 outputs must round to nearest even.
    public static let exact = 1e-10
    /// Reductions and transcendentals in f32 (rms_norm, softmax, silu, gelu, swiglu, attention):
    /// float accumulation over 4096 terms and libm-grade exp/tanh give NMSE ≈ 1e-12…1e-10.
    /// ggml's fp16 lookup tables for gelu/silu (NMSE ≈ 1e-7) would not pass: a deliberate bar.
    public static let float = 1e-8
    /// rope computed with f32 angles: at positions near 32k, θ carries a half-ulp error of ≈ 0.002 rad
    /// (NMSE ≈ 1e-6); the reference computes θ in Double.
    public static let rope = 1e-5
    /// mul_mat with f32 or f16 weights: f32 accumulation, or activations rounded to f16 for f16 weights
    /// as ggml does (2^-11 relative, NMSE ≈ 1e-7).
    public static let mulMatFloat = 1e-6
    /// mul_mat with quantized weights: fast engines quantize activations to 8-bit blocks
    /// (Q8_0/Q8_1/Q8_K): NMSE ≈ (amax/127)²/12 / E[x²] ≈ 2.5e-5 for 32-value blocks, 4.5e-5 for 256.
    public static let mulMatQuantized = 2e-4
    /// A transformer block end to end: six quantized mat-muls whose activation rounding compounds
    /// through attention and the FFN.
    public static let block = 1e-3

    public static func mulMat(_ weights: DType) -> Double {
        weights.isQuantized ? mulMatQuantized : mulMatFloat
    }
}
