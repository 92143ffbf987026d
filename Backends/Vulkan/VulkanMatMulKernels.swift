import EdgeHAL

/// The dequantizing kernels: mul_mat and get_rows, one SPIR-V variant per weight type.
enum VulkanMatMulKernels {
    /// Geometry measured on lavapipe (Kernels/vulkan/mul_mat.comp): a mat-vec takes 4 rows per invocation,
    /// lanes on consecutive rows, 32 invocations a group (64 once that still leaves ≥ 16 groups); a mat-mul
    /// takes 8 rows × 4 columns per invocation, 16 a group, so each weight chunk is dequantized once per
    /// 4 columns (more columns spill registers and ran slower).
    static func mulMat(_ ins: [TensorDesc], _ out: TensorDesc) throws -> VulkanDispatch {
        let (a, b) = (ins[0], ins[1])
        let (k, m, n) = (a.shape[0], a.shape[1], b.shape[1])
        let (wg, rows, cols) = n == 1 ? (m / 256 >= 16 ? 64 : 32, 4, 1) : (16, 8, min(4, n))
        let words = [k, m, n, b.shape[2], b.shape[3], b.shape[2] / a.shape[2], b.shape[3] / a.shape[3], a.shape[2], a.rowBytes]
        return VulkanDispatch(kernel: "mul_mat_\(a.type.rawValue)", constants: [UInt32(wg), UInt32(rows), UInt32(cols)],
                              words: words.map(UInt32.init),
                              groups: (UInt32((m + wg * rows - 1) / (wg * rows)), UInt32((n + cols - 1) / cols),
                                       UInt32(b.shape[2] * b.shape[3])))
    }

    static func getRows(_ ins: [TensorDesc], _ out: TensorDesc) throws -> VulkanDispatch {
        let table = ins[0]
        let (k, rows, n) = (table.shape[0], table.shape[1], ins[1].shape[0])
        let items = table.type.isQuantized ? k / 32 * n : k * n
        return VulkanDispatch(kernel: "get_rows_\(table.type.rawValue)", words: [UInt32(k), UInt32(rows), UInt32(n), UInt32(table.rowBytes)],
                              groups: (VulkanKernels.strided(items), 1, 1))
    }
}
