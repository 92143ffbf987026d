import EdgeHAL

enum VulkanMatMulKernels {
    static func mulMat(_ ins: [TensorDesc], _ out: TensorDesc) throws -> VulkanDispatch { throw EdgeHALError.unsupported("wip") }
    static func getRows(_ ins: [TensorDesc], _ out: TensorDesc) throws -> VulkanDispatch { throw EdgeHALError.unsupported("wip") }
}
enum VulkanAttentionKernels {
    static func softmax(_ ins: [TensorDesc], scale: Float) throws -> VulkanDispatch { throw EdgeHALError.unsupported("wip") }
    static func attention(_ ins: [TensorDesc], scale: Float) throws -> VulkanDispatch { throw EdgeHALError.unsupported("wip") }
}
