import CVulkan
import EdgeHAL

/// Where a device's buffers live and how the host reaches them, chosen from the memory types the
/// driver lists:
/// - buffers go in device-local memory, mapped when that memory is also host-visible on a heap of the
///   device's size (lavapipe, integrated GPUs, resizable BAR — the H200 maps all 141 GiB); a small
///   host-visible window (the 256 MiB BAR of a discrete GPU without resizable BAR) is not used, the
///   buffers stay unmapped and every write and read goes through ``VulkanStaging``;
/// - reads go through the staging buffer too when the mapping is not host-cached: the CPU reading a
///   write-combined BAR mapping gets 11–30 MB/s (measured on the H200: 17 ms to read 128 256 logits, a
///   GPU copy to cached memory and a read from there takes well under 1 ms);
/// - `EDGEHAL_VULKAN_STAGING=1` sends every write and read through staging on any device, so CI runs
///   that path on lavapipe, whose one memory type is mapped and cached.
struct VulkanMemory {
    /// How the host reaches buffers: the four ways, fastest first.
    enum Access: String {
        /// Writes and reads are memcpys through the mapping.
        case mapped
        /// Writes through the mapping; reads through staging (the mapping is not host-cached).
        case mappedStagedReads = "mapped-staged-reads"
        /// Both through staging, though the memory is mapped (forced, for tests).
        case mappedStaged = "mapped-staged"
        /// Both through staging: device memory is not host-visible.
        case staged
    }

    /// The memory type of every buffer.
    let bufferType: UInt32
    /// The memory type of the staging buffer: host-visible and coherent, host-cached where there is one.
    let stagingType: UInt32
    let access: Access

    /// Whether buffers are mapped (host-visible and coherent).
    var mapped: Bool { access != .staged }
    /// Whether writes and reads go through the staging buffer.
    var stagedWrites: Bool { access == .mappedStaged || access == .staged }
    var stagedReads: Bool { access != .mapped }

    static let environmentVariable = "EDGEHAL_VULKAN_STAGING"
    static var forcedByEnvironment: Bool { EdgeHALEnvironment.value(environmentVariable) == "1" }

    init(_ memory: VkPhysicalDeviceMemoryProperties, forceStaging: Bool) throws {
        let types = withUnsafeBytes(of: memory.memoryTypes) { Array($0.bindMemory(to: VkMemoryType.self).prefix(Int(memory.memoryTypeCount))) }
        let heaps = withUnsafeBytes(of: memory.memoryHeaps) { Array($0.bindMemory(to: VkMemoryHeap.self).prefix(Int(memory.memoryHeapCount))) }
        let visible = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT.rawValue
        let local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT.rawValue, cached = VK_MEMORY_PROPERTY_HOST_CACHED_BIT.rawValue
        func has(_ i: Int, _ flags: UInt32) -> Bool { types[i].propertyFlags & flags == flags }
        func heapSize(_ i: Int) -> UInt64 { heaps[Int(types[i].heapIndex)].size }
        let localTypes = types.indices.filter { has($0, local) }
        let largest = localTypes.map(heapSize).max() ?? 0
        // Mapped device-local memory counts only where its heap is (about) the whole device.
        let mappedLocal = localTypes.first { has($0, visible) && heapSize($0) >= largest / 2 }
        let staging = types.indices.first { has($0, visible | cached) } ?? types.indices.first { has($0, visible) }
        guard let staging else { throw VulkanError("the device has no host-visible, coherent memory type") }
        stagingType = UInt32(staging)
        if let t = mappedLocal ?? (localTypes.isEmpty ? staging : nil) {
            bufferType = UInt32(t)
            access = forceStaging ? .mappedStaged : has(t, cached) ? .mapped : .mappedStagedReads
        } else {
            bufferType = UInt32(localTypes.max { heapSize($0) < heapSize($1) }!)
            access = .staged
        }
    }

    /// For `hwprobe` and reports: how buffers are reached.
    var description: String { access.rawValue }
}
