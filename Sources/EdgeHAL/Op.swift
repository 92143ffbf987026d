/// Rotary position embedding layout, as ggml's `mode` argument.
public enum RopeMode: String, Hashable, Sendable, Codable {
    /// GPT-J / llama style: rotates adjacent pairs (x[2i], x[2i+1]).
    case normal
    /// GPT-NeoX style: rotates x[i] with x[i + nDims/2].
    case neox
}

public struct RopeParams: Hashable, Sendable {
    public var mode: RopeMode
    /// Leading dimensions of each head that are rotated; the rest pass through.
    public var nDims: Int
    public var freqBase: Float
    /// Linear position scaling: theta = pos * freqScale * base^(-2i/nDims).
    public var freqScale: Float

    public init(mode: RopeMode, nDims: Int, freqBase: Float = 10000, freqScale: Float = 1) {
        self.mode = mode
        self.nDims = nDims
        self.freqBase = freqBase
        self.freqScale = freqScale
    }
}

/// The parameters of `Op.mulMatGLU`: the gate's activation and, for a norm folded in, rms_norm's eps.
public struct MatGLU: Hashable, Sendable {
    public enum Activation: String, Hashable, Sendable {
        /// silu(g)·u, as `swiglu`.
        case silu
        /// gelu(g)·u (tanh form), as `geglu`.
        case gelu
    }
    public var activation: Activation
    /// Set: the activations are rms_norm(x)·w (input 2 is w, up moves to input 3).
    public var normEps: Float?

    public init(_ activation: Activation, normEps: Float? = nil) {
        self.activation = activation
        self.normEps = normEps
    }
}

/// The parameters of `Op.mulMatRows`: a product whose rows are heads of `headDim` values — a decode step's q, k or v
/// projection — with what follows it folded in: the norm before it, rope after it, and the write into a cache.
public struct MatRows: Hashable, Sendable {
    /// Values a head: the product [M, N] is read as [headDim, M / headDim, N] (rope's x).
    public var headDim: Int
    /// Set: the activations are rms_norm(x)·w (w follows x in the inputs).
    public var normEps: Float?
    /// Set: the heads are roped at the columns' positions (an input after w).
    public var rope: RopeParams?
    /// True: the heads are written into dst's rows `ids` (set_rows; ids then dst come last, dst updated in place);
    /// false: the output is the (roped) product as [headDim, heads, N].
    public var setRows: Bool

    public init(headDim: Int, normEps: Float? = nil, rope: RopeParams? = nil, setRows: Bool) {
        self.headDim = headDim
        self.normEps = normEps
        self.rope = rope
        self.setRows = setRows
    }

    /// Input indices after a and x: w, positions, ids and dst where present.
    public var normInput: Int? { normEps == nil ? nil : 2 }
    public var positionsInput: Int? { rope == nil ? nil : 2 + (normEps == nil ? 0 : 1) }
    public var idsInput: Int? { setRows ? 2 + (normEps == nil ? 0 : 1) + (rope == nil ? 0 : 1) : nil }
    public var dstInput: Int? { idsInput.map { $0 + 1 } }
    public var inputCount: Int { 2 + (normEps == nil ? 0 : 1) + (rope == nil ? 0 : 1) + (setRows ? 2 : 0) }
}

