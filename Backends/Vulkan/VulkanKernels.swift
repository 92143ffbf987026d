import EdgeHAL
import EdgeHALGPU

/// How one node runs: which kernel variant, its specialization constants, the op's push-constant
/// words (after the contract's in_off[6] and out_off) and the workgroup counts. The shapes of each
/// kernel's push block and its dispatch formula are in the kernel's header comment (Kernels/vulkan).
struct VulkanDispatch {
    var kernel: String
    var constants: [UInt32] = []
    var words: [UInt32]
    var groups: (UInt32, UInt32, UInt32)
    /// Two-pass nodes (split-key attention): the kernel writes `scratchBytes` of partial results in place of
    /// the output, then `merge` (at most one; an array, as a struct cannot hold itself) reads them as its
    /// input 0 and writes the node's output. VulkanProgram gives each such node its own scratch range.
    var scratchBytes = 0
    var merge: [VulkanDispatch] = []
    /// Int8 mat-vecs: `prologue` (quantize_q8) first turns the node's input 1 (with its input 2, a norm's weight,
    /// for rms_norm_mul_mat's forms) into `scratchBytes` of bytes and scales, and the kernel reads those as its
    /// input 1. Nodes whose prologues would quantize the same bytes (a layer's q, k and v) share one.
    var prologue: [VulkanDispatch] = []
    /// The node's inputs the prologue reads: 1 (the activations), and 2 (the norm's weight) for a norm's forms.
    var prologueInputs: [Int] = []

    /// Adds quantize_q8 before this int8 mat-vec, for `columns` columns of `k` values (Kernels/vulkan/quantize_q8.comp).
    mutating func quantize(k: Int, columns: Int, norm: Bool) {
        scratchBytes = 4 * columns * (k / 4 + k / 32 + 1)
        prologueInputs = norm ? [1, 2] : [1]
        prologue = [VulkanDispatch(kernel: "quantize_q8", constants: [128, norm ? 1 : 0], words: [UInt32(k), UInt32(columns)],
                                   groups: (UInt32(columns), 1, 1))]
    }
}

enum VulkanKernels {
    /// Types whose blocks the dequantizing kernels (mul_mat, get_rows) read.
    static let weightTypes: Set<DType> = [.f32, .f16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]
    /// Workgroup counts for grid-stride kernels: enough groups to keep every core busy, never past the limit.
    static func strided(_ items: Int, local: Int = 64, cap: Int = 4096) -> UInt32 { UInt32(max(1, min((items + local - 1) / local, cap))) }

    /// Whether a kernel exists for this signature (shape rules were checked by the caller).
    static func supports(_ s: OpSignature, f16Storage: Bool, family: KernelFamily, storageRange: Int) -> Bool {
        let ins = s.inputs
        switch s.op {
        case .mulMat: return weightTypes.contains(ins[0].type)
        // The GPU family's mat-vec adds r as it writes, norms the activations as it loads them, or takes a
        // glu's two matrices together (N ≤ 8); elsewhere the add, the norm and the glu stay dispatches of their own.
        case .mulMatAdd, .rmsNormMulMat, .mulMatGLU:
            return family.matVecFuses(s) && weightTypes.contains(ins[0].type) && VulkanMatMulKernels.fitStorage(ins, range: storageRange)
        // A decode step's q, k or v with its norm, rope and cache write: the GPU family's mat-vec, in pairs of rows.
        case .mulMatRows(let p):
            return family.matVecFuses(s) && weightTypes.contains(ins[0].type) && VulkanMatMulKernels.fitStorage(ins, range: storageRange)
                && p.headDim % 2 == 0 && (p.dstInput.map { ins[$0].type == .f32 || f16Storage } ?? true)
        case .getRows: return weightTypes.contains(ins[0].type)
        case .add, .mul, .swiglu, .geglu, .scale, .silu, .gelu, .rmsNorm, .rmsNormMul, .softmax: return true
        case .rope: return ins[0].shape[0] % 2 == 0
        // The GPU family writes a decode step's roped k straight into the cache (one barrier stage fewer).
        case .ropeSetRows: return family == .gpu && ins[1].shape[0] % 2 == 0 && (ins[0].type == .f32 || f16Storage)
        case .convert(let to): return to == .f32 || f16Storage
        case .permute: return ins[0].type == .f32 || f16Storage
        case .setRows: return ins[0].type == .f32 || f16Storage
        case .attention: return VulkanAttentionKernels.supportsAttention(ins)
        }
    }

