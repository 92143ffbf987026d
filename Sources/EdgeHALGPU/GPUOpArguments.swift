import EdgeHAL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Scalars the Vulkan and OpenCL kernels of an op take alike: both families implement the same
/// formulas (each kernel's header comment, Kernels/vulkan and Kernels/opencl), so the host computes
/// them once, here.
public enum GPUOpArguments {
    /// The `binary` kernels' op code: 0 add, 1 mul, 2 swiglu, 3 geglu.
    public static func binaryCode(_ op: Op) -> UInt32 {
        switch op {
        case .add: return 0
        case .mul: return 1
        case .swiglu: return 2
        default: return 3
        }
    }

    /// For each source axis of `permute(axes)`, its stride in the output (elements): output axis
    /// `axes[i]` of a contiguous `output`.
    public static func permuteStrides(_ axes: [Int], output: Shape) -> [Int] {
        var stride = [1, 1, 1, 1]
        for i in 1..<4 { stride[i] = stride[i - 1] * output[i - 1] }
        return (0..<4).map { stride[axes[$0]] }
    }

    /// What the GPU mat-vec kernels (Vulkan's mul_mat_vec.comp, OpenCL's mul_mat_vec.cl) do around the product of
    /// a mul_mat-family op: `residual`, their op word (mul_mat_add: 1, r added as the sum is written; mul_mat_glu: the
    /// activation, 0 silu and 1 gelu; else 0), the folded norm's eps (rms_norm_mul_mat, a normed mul_mat_glu), and
    /// whether the glu variant runs (up, the last input, taken beside the weights).
    public static func matVec(_ op: Op) -> (residual: UInt32, normEps: Float?, glu: Bool) {
        switch op {
        case .mulMatAdd: return (1, nil, false)
        case .rmsNormMulMat(let eps): return (0, eps, false)
        case .mulMatGLU(let p): return (p.activation == .silu ? 0 : 1, p.normEps, true)
        case .mulMatRows(let p): return (0, p.normEps, false)
        default: return (0, nil, false)
        }
    }

    /// The GPU mat-vecs' words for mul_mat_rows (after the mat-vec's own): head size, rope's n_dims, the rope code
    /// (0 none, 1 normal, 2 neox), dst's row count (0 without set_rows), the inputs holding positions and ids (0 where
    /// absent), then freq_scale and log2(base)/n_dims as float bits.
    public static func heads(_ p: MatRows, _ inputs: [TensorDesc]) -> [UInt32] {
        let rope = p.rope.map { $0.mode == .neox ? 2 : 1 } ?? 0
        return [p.headDim, p.rope?.nDims ?? 0, rope, p.dstInput.map { inputs[$0].shape[1] } ?? 0,
                p.positionsInput ?? 0, p.idsInput ?? 0].map(UInt32.init)
            + [(p.rope?.freqScale ?? 1).bitPattern, (p.rope.map(ropeLog2BaseOverDims) ?? 0).bitPattern]
    }

    /// log2(freq_base) / n_dims: pair j turns by p · freq_scale · 2^(−2j · this).
    public static func ropeLog2BaseOverDims(_ p: RopeParams) -> Float {
        Float(log2(Double(p.freqBase)) / Double(p.nDims))
    }
}
