import CVulkan
import CVulkanKernels
import EdgeHAL
import Synchronization

/// Every kernel shares one descriptor-set layout and one pipeline layout (the binding contract of
/// Kernels/vulkan/README.md): inputs as R32_UINT texel buffers at bindings 0–3 and as RGBA32UI at
/// 4–7, the output storage buffer at 8, 128 bytes of push constants. Pipelines are made once per
/// (kernel, specialization constants) through a VkPipelineCache saved under EdgeHAL's cache folder.
final class VulkanPipelines: @unchecked Sendable {
    let context: VulkanContext
    let setLayout: VkDescriptorSetLayout
    let layout: VkPipelineLayout
    private let cache: VkPipelineCache
    private struct Key: Hashable { var kernel: String; var constants: [UInt32] }
    private let lock = Mutex(())
    private var modules: [String: VkShaderModule] = [:]
    private var pipelines: [Key: VkPipeline] = [:]
    static let inputBindings = 4
    static let outputBinding: UInt32 = 8
    static let pushBytes = 128

    init(context: VulkanContext) throws {
        self.context = context
        let vk = context.vk, device = context.device
        var bindings = (0..<9).map { i -> VkDescriptorSetLayoutBinding in
            var b = VkDescriptorSetLayoutBinding()
            b.binding = UInt32(i)
            b.descriptorType = i == 8 ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
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
        setLayout = set

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
        layout = pipelineLayout

        // A saved cache the driver does not recognise (another driver or version) is ignored by it;
        // its file name carries the driver's cache UUID and version so the two never collide.
        let saved = Self.cachePath(context).flatMap(VulkanCache.read) ?? []
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
        for m in modules.values { vk.destroyShaderModule(device, m, nil) }
        vk.destroyPipelineCache(device, cache, nil)
        vk.destroyPipelineLayout(device, layout, nil)
        vk.destroyDescriptorSetLayout(device, setLayout, nil)
    }

    static func cachePath(_ context: VulkanContext) -> String? {
        VulkanCache.folder.map { "\($0)/vulkan-pipelines-\(context.pipelineCacheKey).bin" }
    }

    private func save() {
        guard let path = Self.cachePath(context) else { return }
        var size = 0
        guard context.vk.getPipelineCacheData(context.device, cache, &size, nil) == VK_SUCCESS, size > 0 else { return }
        var data = [UInt8](repeating: 0, count: size)
        guard context.vk.getPipelineCacheData(context.device, cache, &size, &data) == VK_SUCCESS else { return }
        VulkanCache.makeDirectories(String(path[..<path.lastIndex(of: "/")!]))
        VulkanCache.write(Array(data.prefix(size)), to: path)
    }

    /// The compute pipeline of `kernel` (a name in Kernels/vulkan/variants.txt) with specialization
    /// constants 0, 1, … set to `constants`.
    func pipeline(_ kernel: String, constants: [UInt32] = []) throws -> VkPipeline {
        let key = Key(kernel: kernel, constants: constants)
        return try lock.withLock { _ in
            if let p = pipelines[key] { return p }
            let module = try modules[kernel] ?? makeModule(kernel)
            modules[kernel] = module
            let p = try makePipeline(module, constants)
            pipelines[key] = p
            return p
        }
    }

    private func makeModule(_ kernel: String) throws -> VkShaderModule {
        var count: UInt = 0
        let table = edgehal_spirv_kernels(&count)
        guard let spirv = UnsafeBufferPointer(start: table, count: Int(count)).first(where: { String(cString: $0.name) == kernel }) else {
            throw VulkanError("no SPIR-V for kernel \(kernel): run scripts/gen-spirv.sh")
        }
        var info = VkShaderModuleCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO
        info.codeSize = Int(spirv.count) * 4
        info.pCode = spirv.words
        var module: VkShaderModule?
        try check("vkCreateShaderModule (\(kernel))", context.vk.createShaderModule(context.device, &info, nil, &module))
        guard let module else { throw VulkanError("vkCreateShaderModule returned no module") }
        return module
    }

    private func makePipeline(_ module: VkShaderModule, _ constants: [UInt32]) throws -> VkPipeline {
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
                        stage.module = module
                        stage.pName = entry
                        stage.pSpecializationInfo = constants.isEmpty ? nil : sp
                        var info = VkComputePipelineCreateInfo()
                        info.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO
                        info.stage = stage
                        info.layout = layout
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
