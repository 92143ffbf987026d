import CVulkan
import CVulkanKernels
import EdgeHAL
import EdgeHALGPU
import Synchronization

/// Descriptor-set and pipeline layouts per kernel family, and pipelines per (kernel, specialization
/// constants), made through a VkPipelineCache saved under EdgeHAL's cache folder. A family's layout
/// holds exactly the bindings its source declares (Kernels/vulkan/README.md: inputs as R32_UINT texel
/// buffers at 0–3 and as RGBA32UI at 4–7 (inputs 0–3), the output storage buffer at 8, inputs 0–5 as storage
/// buffers at 9–14 for the GPU family's kernels that load words directly) and 128 bytes of push
/// constants: lavapipe does work for every descriptor it binds, so no kernel carries unused ones.
final class VulkanPipelines: @unchecked Sendable {
    let context: VulkanContext
    private let cache: VkPipelineCache
    private struct Key: Hashable { var kernel: String; var constants: [UInt32] }
    /// A kernel family's SPIR-V module and layouts.
    struct Kernel {
        var module: VkShaderModule
        /// Bit i: binding i is declared.
        var bindings: UInt32
        var setLayout: VkDescriptorSetLayout
        var layout: VkPipelineLayout
        func has(_ binding: Int) -> Bool { bindings & (1 << UInt32(binding)) != 0 }
    }
    private let lock = Mutex(())
    private var kernels: [String: Kernel] = [:]
    private var layouts: [UInt32: (set: VkDescriptorSetLayout, pipeline: VkPipelineLayout)] = [:]
    private var pipelines: [Key: VkPipeline] = [:]
    /// Inputs a kernel can see (each with an offset word in the push contract's in_off), and how many of them
    /// also have texel views (bindings i and 4 + i).
    static let inputBindings = 6
    static let texelInputs = 4
    static let outputBinding = 8
    /// Input i as a storage buffer is binding storageInputBinding + i.
    static let storageInputBinding = 9
    /// Whether binding i is a storage buffer (the output, or an input read as words); else a texel buffer.
    static func isStorage(_ binding: Int) -> Bool { binding >= outputBinding }
    static let pushBytes = 128

    init(context: VulkanContext) throws {
        self.context = context
        let vk = context.vk, device = context.device
        // A saved cache the driver does not recognise (another driver or version) is ignored by it;
        // its file name carries the driver's cache UUID and version so the two never collide.
        let saved = Self.cacheFile(context)?.read() ?? []
        var cacheInfo = VkPipelineCacheCreateInfo()
        cacheInfo.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO
        var pipelineCache: VkPipelineCache?
        let result = saved.withUnsafeBytes { raw -> VkResult in
            cacheInfo.initialDataSize = raw.count
            cacheInfo.pInitialData = raw.baseAddress
            return vk.createPipelineCache(device, &cacheInfo, nil, &pipelineCache)
        }
        if result != VK_SUCCESS {   // a corrupt file: start empty rather than fail
            cacheInfo.initialDataSize = 0
            cacheInfo.pInitialData = nil
            try check("vkCreatePipelineCache", vk.createPipelineCache(device, &cacheInfo, nil, &pipelineCache))
        }
        guard let pipelineCache else { throw VulkanError("vkCreatePipelineCache returned no cache") }
        cache = pipelineCache
    }

    deinit {
        let vk = context.vk, device = context.device
        save()
        for p in pipelines.values { vk.destroyPipeline(device, p, nil) }
        for k in kernels.values { vk.destroyShaderModule(device, k.module, nil) }
        for l in layouts.values {
            vk.destroyPipelineLayout(device, l.pipeline, nil)
            vk.destroyDescriptorSetLayout(device, l.set, nil)
        }
        vk.destroyPipelineCache(device, cache, nil)
    }

    static func cacheFile(_ context: VulkanContext) -> KernelCacheFile? {
        KernelCacheFile(kind: "vulkan", identity: [context.pipelineCacheKey], magic: "EdgeHAL-VKPC1")
    }

    private func save() {
        guard let file = Self.cacheFile(context) else { return }
        var size = 0
        guard context.vk.getPipelineCacheData(context.device, cache, &size, nil) == VK_SUCCESS, size > 0 else { return }
        var data = [UInt8](repeating: 0, count: size)
        guard context.vk.getPipelineCacheData(context.device, cache, &size, &data) == VK_SUCCESS else { return }
        file.write(Array(data.prefix(size)))
    }

    /// The kernel family `name` (a name in Kernels/vulkan/variants.txt): module and layouts.
    func kernel(_ name: String) throws -> Kernel {
        try lock.withLock { _ in try kernelLocked(name) }
    }

    /// The compute pipeline of `kernel` with specialization constants 0, 1, … set to `constants`.
    func pipeline(_ name: String, constants: [UInt32] = []) throws -> (VkPipeline, Kernel) {
        let key = Key(kernel: name, constants: constants)
        return try lock.withLock { _ in
            let k = try kernelLocked(name)
            if let p = pipelines[key] { return (p, k) }
            let p = try makePipeline(k, constants)
            pipelines[key] = p
            return (p, k)
        }
    }

