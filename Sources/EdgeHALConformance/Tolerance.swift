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
    /// (Q8_0/Q8_1, and ggml's Q8_K for the K-quants): NMSE ≈ (amax/127)²/12 / E[x²] ≈ 2.5e-5 for
    /// 32-value blocks, 4.5e-5 for 256.
    public static let mulMatQuantized = 2e-4
    /// A transformer block end to end: six quantized mat-muls whose activation rounding compounds
    /// through attention and the FFN.
    public static let block = 1e-3

    // MARK: derived bounds

    /// Every case whose graph holds a quantized mul_mat (the op itself, transformer blocks) is also
    /// run on the reference with 8-bit activation rounding emulated (ReferenceDevice(roundsActivations:)),
    /// which gives NMSE e_q against the float reference: the error a correct 8-bit-activation kernel
    /// makes on this very data, whatever the magnitudes, outliers, weight type or depth of the graph.
    /// Activations are rounded per 32 values; with K-quant weights e_q is the larger of that and
    /// ggml's per-256 (Q8_K) rounding, so a ggml-style kernel is judged by its own error model.
    /// The bound is max(floor, margin · e_q), in place of the fixed threshold.
    ///
    /// Margin: the CPU backend quantizes bit-identically and measures e/e_q = 1.00 for single ops and
    /// ≤ 1.002 for transformer blocks over 50 seeds at 1, 2 and 3 workers; ggml-style variants (Q8_1 sums, Q8_K's
    /// amax/128 rounding, f16 scales) change e_q by tens of percent.
    /// 2 leaves room for them while a +0.8 % gain error (e ≈ e_q + 6.4e-5, typically 3–5 × e_q) or one
    /// wrong sub-block fails.
    public static let roundingMargin = 2.0
    /// Below this NMSE rounding is not the limit (float accumulation over long rows is).
    public static let roundingFloor = 1e-7

    /// The least-squares gain g = Σ y·ref / Σ ref² of a correct kernel differs from 1 only by its
    /// noise: |g − 1| ≈ √(e/N) for N outputs with NMSE e (the noise projected on the reference), plus
    /// the part of the rounding error shared by every output of a column, which the reference on the
    /// rounded inputs shows as its own gain error |g_q − 1|. Band: z·√(e/N) + 2·|g_q − 1| + 1e-6, z = 6
    /// (a false alarm ~1e-9 per check). NMSE alone lets a systematic +0.8 % scale error through a
    /// loose bound; the band catches it from N ≈ 20 outputs.
    public static func gainBand(nmse: Double, outputs: Int, roundedGainError: Double = 0) -> Double {
        6 * (nmse / Double(max(1, outputs))).squareRoot() + 2 * roundedGainError + 1e-6
    }

    public static func mulMat(_ weights: DType) -> Double {
        weights.isQuantized ? mulMatQuantized : mulMatFloat
    }
}
