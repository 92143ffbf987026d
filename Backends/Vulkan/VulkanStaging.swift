import CVulkan
import EdgeHAL
import Synchronization

/// Host ↔ device copies through one host-visible buffer and a GPU copy (``VulkanMemory`` says when):
/// what a discrete GPU needs for weights in memory the host cannot map, and for reading results
/// without the CPU touching a write-combined mapping. One per device, made on first use, reused;
/// transfers larger than its size go in pieces, so a model's upload never doubles its memory. The
/// context owns it and passes itself to each call (holding the context would make a reference cycle).
final class VulkanStaging: @unchecked Sendable {
    private let memoryType: UInt32
    /// The largest staging buffer (64 MiB unless a test asks for less): a transfer beyond it goes in pieces.
    let maxBytes: Int

    private struct Resources {
        var pool: VkCommandPool
        var commands: VkCommandBuffer
        var fence: VkFence
        var buffer: VkBuffer? = nil
        var memory: VkDeviceMemory? = nil
        var mapped: UnsafeMutableRawPointer? = nil
        var bytes = 0
    }
    /// Made on first use; used and changed only under `lock` (Vulkan handles are not Sendable).
    private var resources: Resources?
    private let lock = Mutex(())

    init(memoryType: UInt32, maxBytes: Int = 64 << 20) {
        self.memoryType = memoryType
        self.maxBytes = maxBytes
    }

    /// Frees everything; the context calls this before it destroys the device.
    func destroy(_ vk: VulkanFunctions, _ device: VkDevice) {
        lock.withLock { _ in
            guard let r = resources else { return }
            if let b = r.buffer { vk.destroyBuffer(device, b, nil) }
            if let m = r.memory { vk.freeMemory(device, m, nil) }
            vk.destroyFence(device, r.fence, nil)
            vk.destroyCommandPool(device, r.pool, nil)
            resources = nil
        }
    }

    /// Copies `bytes.count` bytes of `buffer` from `offset` into `bytes`.
    func read(_ buffer: VkBuffer, at offset: Int, into bytes: UnsafeMutableRawBufferPointer, in context: VulkanContext) throws {
        try pieces(bytes.count, context) { done, count, r in
            try copy(r, context, from: buffer, at: offset + done, to: r.buffer!, at: 0, count: count, toHost: true)
            if let dst = bytes.baseAddress { (dst + done).copyMemory(from: r.mapped!, byteCount: count) }
        }
    }

    /// Copies `bytes` into `buffer` at `offset`.
    func write(_ bytes: UnsafeRawBufferPointer, to buffer: VkBuffer, at offset: Int, in context: VulkanContext) throws {
        try pieces(bytes.count, context) { done, count, r in
            if let src = bytes.baseAddress { r.mapped!.copyMemory(from: src + done, byteCount: count) }
            try copy(r, context, from: r.buffer!, at: 0, to: buffer, at: offset + done, count: count, toHost: false)
        }
    }

    /// Calls `body(done, count, resources)` for each piece of a `total`-byte transfer, under the lock.
    private func pieces(_ total: Int, _ context: VulkanContext, _ body: (Int, Int, Resources) throws -> Void) throws {
        guard total > 0 else { return }
        try lock.withLock { _ in
            var r = try resources ?? makeResources(context)
            resources = r
            try grow(&r, to: min(total, maxBytes), context)
            resources = r
            var done = 0
            while done < total {
                let count = min(total - done, r.bytes)
                try body(done, count, r)
                done += count
            }
        }
    }

    /// Records and runs one copy, waiting for it. Barriers make earlier submissions' shader and host
    /// writes visible to the copy, and the copy visible to the host (a read) or to later kernels (a write).
    private func copy(_ r: Resources, _ context: VulkanContext, from src: VkBuffer, at srcOffset: Int, to dst: VkBuffer, at dstOffset: Int,
                      count: Int, toHost: Bool) throws {
        let vk = context.vk
        var begin = VkCommandBufferBeginInfo()
        begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT.rawValue
        try check("vkBeginCommandBuffer", vk.beginCommandBuffer(r.commands, &begin))
        var before = VkMemoryBarrier()
        before.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        before.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue | VK_ACCESS_HOST_WRITE_BIT.rawValue
        before.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
        let earlier = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue | VK_PIPELINE_STAGE_HOST_BIT.rawValue
        vk.cmdPipelineBarrier(r.commands, earlier, VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue, 0, 1, &before, 0, nil, 0, nil)
        var region = VkBufferCopy(srcOffset: VkDeviceSize(srcOffset), dstOffset: VkDeviceSize(dstOffset), size: VkDeviceSize(count))
        vk.cmdCopyBuffer(r.commands, src, dst, 1, &region)
        var after = VkMemoryBarrier()
        after.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        after.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
        after.dstAccessMask = toHost ? VK_ACCESS_HOST_READ_BIT.rawValue : VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue
        let later = toHost ? VK_PIPELINE_STAGE_HOST_BIT.rawValue : VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue
        vk.cmdPipelineBarrier(r.commands, VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue, later, 0, 1, &after, 0, nil, 0, nil)
        try check("vkEndCommandBuffer", vk.endCommandBuffer(r.commands))
        try context.submitAndWait(r.commands, fence: r.fence)
    }

    private func makeResources(_ context: VulkanContext) throws -> Resources {
        let (pool, commands, fence) = try context.makeSubmission(
            poolFlags: VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT.rawValue | VK_COMMAND_POOL_CREATE_TRANSIENT_BIT.rawValue)
        return Resources(pool: pool, commands: commands, fence: fence)
    }

    /// Makes the staging buffer at least `bytes` long (a power of two from 1 MiB up, at most maxBytes).
    private func grow(_ r: inout Resources, to bytes: Int, _ context: VulkanContext) throws {
        guard r.bytes < bytes else { return }
        let vk = context.vk, device = context.device
        if let b = r.buffer { vk.destroyBuffer(device, b, nil) }
        if let m = r.memory { vk.freeMemory(device, m, nil) }
        r.buffer = nil; r.memory = nil; r.mapped = nil; r.bytes = 0
        var size = min(1 << 20, maxBytes)
        while size < bytes { size *= 2 }
        size = min(size, maxBytes)
        let (buffer, memory) = try context.allocateBuffer(bytes: size, memoryType: memoryType,
                                                          usage: VK_BUFFER_USAGE_TRANSFER_SRC_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_DST_BIT.rawValue)
        var pointer: UnsafeMutableRawPointer?
        let result = vk.mapMemory(device, memory, 0, VkDeviceSize(VK_WHOLE_SIZE), 0, &pointer)
        guard result == VK_SUCCESS, let pointer else {
            vk.destroyBuffer(device, buffer, nil)
            vk.freeMemory(device, memory, nil)
            throw VulkanError("vkMapMemory (staging)", result)
        }
        r.buffer = buffer; r.memory = memory; r.mapped = pointer; r.bytes = size
    }
}