    private func kernelLocked(_ name: String) throws -> Kernel {
        if let k = kernels[name] { return k }
        var count: UInt = 0
        let table = edgehal_spirv_kernels(&count)
        guard let spirv = UnsafeBufferPointer(start: table, count: Int(count)).first(where: { String(cString: $0.name) == name }) else {
            throw VulkanError("no SPIR-V for kernel \(name): run scripts/gen-spirv.sh")
        }
        let (set, layout) = try layoutsLocked(spirv.bindings)
        var info = VkShaderModuleCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO
        info.codeSize = Int(spirv.count) * 4
        info.pCode = spirv.words
        var module: VkShaderModule?
        try check("vkCreateShaderModule (\(name))", context.vk.createShaderModule(context.device, &info, nil, &module))
        guard let module else { throw VulkanError("vkCreateShaderModule returned no module") }
        let k = Kernel(module: module, bindings: spirv.bindings, setLayout: set, layout: layout)
        kernels[name] = k
        return k
    }

    private func layoutsLocked(_ mask: UInt32) throws -> (VkDescriptorSetLayout, VkPipelineLayout) {
        if let l = layouts[mask] { return (l.set, l.pipeline) }
        let vk = context.vk, device = context.device
        var bindings = (0..<32).filter { mask & (1 << UInt32($0)) != 0 }.map { i -> VkDescriptorSetLayoutBinding in
            var b = VkDescriptorSetLayoutBinding()
            b.binding = UInt32(i)
            b.descriptorType = Self.isStorage(i) ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
            b.descriptorCount = 1
            b.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT.rawValue
            return b
        }
        var setInfo = VkDescriptorSetLayoutCreateInfo()
        setInfo.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO
        setInfo.bindingCount = UInt32(bindings.count)
        var set: VkDescriptorSetLayout?
        try bindings.withUnsafeMutableBufferPointer { p in
            setInfo.pBindings = UnsafePointer(p.baseAddress)
            try check("vkCreateDescriptorSetLayout", vk.createDescriptorSetLayout(device, &setInfo, nil, &set))
        }
        guard let set else { throw VulkanError("vkCreateDescriptorSetLayout returned no layout") }

        var range = VkPushConstantRange(stageFlags: VK_SHADER_STAGE_COMPUTE_BIT.rawValue, offset: 0, size: UInt32(Self.pushBytes))
        var setLayouts: [VkDescriptorSetLayout?] = [set]
        var layoutInfo = VkPipelineLayoutCreateInfo()
        layoutInfo.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO
        layoutInfo.setLayoutCount = 1
        layoutInfo.pushConstantRangeCount = 1
        var pipelineLayout: VkPipelineLayout?
        try setLayouts.withUnsafeMutableBufferPointer { s in
            try withUnsafePointer(to: &range) { r in
                layoutInfo.pSetLayouts = UnsafePointer(s.baseAddress)
                layoutInfo.pPushConstantRanges = r
                try check("vkCreatePipelineLayout", vk.createPipelineLayout(device, &layoutInfo, nil, &pipelineLayout))
            }
        }
        guard let pipelineLayout else { throw VulkanError("vkCreatePipelineLayout returned no layout") }
        layouts[mask] = (set, pipelineLayout)
        return (set, pipelineLayout)
    }

    private func makePipeline(_ kernel: Kernel, _ constants: [UInt32]) throws -> VkPipeline {
        var entries = constants.indices.map { i in
            VkSpecializationMapEntry(constantID: UInt32(i), offset: UInt32(4 * i), size: 4)
        }
        var values = constants
        var pipeline: VkPipeline?
        let result = "main".withCString { entry in
            entries.withUnsafeMutableBufferPointer { e in
                values.withUnsafeMutableBytes { v in
                    var specialization = VkSpecializationInfo(mapEntryCount: UInt32(e.count), pMapEntries: UnsafePointer(e.baseAddress),
                                                              dataSize: v.count, pData: UnsafeRawPointer(v.baseAddress))
                    return withUnsafePointer(to: &specialization) { sp in
                        var stage = VkPipelineShaderStageCreateInfo()
                        stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
                        stage.stage = VK_SHADER_STAGE_COMPUTE_BIT
                        stage.module = kernel.module
                        stage.pName = entry
                        stage.pSpecializationInfo = constants.isEmpty ? nil : sp
                        var info = VkComputePipelineCreateInfo()
                        info.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO
                        info.stage = stage
                        info.layout = kernel.layout
                        info.basePipelineIndex = -1
                        return context.vk.createComputePipelines(context.device, cache, 1, &info, nil, &pipeline)
                    }
                }
            }
        }
        try check("vkCreateComputePipelines", result)
        guard let pipeline else { throw VulkanError("vkCreateComputePipelines returned no pipeline") }
        return pipeline
    }
}
