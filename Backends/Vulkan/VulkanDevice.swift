import CVulkan
import EdgeHAL
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An opened Vulkan device: buffers in its memory, one shared pipeline layout, and partitions
/// compiled into recorded command buffers.
public final class VulkanDevice: Device, @unchecked Sendable {
    public let backendName = "vulkan"
    public let info: DeviceInfo
    let context: VulkanContext
    let pipelines: VulkanPipelines
    /// Record timestamp queries around every dispatch (`EDGEHAL_VULKAN_PROFILE=1`, or the initialiser);
    /// the per-kernel totals go to standard error when the device closes.
    let profile: Bool
    let profiler = VulkanProfiler()

    init(index: Int, validation: Bool, profile: Bool) throws {
        context = try VulkanContext(deviceIndex: index, validation: validation)
        pipelines = try VulkanPipelines(context: context)
        info = context.facts.info
        self.profile = profile
    }

    deinit {
        if profile {
            let text = profiler.table(device: info.name)
            _ = text.withCString { write(2, $0, strlen($0)) }
        }
    }

    /// Messages the validation layer reported so far (nil when it is not enabled).
    public var validationMessages: [String]? { context.validation?.messages }

    public func supports(_ signature: OpSignature) -> Bool {
        guard signature.isWellFormed, VulkanKernels.supports(signature, f16Storage: context.has16BitStorage) else { return false }
        // Inputs are read through texel views (at most maxTexelBufferElements 4-byte texels), outputs
        // through one storage range; indices are 32-bit in the kernels.
        let texelLimit = Int(context.limits.maxTexelBufferElements) * 4 - 16
        return signature.inputs.allSatisfy { $0.byteCount <= texelLimit }
            && signature.output.byteCount <= Int(context.limits.maxStorageBufferRange) - 16
    }

    public func makeBuffer(byteCount: Int) throws -> any DeviceBuffer {
        try VulkanBuffer(context: context, byteCount: byteCount)
    }

    public func compile(_ partition: Partition) throws -> any Program {
        for node in partition.nodes where !supports(node.signature) {
            throw EdgeHALError.unsupported("vulkan: \(node.signature)")
        }
        return try VulkanProgram(device: self, partition: partition, profile: profile)
    }

    func vulkanBuffer(_ slice: BufferSlice) throws -> VulkanBuffer {
        guard let b = slice.buffer as? VulkanBuffer, b.context === context else {
            throw EdgeHALError.backend("vulkan: a tensor is in a buffer of another device")
        }
        return b
    }
}

/// Time per kernel variant summed over every profiled run (timestamp queries around each dispatch).
final class VulkanProfiler: Sendable {
    private let totals = Mutex<[String: (runs: Int, ms: Double)]>([:])

    func add(kernels: [String], milliseconds: [Double]) {
        totals.withLock { t in
            for (k, ms) in zip(kernels, milliseconds) {
                let old = t[k] ?? (0, 0)
                t[k] = (old.runs + 1, old.ms + ms)
            }
        }
    }

    func table(device: String) -> String {
        let rows = totals.withLock { $0 }.sorted { $0.value.ms > $1.value.ms }
        let all = rows.reduce(0) { $0 + $1.value.ms }
        guard all > 0 else { return "" }
        var text = "vulkan profile on \(device) (timestamp queries): kernel, dispatches, total ms, share\n"
        for (k, v) in rows {
            text += "  \(k + String(repeating: " ", count: max(0, 16 - k.count))) \(v.runs)  \(Self.fixed(v.ms)) ms  \(Self.fixed(100 * v.ms / all)) %\n"
        }
        return text
    }

    static func fixed(_ v: Double) -> String {
        let scaled = (v * 10).rounded() / 10
        return "\(scaled)"
    }
}