/// Operators with ggml semantics. Shapes are in ggml order (ne0 innermost).
///
/// Input conventions (in the order of a node's inputs):
/// - `mulMat`: a [K, M, A2, A3] weights of any type, b [K, N, B2, B3] F32 → F32 [M, N, B2, B3];
///   b's dims 2 and 3 are multiples of a's and a is broadcast (grouped-query heads).
/// - `getRows`: table [K, R] any type, ids I32 [N] → F32 [K, N].
/// - `add`, `mul`: a, b F32; b repeats to a's shape (each of b's dims divides a's).
/// - `softmax`: x F32 [K, rows…], optional mask F32 [K, ≥ne1] broadcast over dims 2, 3;
///   y = softmax(x·scale + mask) along ne0.
/// - `rope`: x F32 [headDim, heads, tokens], positions I32 [tokens].
/// - `setRows`: dst [K, R] f32 or f16 (a state tensor), src F32 [K, N], ids I32 [N] → dst with row ids[j]
///   replaced by src row j (converted to dst's type); the output *is* dst, updated in place (ggml_set_rows).
/// - `permute`: materialises ggml_cont(ggml_permute(x, axes)): input axis i becomes output axis axes[i].
/// - `rmsNormMul`: x, weight [ne0] → rms_norm(x)·weight.
/// - `swiglu`: gate, up → silu(gate)·up.
/// - `geglu`: gate, up → gelu(gate)·up (gelu's tanh form, as ggml_geglu).
/// - `mulMatAdd`: a, b as `mulMat`, r F32 of the product's shape → mul_mat(a, b) + r, the product rounded
///   to f32 before the add (a layer's residual: one dispatch where there were two, and the barrier between
///   them gone on a GPU).
/// - `rmsNormMulMat`: a as `mulMat`, x F32 [K, N, B2, B3], w F32 [K] → mul_mat(a, rms_norm(x)·w), the normed
///   activations rounded to f32 before the product (a layer's norm folded into the mat-vecs that read it: each
///   computes its columns' Σ x² from the activations it loads anyway, so the norm's dispatch and barrier go).
/// - `ropeSetRows`: dst, x, positions, ids → `setRows(dst, rope(x, positions) as [ne0, rows], ids)`: a decode step's
///   roped keys written straight into the cache (one dispatch, and one barrier stage fewer, on a GPU).
/// - `mulMatGLU`: gate a as `mulMat`, x F32 [K, N, B2, B3], then w F32 [K] when `normEps` is set, and last up (the
///   same type and shape as gate) → glu(mul_mat(gate, x̂), mul_mat(up, x̂)) with glu(g, u) = act(g)·u (silu: swiglu,
///   gelu: geglu) and x̂ = x, or rms_norm(x)·w rounded to f32 (as `rmsNormMulMat`); each product rounded to f32 before
///   the glu. A feed-forward layer's gate, up and glu in one dispatch that reads x once for both matrices (and one
///   barrier stage fewer on a GPU). Up comes last so the first inputs are those of mul_mat and rms_norm_mul_mat.
/// - `mulMatRows`: a as `mulMat` (2-D), x F32 [K, N], then as ``MatRows`` says w F32 [K] (norm), positions I32 [N]
///   (rope), ids I32 [M / headDim · N] and dst [headDim, R] f32 or f16 (set_rows) → y = mul_mat(a, x̂) (x̂ as
///   `rmsNormMulMat`) rounded to f32, as [headDim, M / headDim, N]; then rope(y, positions) rounded to f32; then
///   either that tensor as the output, or `setRows(dst, it as [headDim, M / headDim · N], ids)` in place. A decode
///   step's q (norm, rope), k (norm, rope, into the cache) and v (norm, into the cache) each in one mat-vec, so the
///   rope and cache writes between the projections and attention — a dispatch each and a barrier stage — are gone.
/// - `attention`: q [D, T, H], k [D, KV, Hkv], v [D, KV, Hkv], optional mask F32 [KV, ≥T]
///   → F32 [D, T, H] = softmax(q·kᵀ·scale + mask)·v with head h reading kv head h / (H / Hkv).
public enum Op: Hashable, Sendable {
    case mulMat
    case getRows
    case add
    case mul
    case scale(Float)
    case rmsNorm(eps: Float)
    case softmax(scale: Float)
    case rope(RopeParams)
    case silu
    case gelu
    case convert(DType)
    case permute(Int, Int, Int, Int)
    case setRows
    // Fused operators: the fusion pass creates them only for backends that support them.
    case rmsNormMul(eps: Float)
    case swiglu
    case geglu
    case attention(scale: Float)
    case mulMatAdd
    case rmsNormMulMat(eps: Float)
    case ropeSetRows(RopeParams)
    case mulMatGLU(MatGLU)
    case mulMatRows(MatRows)

    /// Stable short name used in reports, the conformance table and `--op` filters.
    public var name: String {
        switch self {
        case .mulMat: return "mul_mat"
        case .getRows: return "get_rows"
        case .add: return "add"
        case .mul: return "mul"
        case .scale: return "scale"
        case .rmsNorm: return "rms_norm"
        case .softmax: return "softmax"
        case .rope: return "rope"
        case .silu: return "silu"
        case .gelu: return "gelu"
        case .convert: return "convert"
        case .permute: return "permute"
        case .setRows: return "set_rows"
        case .rmsNormMul: return "rms_norm_mul"
        case .swiglu: return "swiglu"
        case .geglu: return "geglu"
        case .attention: return "attention"
        case .mulMatAdd: return "mul_mat_add"
        case .rmsNormMulMat: return "rms_norm_mul_mat"
        case .ropeSetRows: return "rope_set_rows"
        case .mulMatGLU: return "mul_mat_glu"
        case .mulMatRows: return "mul_mat_rows"
        }
    }

    /// The input whose memory the output reuses (the op updates it in place), if any.
    public var inPlaceInput: Int? {
        switch self {
        case .setRows, .ropeSetRows: return 0
        case .mulMatRows(let p): return p.dstInput
        default: return nil
        }
    }

    public var isFused: Bool {
        switch self {
        case .rmsNormMul, .swiglu, .geglu, .attention, .mulMatAdd, .rmsNormMulMat, .ropeSetRows, .mulMatGLU, .mulMatRows: return true
        default: return false
        }
    }
}