    static func plan(_ node: PartitionNode, family: KernelFamily, matVec: VulkanMatMulKernels.MatVecTuning = .init(),
                     storageRange: Int = Int(UInt32.max), sharedMemory: Int = VulkanMatMulKernels.tileSharedBytes,
                     int8: Bool = false) throws -> VulkanDispatch {
        let ins = node.inputs.map(\.desc), out = node.output.desc
        let n = out.shape.count
        func u(_ v: Int) -> UInt32 { UInt32(v) }
        func dims(_ s: Shape) -> [UInt32] { s.dims.map(u) }
        switch node.op {
        case .scale(let s):
            return VulkanDispatch(kernel: "unary", words: [u(n), 0, s.bitPattern], groups: (strided(n), 1, 1))
        case .silu:
            return VulkanDispatch(kernel: "unary", words: [u(n), 1, 0], groups: (strided(n), 1, 1))
        case .gelu:
            return VulkanDispatch(kernel: "unary", words: [u(n), 2, 0], groups: (strided(n), 1, 1))
        case .convert(let to):
            let kernel = ins[0].type == to ? (to == .f16 ? "permute_f16" : "unary")
                : (to == .f16 ? "unary_f32_f16" : "unary_f16_f32")
            if kernel == "permute_f16" {   // an f16 → f16 copy is the identity permutation
                return VulkanDispatch(kernel: kernel, words: [u(n), 1, 1, 1, 1, 0, 0, 0], groups: (strided(n), 1, 1))
            }
            return VulkanDispatch(kernel: kernel, words: [u(n), 3, 0], groups: (strided(n), 1, 1))
        case .add, .mul, .swiglu, .geglu:
            return VulkanDispatch(kernel: "binary", words: dims(ins[0].shape) + dims(ins[1].shape) + [GPUOpArguments.binaryCode(node.op)],
                                  groups: (strided(n), 1, 1))
        case .rmsNorm(let eps), .rmsNormMul(let eps):
            // cpu family: 8 lanes a row (no barrier, which lavapipe runs as a coroutine switch); gpu: 256.
            let rows = ins[0].shape.rows
            return VulkanDispatch(kernel: family == .gpu ? "rms_norm_wg" : "rms_norm", constants: family == .gpu ? [256] : [],
                                  words: [u(ins[0].shape[0]), u(rows), ins.count > 1 ? 1 : 0, eps.bitPattern],
                                  groups: (UInt32(min(rows, 65535)), 1, 1))
        case .rope(let p), .ropeSetRows(let p):
            // rope_set_rows takes rope's words with x as input 1, then the cache's row count.
            var cache: TensorDesc? = nil
            if case .ropeSetRows = node.op { cache = ins[0] }
            let x = ins[cache == nil ? 0 : 1].shape
            let kernel = cache.map { $0.type == .f16 ? "rope_set_rows_f16" : "rope_set_rows_f32" } ?? "rope"
            return VulkanDispatch(kernel: kernel,
                                  words: [u(x[0]), u(x[1]), u(x[2]), u(x[3]), u(p.nDims), p.mode == .neox ? 1 : 0,
                                          p.freqScale.bitPattern, GPUOpArguments.ropeLog2BaseOverDims(p).bitPattern] + (cache.map { [u($0.shape[1])] } ?? []),
                                  groups: (strided(x[0] / 2 * x.rows), 1, 1))
        case .setRows:
            let (k, rows, count) = (ins[0].shape[0], ins[0].shape[1], ins[1].shape[1])
            return VulkanDispatch(kernel: ins[0].type == .f16 ? "set_rows_f16" : "set_rows_f32", words: [u(k), u(rows), u(count)],
                                  groups: (strided(k * count), 1, 1))
        case .permute(let a0, let a1, let a2, let a3):
            let s = GPUOpArguments.permuteStrides([a0, a1, a2, a3], output: out.shape).map(u)
            return VulkanDispatch(kernel: ins[0].type == .f16 ? "permute_f16" : "permute_f32", words: dims(ins[0].shape) + s,
                                  groups: (strided(n), 1, 1))
        case .softmax(let scale):
            return try VulkanAttentionKernels.softmax(ins, scale: scale)
        case .attention(let scale):
            return try VulkanAttentionKernels.attention(ins, scale: scale, family: family, sharedMemory: sharedMemory)
        case .mulMat, .mulMatAdd, .rmsNormMulMat, .mulMatGLU, .mulMatRows:
            return try VulkanMatMulKernels.mulMat(node.op, ins, out, family: family, matVec: matVec, storageRange: storageRange,
                                                  sharedMemory: sharedMemory, int8: int8)
        case .getRows:
            return try VulkanMatMulKernels.getRows(ins, out)
        }
    }
}
