import EdgeHAL
import EdgeHALGPU

/// The GPU family's kernels (``KernelFamily``): a work-group where the PoCL-shaped kernels give one
/// work-item a whole row — mat-vec (N ≤ 8, Kernels/opencl/mul_mat_vec.cl), attention (attention_wg.cl; prefill's
/// query tiles, attention_tile.cl),
/// rms_norm and softmax (rows_wg.cl). Every other op, and the prefill mat-mul (fast on GPUs already:
/// 3.7× llama.cpp's Vulkan prefill on an H200), runs the first family's kernels. Within OpenCL C 1.2: local
/// memory and barriers, no sub-groups, so NVIDIA, Intel, AMD, Adreno and Mali all build it.
enum OpenCLGPUKernels {
    /// The plan for `node`, nil where the first family's kernel serves.
    static func plan(_ node: PartitionNode, maxWorkGroup: Int) -> OpenCLDispatch? {
        let ins = node.inputs.map(\.desc)
        func u(_ v: Int) -> OpenCLDispatch.Scalar { .u(UInt32(v)) }
        /// The largest power of two ≤ min(preferred, the device's work-group limit).
        func group(_ preferred: Int) -> Int { KernelFamily.powerOfTwo(atMost: min(preferred, maxWorkGroup)) }
        switch node.op {
        case .mulMat, .mulMatAdd, .rmsNormMulMat, .mulMatGLU, .mulMatRows:
            let (a, b) = (ins[0], ins[1])
            let (k, m, n) = (a.shape[0], a.shape[1], b.shape[1])
            guard n <= 8 else { return nil }
            // LANES as Vulkan's mul_mat_vec (at least two 8-value parts a lane, 8 to 32), 128 items a group.
            let wg = group(128), lanes = min(KernelFamily.matVecLanes(k: k), wg)
            let rowGroups = (m + wg / lanes - 1) / (wg / lanes)
            // residual: 1 for mul_mat_add, whose r (input 2, bound as input 0 for a plain mul_mat) is added; for
            // rms_norm_mul_mat input 2 is the norm weight (-DNORM=1) and eps the last scalar. mul_mat_glu (-DGLU=1)
            // takes its up matrix as input 2, or 3 after the norm's w, and its activation in the residual scalar.
            let fused = GPUOpArguments.matVec(node.op)
            let scalars = [k, m, n, b.shape[2], b.shape[3], b.shape[2] / a.shape[2], b.shape[3] / a.shape[3], a.shape[2], a.rowBytes].map(u)
                + [.u(fused.residual), .f(fused.normEps ?? 0)]
            var plan = OpenCLDispatch(files: ["parts", "mul_mat_vec"],
                                      options: "\(OpenCLComputeKernels.typeOption(a.type)) -DCOLS=\(max(1, n)) -DLANES=\(lanes) -DWG=\(wg)"
                                          + (fused.normEps != nil ? " -DNORM=1" : "") + (fused.glu ? " -DGLU=1" : ""),
                                      kernel: "mul_mat_vec", scalars: scalars,
                                      global: [rowGroups * wg, b.shape[2] * b.shape[3]], local: [wg, 1], inputs: fused.glu ? 4 : 3)
            if case .mulMatRows(let p) = node.op {
                // -DHEADS=1: a rope pair a lane group (half the row groups); a, x, w, positions, ids at fixed places.
                let absent = node.inputs.count, f16 = p.dstInput.map { ins[$0].type == .f16 } ?? false
                plan.files.insert("rope_angle", at: 1)
                plan.options += " -DHEADS=1" + (f16 ? " -DOUT_F16=1" : "")
                // GPUOpArguments.heads' words: six integers, then two floats as their bits.
                let heads = GPUOpArguments.heads(p, ins)
                plan.scalars += heads.prefix(6).map { .u($0) } + heads.suffix(2).map { .f(Float(bitPattern: $0)) }
                plan.global[0] = (m / 2 + wg / lanes - 1) / (wg / lanes) * wg
                plan.inputOrder = [0, 1, p.normInput ?? absent, p.positionsInput ?? absent, p.idsInput ?? absent]
            }
            return plan
        case .attention(let scale):
            let (q, k) = (ins[0].shape, ins[1].shape)
            let wg = group(128)
            guard wg >= 64 else { return nil }   // ceil(D/4) ≤ 64 lanes a stream
            let kvOption = ins[1].type == .f16 ? " -DKV_F16=1" : "", d4 = "-DD4=\((q[0] + 3) / 4)"
            // Prefill: BR tokens of a head a work-group, each key tile read once for all of them (within the 32 KiB
            // of local memory OpenCL 1.2 promises).
            if wg == 128, let tile = KernelFamily.attentionQueryTile(d: q[0], tokens: q[1], heads: q[2], keys: k[1], sharedMemory: 32 << 10) {
                return OpenCLDispatch(files: ["attention_kv", "attention_tile"],
                                      options: "-DWG=128 \(d4) -DBR=\(tile.rows) -DBC=\(tile.keys)" + kvOption,
                                      kernel: "attention_tile",
                                      scalars: [u(q[0]), u(q[1]), u(q[2]), u(k[1]), u(k[2]), u(ins.count > 3 ? 1 : 0), .f(scale)],
                                      global: [(q[1] + tile.rows - 1) / tile.rows * 128, q[2]], local: [128, 1])
            }
            // Few rows over many keys: the keys split over work-groups too, joined by attention_merge.
            let rows = q[1] * q[2]
            let (splits, chunk) = KernelFamily.attentionSplit(rows: rows, keys: k[1], tile: wg)
            let files = ["wg_reduce", "attention_kv", "attention_wg"], options = "-DWG=\(wg) \(d4)" + kvOption
            var plan = OpenCLDispatch(files: files, options: options, kernel: "attention_wg",
                                      scalars: [u(q[0]), u(q[1]), u(q[2]), u(k[1]), u(k[2]), u(ins.count > 3 ? 1 : 0), .f(scale), u(chunk), u(splits)],
                                      global: [rows * wg, splits], local: [wg, 1])
            if splits > 1 {
                plan.scratchBytes = 4 * rows * splits * (q[0] + 2)
                plan.merge = [OpenCLDispatch(files: files, options: options, kernel: "attention_merge",
                                             scalars: [u(q[0]), u(rows), u(splits)], global: [rows * 64], local: [64], inputs: 1)]
            }
            return plan
        case .rmsNorm(let eps), .rmsNormMul(let eps):
            let rows = ins[0].shape.rows, wg = group(256)
            return OpenCLDispatch(files: ["wg_reduce", "rows_wg"], options: "-DWG=\(wg)", kernel: "rms_norm_wg",
                                  scalars: [u(ins[0].shape[0]), u(rows), u(ins.count > 1 ? 1 : 0), .f(eps)],
                                  global: [rows * wg], local: [wg], inputs: 2)
        case .softmax(let scale):
            let x = ins[0].shape, wg = group(128)
            return OpenCLDispatch(files: ["wg_reduce", "rows_wg"], options: "-DWG=\(wg)", kernel: "softmax_wg",
                                  scalars: [u(x[0]), u(x[1]), u(x[2]), u(x[3]), u(ins.count > 1 ? 1 : 0), .f(scale)],
                                  global: [x.rows * wg], local: [wg])
        default:
            return nil
        }
    }
}
