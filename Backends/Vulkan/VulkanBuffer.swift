import CVulkan
import EdgeHAL
import Synchronization

/// Device memory in the context's memory type, mapped once for the buffer's life: on lavapipe and
/// integrated GPUs that memory *is* the device's, so writes and reads are one memcpy, never two.
/// Kernels read it through texel-buffer views (made on demand, kept per base offset) and write it
/// as a storage buffer.
final class VulkanBuffer: DeviceBuffer, @unchecked Sendable {
    let context: VulkanContext
    let buffer: VkBuffer
    let memory: VkDeviceMemory
    let mapped: UnsafeMutableRawPointer
    let byteCount: Int
    /// Allocated bytes: byteCount rounded up to 16, so 16-byte texel views can cover the end.
    let allocatedBytes: Int
    private let lock = Mutex(())
    private var views: [ViewKey: VkBufferView] = [:]

    struct ViewKey: Hashable { var base: Int; var format: UInt32 }

    static let usage = VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT.rawValue | VK_BUFFER_USAGE_STORAGE_BUFFER_BIT.rawValue
        | VK_BUFFER_USAGE_TRANSFER_SRC_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_DST_BIT.rawValue

    init(context: VulkanContext, byteCount: Int) throws {
        self.context = context
        self.byteCount = byteCount
        allocatedBytes = max(16, (byteCount + 15) / 16 * 16)
        let vk = context.vk, device = context.device
        var info = VkBufferCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        info.size = VkDeviceSize(allocatedBytes)
        info.usage = Self.usage
        info.sharingMode = VK_SHARING_MODE_EXCLUSIVE
        var b: VkBuffer?
        try check("vkCreateBuffer (\(allocatedBytes) bytes)", vk.createBuffer(device, &info, nil, &b))
        guard let b else { throw VulkanError("vkCreateBuffer returned no buffer") }
        var requirements = VkMemoryRequirements()
        vk.getBufferMemoryRequirements(device, b, &requirements)
        guard requirements.memoryTypeBits & (1 << context.memoryType) != 0 else {
            vk.destroyBuffer(device, b, nil)
            throw VulkanError("the buffer cannot live in memory type \(context.memoryType)")
        }
        var allocate = VkMemoryAllocateInfo()
        allocate.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
        allocate.allocationSize = requirements.size
        allocate.memoryTypeIndex = context.memoryType
        var m: VkDeviceMemory?
        let r = vk.allocateMemory(device, &allocate, nil, &m)
        guard r == VK_SUCCESS, let m else {
            vk.destroyBuffer(device, b, nil)
            throw VulkanError("vkAllocateMemory (\(requirements.size) bytes)", r)
        }
        var pointer: UnsafeMutableRawPointer?
        var result = vk.bindBufferMemory(device, b, m, 0)
        if result == VK_SUCCESS { result = vk.mapMemory(device, m, 0, VkDeviceSize(VK_WHOLE_SIZE), 0, &pointer) }
        guard result == VK_SUCCESS, let pointer else {
            vk.destroyBuffer(device, b, nil)
            vk.freeMemory(device, m, nil)
            throw VulkanError("vkBindBufferMemory/vkMapMemory", result)
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
        if let src = bytes.baseAddress { (mapped + offset).copyMemory(from: src, byteCount: bytes.count) }
    }

    func read(into bytes: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        try checkRange(offset, bytes.count)
        if let dst = bytes.baseAddress { dst.copyMemory(from: mapped + offset, byteCount: bytes.count) }
    }

    private func checkRange(_ offset: Int, _ count: Int) throws {
        guard offset >= 0, count >= 0, offset <= byteCount - count else {
            throw EdgeHALError.outOfBounds("bytes \(offset)..<\(offset + count) outside a Vulkan buffer of \(byteCount) bytes")
        }
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
