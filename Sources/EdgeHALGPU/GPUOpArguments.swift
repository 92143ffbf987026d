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

    /// log2(freq_base) / n_dims: pair j turns by p · freq_scale · 2^(−2j · this).
    public static func ropeLog2BaseOverDims(_ p: RopeParams) -> Float {
        Float(log2(Double(p.freqBase)) / Double(p.nDims))
    }
}
