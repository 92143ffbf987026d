import EdgeHAL
import EdgeHALGPU

/// Which OpenCL kernel runs each op, with its scalars and NDRange (formulas in each kernel's header
/// comment, Kernels/opencl). Kernels run IEEE math: no -cl-fast-relaxed-math, whose inf/NaN rules
/// would break softmax masks and gelu's large-|x| limits.
enum OpenCLKernels {
    static let weightTypes: Set<DType> = [.f32, .f16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    static func supports(_ s: OpSignature, family: KernelFamily) -> Bool {
        let ins = s.inputs
        switch s.op {
        case .mulMat, .getRows: return weightTypes.contains(ins[0].type)
        // The GPU family's mat-vec adds r as it writes, norms the activations as it loads them, or takes a glu's
        // two matrices together (N ≤ 8); elsewhere the add, the norm and the glu stay kernels of their own.
        case .mulMatAdd, .rmsNormMulMat, .mulMatGLU: return family.matVecFuses(s) && weightTypes.contains(ins[0].type)
        // A decode step's q, k or v with its norm, rope and cache write in the mat-vec (a rope pair a lane group).
        case .mulMatRows(let p): return family.matVecFuses(s) && weightTypes.contains(ins[0].type) && p.headDim % 2 == 0
        // The kernels' contract (attention.cl): one batch, and query t reads mask row t ([KV, m1 ≥ T], one for every
        // head); a mask broadcast otherwise (rows < T, per head, per batch) is declared, not read wrongly.
        case .attention:
            let mask = ins.count > 3 ? ins[3].shape : nil
            return ins[1].type == ins[2].type && ins[0].shape[0] <= 256 && ins[0].shape[3] == 1 && ins[1].shape[3] == 1
                && mask.map { $0[1] >= ins[0].shape[1] && $0[2] == 1 && $0[3] == 1 } ?? true
        case .rope: return ins[0].shape[0] % 2 == 0
        // A decode step's k roped straight into the cache: one kernel launch fewer a layer on an in-order queue.
        case .ropeSetRows: return ins[1].shape[0] % 2 == 0
        default: return true
        }
    }

    /// Elementwise kernels take 64 consecutive values per work-item (float8 steps): index divisions
    /// spread over more elements made binary 3–5× faster on PoCL than 8 per item.
    static func spans(_ n: Int) -> Int { (n + 63) / 64 }

    static func plan(_ node: PartitionNode, family: KernelFamily = .cpu, maxWorkGroup: Int = 256) throws -> OpenCLDispatch {
        let ins = node.inputs.map(\.desc), out = node.output.desc
        let n = out.shape.count
        func u(_ v: Int) -> OpenCLDispatch.Scalar { .u(UInt32(v)) }
        func dims(_ s: Shape) -> [OpenCLDispatch.Scalar] { s.dims.map(u) }
        let elementwise = ["elementwise"]
        switch node.op {
        case .scale(let s):
            return OpenCLDispatch(files: elementwise, kernel: "unary", scalars: [u(n), u(0), .f(s)], global: [spans(n)], local: [64])
        case .silu:
            return OpenCLDispatch(files: elementwise, kernel: "unary", scalars: [u(n), u(1), .f(0)], global: [spans(n)], local: [64])
        case .gelu:
            return OpenCLDispatch(files: elementwise, kernel: "unary", scalars: [u(n), u(2), .f(0)], global: [spans(n)], local: [64])
        case .convert(let to):
            switch (ins[0].type, to) {
            case (.f32, .f16):
                return OpenCLDispatch(files: elementwise, kernel: "convert_f32_f16", scalars: [u(n)], global: [spans(n)], local: [64])
            case (.f16, .f32):
                return OpenCLDispatch(files: elementwise, kernel: "convert_f16_f32", scalars: [u(n)], global: [spans(n)], local: [64])
            case (.f16, _):   // f16 → f16: the identity permutation
                return OpenCLDispatch(files: elementwise, options: "-DOUT_F16=1 -DF16=1", kernel: "permute",
                                      scalars: [u(n), u(1), u(1), u(1), u(1), u(n), u(n), u(n)], global: [spans(n)], local: [64])
            default:
                return OpenCLDispatch(files: elementwise, kernel: "unary", scalars: [u(n), u(3), .f(0)], global: [spans(n)], local: [64])
            }
        case .add, .mul, .swiglu, .geglu:
            let a = ins[0].shape
            return OpenCLDispatch(files: elementwise, kernel: "binary", scalars: dims(a) + dims(ins[1].shape) + [.u(GPUOpArguments.binaryCode(node.op))],
                                  global: [spans(a[0]) * a.rows], local: [64])
        case .setRows:
            let (k, rows, count) = (ins[0].shape[0], ins[0].shape[1], ins[1].shape[1])
            return OpenCLDispatch(files: elementwise, options: ins[0].type == .f16 ? "-DOUT_F16=1 -DF16=1" : "", kernel: "set_rows",
                                  scalars: [u(k), u(rows), u(count)], global: [spans(k) * count], local: [64])
        case .permute(let a0, let a1, let a2, let a3):
            let x = ins[0].shape, strides = GPUOpArguments.permuteStrides([a0, a1, a2, a3], output: out.shape)
            return OpenCLDispatch(files: elementwise, options: ins[0].type == .f16 ? "-DOUT_F16=1 -DF16=1" : "", kernel: "permute",
                                  scalars: dims(x) + strides.map(u), global: [spans(x[0]) * x.rows], local: [64])
        default:
            if family == .gpu, let plan = OpenCLGPUKernels.plan(node, maxWorkGroup: maxWorkGroup) { return plan }
            return try OpenCLComputeKernels.plan(node)
        }
    }
}
