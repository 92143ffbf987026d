import CVulkan
import EdgeHAL
import Synchronization

/// An opened Vulkan device: buffers in its memory, one shared pipeline layout, and partitions
/// compiled into recorded command buffers.
public final class VulkanDevice: Device, @unchecked Sendable {
    public let backendName = "vulkan"
    public let info: DeviceInfo
    let context: VulkanContext
    let pipelines: VulkanPipelines
    /// Timestamp queries around every dispatch (`EDGEHAL_VULKAN_PROFILE=1`, or the initialiser), and
    /// host wall time beside them (submit → fence, buffer reads and writes): where the time a token
    /// takes goes when it is not in the kernels (e.g. reads through a non-cached mapping).
    public let profile: DeviceProfile?
    let profileShapes: Bool
    let matVec: VulkanMatMulKernels.MatVecTuning
    /// Whether the GPU family's products of quantized weights (mat-vec and prefill tile) take int8 activations and
    /// integer dot products: where the device enabled them and reports them accelerated, or as
    /// `EDGEHAL_VULKAN_MATVEC=i8=0|1|2` says.
    let int8Products: Bool
    /// The shape of kernels this device runs (``KernelFamily``).
    public let family: KernelFamily
    /// A program puts barriers only between dependent dispatches (``VulkanHazards``), so independent ones run
    /// together and must not write what the others read: arena bytes stay held 2 steps past their last read
    /// (a stage holds two or three independent dispatches, e.g. a layer's rope q, rope k and v's cache write).
    public var arenaHold: Int { 2 }

    init(index: Int, validation: Bool, profile: Bool, backend: VulkanBackend) throws {
        context = try VulkanContext(deviceIndex: index, validation: validation, forceStaging: backend.staging)
        pipelines = try VulkanPipelines(context: context)
        info = backend.info(context.facts)
        family = backend.family(context.facts.kind)
        self.profile = profile ? DeviceProfile(kernels: "vulkan profile on \(info.name) (timestamp queries)",
                                               host: "vulkan host time on \(info.name) (wall clock)") : nil
        profileShapes = backend.profileShapes
        matVec = backend.matVec
        int8Products = context.hasIntegerDot && (matVec.int8 ?? context.facts.features.contains("int-dot-fast"))
    }

    /// Messages the validation layer reported so far (nil when it is not enabled).
    public var validationMessages: [String]? { context.validation?.messages }

    /// The largest storage binding the kernels may use: the device's limit, or a test's lower one.
    var storageRange: Int { min(Int(context.limits.maxStorageBufferRange), matVec.storageRange ?? Int.max) }

    public func supports(_ signature: OpSignature) -> Bool {
        guard signature.isWellFormed, VulkanKernels.supports(signature, f16Storage: context.has16BitStorage, family: family, storageRange: storageRange) else { return false }
        // Inputs are read through texel views (at most maxTexelBufferElements 4-byte texels), outputs
        // through one storage range; indices are 32-bit in the kernels.
        let texelLimit = Int(context.limits.maxTexelBufferElements) * 4 - 16
        return signature.inputs.allSatisfy { $0.byteCount <= texelLimit }
            && signature.output.byteCount <= Int(context.limits.maxStorageBufferRange) - 16
    }

    public func makeBuffer(byteCount: Int) throws -> any DeviceBuffer {
        try VulkanBuffer(context: context, byteCount: byteCount, profiler: profile?.host)
    }

    public func compile(_ partition: Partition) throws -> any Program {
        try requireSupport(partition)
        return try VulkanProgram(device: self, partition: partition, profile: profile != nil)
    }

    func vulkanBuffer(_ slice: BufferSlice) throws -> VulkanBuffer {
        try slice.buffer(as: VulkanBuffer.self, of: backendName) { $0.context === context }
    }
}
