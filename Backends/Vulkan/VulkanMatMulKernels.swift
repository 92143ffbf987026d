import EdgeHAL

/// The dequantizing kernels: mul_mat and get_rows, one SPIR-V variant per weight type.
enum VulkanMatMulKernels {
    static func mulMat(_ ins: [TensorDesc], _ out: TensorDesc) throws -> VulkanDispatch { throw EdgeHALError.unsupported("wip") }

    static func getRows(_ ins: [TensorDesc], _ out: TensorDesc) throws -> VulkanDispatch {
        let table = ins[0]
        let (k, rows, n) = (table.shape[0], table.shape[1], ins[1].shape[0])
        let items = table.type.isQuantized ? k / 32 * n : k * n
        return VulkanDispatch(kernel: "get_rows_\(table.type.rawValue)", words: [UInt32(k), UInt32(rows), UInt32(n), UInt32(table.rowBytes)],
                              groups: (VulkanKernels.strided(items), 1, 1))
    }
}
