import EdgeHAL

enum VulkanAttentionKernels {
    static func softmax(_ ins: [TensorDesc], scale: Float) throws -> VulkanDispatch { throw EdgeHALError.unsupported("wip") }
    static func attention(_ ins: [TensorDesc], scale: Float) throws -> VulkanDispatch { throw EdgeHALError.unsupported("wip") }
}
