import CVulkan
import EdgeHAL
import Synchronization

/// Device memory in the context's buffer memory type (``VulkanMemory``), mapped once for the buffer's
/// life where the host can map it: on lavapipe and integrated GPUs that memory *is* the device's, so
/// writes and reads are one memcpy, never two. Elsewhere writes and reads go through the device's
/// staging buffer. Kernels read it through texel-buffer views (made on demand, kept per base offset)
/// and write it as a storage buffer.
final class VulkanBuffer: DeviceBuffer, @unchecked Sendable {
    let context: VulkanContext
    let buffer: VkBuffer
    let memory: VkDeviceMemory
    /// The host mapping (nil where the memory is not host-visible).
    let mapped: UnsafeMutableRawPointer?
    let byteCount: Int
    /// Allocated bytes: byteCount rounded up to 16, so 16-byte texel views can cover the end.
    let allocatedBytes: Int
    /// Where reads and writes add their wall time when the device profiles (nil otherwise).
    let profiler: KernelProfiler?
    private let lock = Mutex(())
    private var views: [ViewKey: VkBufferView] = [:]

    struct ViewKey: Hashable { var base: Int; var format: UInt32 }

    static let usage = VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT.rawValue | VK_BUFFER_USAGE_STORAGE_BUFFER_BIT.rawValue
        | VK_BUFFER_USAGE_TRANSFER_SRC_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_DST_BIT.rawValue

    init(context: VulkanContext, byteCount: Int, profiler: KernelProfiler? = nil) throws {
        self.context = context
        self.profiler = profiler
        self.byteCount = byteCount
        allocatedBytes = max(16, (byteCount + 15) / 16 * 16)
        let (b, m) = try context.allocateBuffer(bytes: allocatedBytes, memoryType: context.memory.bufferType, usage: Self.usage)
        var pointer: UnsafeMutableRawPointer?
        if context.memory.mapped {
            let result = context.vk.mapMemory(context.device, m, 0, VkDeviceSize(VK_WHOLE_SIZE), 0, &pointer)
            guard result == VK_SUCCESS, pointer != nil else {
                context.vk.destroyBuffer(context.device, b, nil)
                context.vk.freeMemory(context.device, m, nil)
                throw VulkanError("vkMapMemory", result)
            }
        }
        buffer = b
        memory = m
        mapped = pointer
    }

    deinit {
        let vk = context.vk, device = context.device
        for v in views.values { vk.destroyBufferView(device, v, nil) }
        vk.destroyBuffer(device, buffer, nil)
        vk.freeMemory(device, memory, nil)   // unmaps
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        try checkRange(offset, bytes.count)
        let start = profiler == nil ? 0 : MonotonicClock.seconds()
        if let mapped, !context.memory.stagedWrites {
            if let src = bytes.baseAddress { (mapped + offset).copyMemory(from: src, byteCount: bytes.count) }
        } else {
            try context.staging.write(bytes, to: buffer, at: offset, in: context)
        }
        profiler?.add("host write", ms: (MonotonicClock.seconds() - start) * 1e3)
    }

    func read(into bytes: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        try checkRange(offset, bytes.count)
        let start = profiler == nil ? 0 : MonotonicClock.seconds()
        if let mapped, !context.memory.stagedReads {
            if let dst = bytes.baseAddress { dst.copyMemory(from: mapped + offset, byteCount: bytes.count) }
        } else {
            try context.staging.read(buffer, at: offset, into: bytes, in: context)
        }
        profiler?.add("host read", ms: (MonotonicClock.seconds() - start) * 1e3)
    }

    /// A uniform texel view from `base` (16-aligned) to the end of the buffer, at most the device's
    /// texel limit; made once per (base, format).
    func view(base: Int, format: VkFormat, texelBytes: Int) throws -> VkBufferView {
        let key = ViewKey(base: base, format: format.rawValue)
        return try lock.withLock { _ in
            if let v = views[key] { return v }
            let limit = Int(context.limits.maxTexelBufferElements) * texelBytes
            var info = VkBufferViewCreateInfo()
            info.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO
            info.buffer = buffer
            info.format = format
            info.offset = VkDeviceSize(base)
            info.range = VkDeviceSize(min(allocatedBytes - base, limit / texelBytes * texelBytes))
            var v: VkBufferView?
            try check("vkCreateBufferView", context.vk.createBufferView(context.device, &info, nil, &v))
            guard let v else { throw VulkanError("vkCreateBufferView returned no view") }
            views[key] = v
            return v
        }
    }
}
