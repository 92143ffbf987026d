import EdgeHAL
import EdgeHALGPU
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The reducing kernels: mul_mat and get_rows (one program per weight type, dequant.cl first), norms,
/// rope, softmax and attention.
enum OpenCLComputeKernels {
    static func typeOption(_ t: DType) -> String { "-DTYPE_\(t.rawValue.uppercased())=1" }

    static func plan(_ node: PartitionNode) throws -> OpenCLDispatch {
        let ins = node.inputs.map(\.desc)
        func u(_ v: Int) -> OpenCLDispatch.Scalar { .u(UInt32(v)) }
        switch node.op {
        case .mulMat:
            // One work-item a tile: for a mat-vec 4 rows 16 apart (8 for Q8_0's wide output matrix), so PoCL's
            // serial walk over a group's items streams each row and the prefetcher follows; 2 rows × 8 columns
            // for a mat-mul, so each weight block is dequantized once for 8 columns.
            let (a, b) = (ins[0], ins[1])
            let (k, m, n) = (a.shape[0], a.shape[1], b.shape[1])
            let (rows, cols) = n == 1 ? (a.type == .q8_0 ? 8 : 4, 1) : n <= 4 ? (2, 4) : (2, 8)
            let scalars = [k, m, n, b.shape[2], b.shape[3], b.shape[2] / a.shape[2], b.shape[3] / a.shape[3], a.shape[2], a.rowBytes].map(u)
            return OpenCLDispatch(files: ["dequant", "mul_mat"], options: "\(typeOption(a.type)) -DROWS=\(rows) -DCOLS=\(cols)",
                                  kernel: "mul_mat", scalars: scalars,
                                  global: [(m + rows - 1) / rows, (n + cols - 1) / cols, b.shape[2] * b.shape[3]], local: [16, 1, 1])
        case .getRows:
            let t = ins[0]
            let (k, rows, n) = (t.shape[0], t.shape[1], ins[1].shape[0])
            return OpenCLDispatch(files: ["dequant", "get_rows"], options: typeOption(t.type), kernel: "get_rows",
                                  scalars: [k, rows, n, t.rowBytes].map(u), global: [(k + 31) / 32, n])
        case .rmsNorm(let eps), .rmsNormMul(let eps):
            // One work-item a row, four float8 partial sums; local size 1 spreads few rows over every thread.
            let rows = ins[0].shape.rows
            return OpenCLDispatch(files: ["rope_angle", "norm_rope"], kernel: "rms_norm", scalars: [u(ins[0].shape[0]), u(rows), u(ins.count > 1 ? 1 : 0), .f(eps)],
                                  global: [rows], local: [1], inputs: 2)
        case .rope(let p), .ropeSetRows(let p):
            // rope_set_rows (dst, x, positions, ids): the rope kernel built with -DSET_ROWS, dst's rows last.
            let setRows = node.op != .rope(p), x = ins[setRows ? 1 : 0].shape
            let log2Base = GPUOpArguments.ropeLog2BaseOverDims(p)
            let scalars: [OpenCLDispatch.Scalar] = [u(x[0]), u(x[1]), u(x[2]), u(p.nDims), u(p.mode == .neox ? 1 : 0), .f(p.freqScale), .f(log2Base)]
            return OpenCLDispatch(files: ["rope_angle", "norm_rope"], options: setRows ? "-DSET_ROWS=1" + (ins[0].type == .f16 ? " -DOUT_F16=1" : "") : "",
                                  kernel: setRows ? "rope_set_rows" : "rope", scalars: scalars + (setRows ? [u(ins[0].shape[1])] : []),
                                  global: [x[1] * x[2]], local: [1])
        case .softmax(let scale):
            let x = ins[0].shape
            return OpenCLDispatch(files: ["softmax"], kernel: "softmax",
                                  scalars: [u(x[0]), u(x[1]), u(x[2]), u(x[3]), u(ins.count > 1 ? 1 : 0), .f(scale)],
                                  global: [x.rows], local: [1])
        case .attention(let scale):
            // One work-item a query row (online softmax, keys eight at a time, masked chunks skipped).
            let (q, k) = (ins[0].shape, ins[1].shape)
            return OpenCLDispatch(files: ["attention"], options: ins[1].type == .f16 ? "-DKV_F16=1" : "", kernel: "attention",
                                  scalars: [u(q[0]), u(q[1]), u(q[2]), u(k[1]), u(k[2]), u(ins.count > 3 ? 1 : 0), .f(scale)],
                                  global: [q[1] * q[2]], local: [1])
        default:
            throw EdgeHALError.unsupported("opencl: no kernel for \(node.op.name)")
        }
    }
}
