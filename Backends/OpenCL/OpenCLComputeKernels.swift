import EdgeHAL
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
            // One work-item a tile: 4 rows for a mat-vec (vload16 + uchar16 unpacks, float8 sums), 2 rows ×
            // 8 columns for a mat-mul, so each weight block is dequantized once for 8 columns.
            let (a, b) = (ins[0], ins[1])
            let (k, m, n) = (a.shape[0], a.shape[1], b.shape[1])
            let (rows, cols) = n == 1 ? (4, 1) : n <= 4 ? (2, 4) : (2, 8)
            let scalars = [k, m, n, b.shape[2], b.shape[3], b.shape[2] / a.shape[2], b.shape[3] / a.shape[3], a.shape[2], a.rowBytes].map(u)
            return OpenCLDispatch(files: ["dequant", "mul_mat"], options: "\(typeOption(a.type)) -DROWS=\(rows) -DCOLS=\(cols)",
                                  kernel: "mul_mat", scalars: scalars,
                                  global: [(m + rows - 1) / rows, (n + cols - 1) / cols, b.shape[2] * b.shape[3]], local: [16, 1, 1])
        case .getRows:
            let t = ins[0]
            let (k, rows, n) = (t.shape[0], t.shape[1], ins[1].shape[0])
            return OpenCLDispatch(files: ["dequant", "get_rows"], options: typeOption(t.type), kernel: "get_rows",
                                  scalars: [k, rows, n, t.rowBytes].map(u), global: [(k + 31) / 32, n])
        default:
            throw EdgeHALError.unsupported("opencl: \(node.op.name) is not wired yet")
        }
    }
}
