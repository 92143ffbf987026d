import CVulkan
import EdgeHAL

/// A partition recorded once into one command buffer — every node a dispatch with its descriptor set
/// and push constants, a barrier between dependent dispatches — and resubmitted on every `run`,
/// with one fence wait: no host round trip between ops.
final class VulkanProgram: Program, @unchecked Sendable {
    let device: VulkanDevice
    /// Keeps the buffers (and their views) the recorded commands use alive.
    let partition: Partition
    let kernels: [String]
    private let descriptorPool: VkDescriptorPool
    private let commandPool: VkCommandPool
    private let commands: VkCommandBuffer
    private let fence: VkFence
    private let timestamps: VkQueryPool?
    /// Two-pass nodes' partial results (``VulkanDispatch/scratchBytes``), a range each.
    private let scratch: (any DeviceBuffer)?

    init(device: VulkanDevice, partition: Partition, profile: Bool) throws {
        self.device = device
        self.partition = partition
        let context = device.context, vk = context.vk, dev = context.device
        let plans = try partition.nodes.map {
            try VulkanKernels.plan($0, family: device.family, matVec: device.matVec, storageRange: device.storageRange,
                                   sharedMemory: Int(context.limits.maxComputeSharedMemorySize), int8: device.int8Products)
        }
        let count = max(1, partition.nodes.count)
        let ranges = plans.map { ($0.scratchBytes + 255) & ~255 }, scratchBytes = ranges.reduce(0, +)
        scratch = scratchBytes > 0 ? try device.makeBuffer(byteCount: scratchBytes) : nil
        let steps = scratch.map { Self.steps(partition.nodes, plans, ranges: ranges, scratch: $0) } ?? zip(partition.nodes, plans).map { [($0, $1)] }
        let dispatches = steps.joined().map(\.plan)
        // Profile rows: the node's kernels (a prologue or merge joined by +), or with EDGEHAL_VULKAN_PROFILE=shapes
        // those and the node's first input and output.
        kernels = zip(steps, partition.nodes).map { step, node in
            let name = step.map(\.plan.kernel).joined(separator: "+")
            return device.profileShapes ? "\(name) \(node.inputs.first.map { "\($0.desc)" } ?? "") → \(node.output.desc.shape)" : name
        }

        let families = try dispatches.map { try device.pipelines.kernel($0.kernel) }
        let texels = families.reduce(0) { $0 + ($1.bindings & 0xFF).nonzeroBitCount }
        let storage = families.reduce(0) { $0 + ($1.bindings & ~0xFF).nonzeroBitCount }
        var sizes = [VkDescriptorPoolSize(type: VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, descriptorCount: UInt32(max(1, texels))),
                     VkDescriptorPoolSize(type: VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, descriptorCount: UInt32(max(1, storage)))]
        var poolInfo = VkDescriptorPoolCreateInfo()
        poolInfo.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO
        poolInfo.maxSets = UInt32(max(1, dispatches.count))
        poolInfo.poolSizeCount = 2
        var pool: VkDescriptorPool?
        try sizes.withUnsafeMutableBufferPointer { s in
            poolInfo.pPoolSizes = UnsafePointer(s.baseAddress)
            try check("vkCreateDescriptorPool", vk.createDescriptorPool(dev, &poolInfo, nil, &pool))
        }
        guard let pool else { throw VulkanError("vkCreateDescriptorPool returned no pool") }
        descriptorPool = pool

        let (cp, cb, f) = try context.makeSubmission()
        (commandPool, commands, fence) = (cp, cb, f)

        if profile {
            var queryInfo = VkQueryPoolCreateInfo()
            queryInfo.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO
            queryInfo.queryType = VK_QUERY_TYPE_TIMESTAMP
            queryInfo.queryCount = UInt32(count + 1)
            var q: VkQueryPool?
            try check("vkCreateQueryPool", vk.createQueryPool(dev, &queryInfo, nil, &q))
            timestamps = q
        } else {
            timestamps = nil
        }

        var begin = VkCommandBufferBeginInfo()
        begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        try check("vkBeginCommandBuffer", vk.beginCommandBuffer(cb, &begin))
        if let timestamps {
            vk.cmdResetQueryPool(cb, timestamps, 0, UInt32(count + 1))
            vk.cmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, timestamps, 0)
        }
        var hazards = VulkanHazards()
        for (i, nodeSteps) in steps.enumerated() {
            for (node, plan) in nodeSteps {
                if hazards.needsBarrier(before: node) { context.barrier(cb, toHost: false) }
                try record(node, plan)
            }
            if let timestamps { vk.cmdWriteTimestamp(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, timestamps, UInt32(i + 1)) }
        }
        context.barrier(cb, toHost: true)
        try check("vkEndCommandBuffer", vk.endCommandBuffer(cb))
    }

    /// Each node's dispatches as nodes of their own, so the hazard tracker orders them like any tensors: a two-pass
    /// node's kernel writes its own scratch range and its merge reads it; an int8 mat-vec's prologue writes the
    /// activations' bytes into its range and the mat-vec reads that range as its input 1. A prologue that would
    /// quantize what the last one did (the same inputs and words, no dispatch having written those inputs since)
    /// is left out and its node reads the last one's range: a layer's q, k and v quantize their activations once.
    static func steps(_ nodes: [PartitionNode], _ plans: [VulkanDispatch], ranges: [Int],
                      scratch: any DeviceBuffer) -> [[(node: PartitionNode, plan: VulkanDispatch)]] {
        var steps: [[(node: PartitionNode, plan: VulkanDispatch)]] = []
        var next = 0
        var last: (inputs: [BufferSlice], words: [UInt32], bytes: BufferSlice)?
        func overlaps(_ a: BufferSlice, _ b: BufferSlice) -> Bool {
            a.buffer === b.buffer && a.offset < b.offset + b.desc.byteCount && b.offset < a.offset + a.desc.byteCount
        }
        for (node, (plan, range)) in zip(nodes, zip(plans, ranges)) {
            var part: BufferSlice? = nil
            if plan.scratchBytes > 0 {
                part = BufferSlice(buffer: scratch, offset: next, desc: TensorDesc(.f32, Shape(plan.scratchBytes / 4)))
                next += range
            }
            if let part, let merge = plan.merge.first {
                steps.append([(PartitionNode(op: node.op, inputs: node.inputs, output: part), plan),
                              (PartitionNode(op: node.op, inputs: [part], output: node.output), merge)])
            } else if let part, let quantize = plan.prologue.first {
                let inputs = plan.prologueInputs.map { node.inputs[$0] }
                var reads = node.inputs
                var step: [(node: PartitionNode, plan: VulkanDispatch)] = []
                if let previous = last, previous.words == quantize.words && previous.inputs.count == inputs.count
                    && zip(previous.inputs, inputs).allSatisfy({ $0.buffer === $1.buffer && $0.offset == $1.offset }) {
                    reads[1] = previous.bytes
                } else {
                    step.append((PartitionNode(op: node.op, inputs: inputs, output: part), quantize))
                    last = (inputs, quantize.words, part)
                    reads[1] = part
                }
                step.append((PartitionNode(op: node.op, inputs: reads, output: node.output), plan))
                steps.append(step)
            } else {
                steps.append([(node, plan)])
            }
            // Bytes written since the last prologue that it read: its quantized copy is stale from here on.
            if let previous = last, previous.inputs.contains(where: { overlaps($0, node.output) }) { last = nil }
        }
        return steps
    }

    deinit {
        let vk = device.context.vk, dev = device.context.device
        if let timestamps { vk.destroyQueryPool(dev, timestamps, nil) }
        vk.destroyFence(dev, fence, nil)
        vk.destroyCommandPool(dev, commandPool, nil)
        vk.destroyDescriptorPool(dev, descriptorPool, nil)
    }

    /// Allocates the node's descriptor set, binds its tensors (``bind``) and records its dispatch.
    private func record(_ node: PartitionNode, _ plan: VulkanDispatch) throws {
        let context = device.context, vk = context.vk, dev = context.device
        let (pipeline, kernel) = try device.pipelines.pipeline(plan.kernel, constants: plan.constants)
        var layout: VkDescriptorSetLayout? = kernel.setLayout
        var allocate = VkDescriptorSetAllocateInfo()
        allocate.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO
        allocate.descriptorPool = descriptorPool
        allocate.descriptorSetCount = 1
        var set: VkDescriptorSet?
        try withUnsafePointer(to: &layout) { l in
            allocate.pSetLayouts = l
            try check("vkAllocateDescriptorSets", vk.allocateDescriptorSets(dev, &allocate, &set))
        }
        guard let set else { throw VulkanError("vkAllocateDescriptorSets returned no set") }

        var push = try bind(node, plan.kernel, kernel, to: set) + plan.words
        guard push.count * 4 <= VulkanPipelines.pushBytes else {
            throw VulkanError("\(plan.kernel): \(push.count * 4) bytes of push constants, over \(VulkanPipelines.pushBytes)")
        }
        var sets: [VkDescriptorSet?] = [set]
        vk.cmdBindPipeline(commands, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline)
        vk.cmdBindDescriptorSets(commands, VK_PIPELINE_BIND_POINT_COMPUTE, kernel.layout, 0, 1, &sets, 0, nil)
        vk.cmdPushConstants(commands, kernel.layout, VK_SHADER_STAGE_COMPUTE_BIT.rawValue, 0, UInt32(push.count * 4), &push)
        let (x, y, z) = plan.groups
        let limit = context.limits.maxComputeWorkGroupCount
        guard x <= limit.0, y <= limit.1, z <= limit.2 else {
            throw VulkanError("\(plan.kernel): \(x)×\(y)×\(z) workgroups exceed the device's \(limit.0)×\(limit.1)×\(limit.2)")
        }
        if x > 0 && y > 0 && z > 0 { vk.cmdDispatch(commands, x, y, z) }
    }

    /// Writes the node's tensors into `set`: inputs as texel views at 16-aligned bases or as storage
    /// ranges, the output as a storage range. Returns the contract's first push words: each input's
    /// byte offset from its binding's base, then the output's element offset.
    private func bind(_ node: PartitionNode, _ name: String, _ kernel: VulkanPipelines.Kernel, to set: VkDescriptorSet) throws -> [UInt32] {
        let context = device.context, vk = context.vk, dev = context.device
        // Absent optional inputs (no mask, no norm weight) are bound to input 0: kernels test a flag
        // before reading them, but every statically used descriptor must be valid.
        let storageAlignment = max(16, Int(context.limits.minStorageBufferOffsetAlignment))
        var views = [VkBufferView?](repeating: nil, count: 2 * VulkanPipelines.texelInputs)
        var ranges = [Int: VkDescriptorBufferInfo]()
        // A tensor one binding cannot reach would read zeros or garbage past the range: refused here, so a
        // plan that forgot the limit (VulkanMatMulKernels.fitStorage) fails loudly instead.
        func storageRange(_ buffer: VulkanBuffer, _ slice: BufferSlice) throws -> (VkDescriptorBufferInfo, Int) {
            let base = slice.offset / storageAlignment * storageAlignment
            let range = min(buffer.allocatedBytes - base, Int(context.limits.maxStorageBufferRange))
            guard slice.offset - base + slice.desc.byteCount <= range else {
                throw VulkanError("\(name): a \(slice.desc) tensor is beyond one storage binding's reach (\(range) bytes)")
            }
            return (VkDescriptorBufferInfo(buffer: buffer.buffer, offset: VkDeviceSize(base), range: VkDeviceSize(range)), base)
        }
        var inputOffsets: [UInt32] = []
        for i in 0..<VulkanPipelines.inputBindings {
            let slice = node.inputs[i < node.inputs.count ? i : 0]
            let buffer = try device.vulkanBuffer(slice)
            let storageBinding = VulkanPipelines.storageInputBinding + i
            if kernel.has(storageBinding) {
                // One base per input: a kernel reads an input either as words or as texels, never both.
                guard i >= VulkanPipelines.texelInputs || (!kernel.has(i) && !kernel.has(4 + i)) else {
                    throw VulkanError("\(name) declares input \(i) both as texels and as a storage buffer")
                }
                let (info, base) = try storageRange(buffer, slice)
                ranges[storageBinding] = info
                inputOffsets.append(UInt32(slice.offset - base))
                continue
            }
            let base = slice.offset & ~15
            inputOffsets.append(UInt32(slice.offset - base))
            guard i < VulkanPipelines.texelInputs else { continue }
            if kernel.has(i) { views[i] = try buffer.view(base: base, format: VK_FORMAT_R32_UINT, texelBytes: 4) }
            if kernel.has(4 + i) { views[4 + i] = try buffer.view(base: base, format: VK_FORMAT_R32G32B32A32_UINT, texelBytes: 16) }
        }
        let (outInfo, outBase) = try storageRange(try device.vulkanBuffer(node.output), node.output)
        ranges[VulkanPipelines.outputBinding] = outInfo
        let elementBytes = node.output.desc.type == .f16 ? 2 : 4
        let declared = (0..<32).filter { kernel.has($0) }
        let infos = declared.compactMap { ranges[$0] }
        infos.withUnsafeBufferPointer { r in
            views.withUnsafeBufferPointer { v in
                var next = 0
                var writes = declared.map { i -> VkWriteDescriptorSet in
                    var w = VkWriteDescriptorSet()
                    w.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
                    w.dstSet = set
                    w.dstBinding = UInt32(i)
                    w.descriptorCount = 1
                    if VulkanPipelines.isStorage(i) {
                        w.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                        w.pBufferInfo = r.baseAddress! + next
                        next += 1
                    } else {
                        w.descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                        w.pTexelBufferView = v.baseAddress! + i
                    }
                    return w
                }
                vk.updateDescriptorSets(dev, UInt32(writes.count), &writes, 0, nil)
            }
        }

        return inputOffsets + [UInt32((node.output.offset - outBase) / elementBytes)]
    }

    func run() throws {
        let start = timestamps == nil ? 0 : MonotonicClock.seconds()
        try device.context.submitAndWait(commands, fence: fence)
        guard timestamps != nil else { return }
        device.profile?.host.add("submit → fence", ms: (MonotonicClock.seconds() - start) * 1e3)
        for (k, ms) in zip(kernels, try nodeMilliseconds()) { device.profile?.kernels.add(k, ms: ms) }
    }

    /// Milliseconds each node took in the last run (timestamp queries), when compiled with profiling.
    func nodeMilliseconds() throws -> [Double] {
        guard let timestamps else { return [] }
        let count = partition.nodes.count + 1
        var ticks = [UInt64](repeating: 0, count: count)
        try check("vkGetQueryPoolResults", device.context.vk.getQueryPoolResults(
            device.context.device, timestamps, 0, UInt32(count), count * 8, &ticks, 8,
            VK_QUERY_RESULT_64_BIT.rawValue | VK_QUERY_RESULT_WAIT_BIT.rawValue))
        let period = Double(device.context.limits.timestampPeriod)
        return (1..<count).map { Double(ticks[$0] &- ticks[$0 - 1]) * period / 1e6 }
    }
}
