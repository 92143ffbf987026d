import EdgeHAL
import CVulkan
import EdgeHALBuiltins
import EdgeHALConformance
@testable import EdgeHALVulkan
import EdgeHALTestSupport
import Testing

/// The Vulkan backend: its probe explains itself on any machine, it ranks where its device kind
/// says, it runs the whole table under the Khronos validation layer without a message, and its
/// embedded SPIR-V is what the kernel sources compile to.
struct VulkanBackendTests {
    static let status = VulkanBackend().probe()

    @Test func probeExplainsItselfAndRanksEmulatedDevicesBelowTheCPU() throws {
        #expect(Self.status.reason?.isEmpty == false)
        for device in Self.status.devices {
            #expect(device.features.contains { $0.hasPrefix("vulkan-") })
            if device.features.contains("type=cpu") { #expect(device.kind == .emulated) }
        }
        let probed = BuiltinBackends.registry().probeAll()
        guard Self.status.available else {
            #expect(throws: EdgeHALError.self) { try Selection.resolve("vulkan", probed: probed) }
            return
        }
        #expect(try Selection.resolve("vulkan", probed: probed).first?.backend == "vulkan")
        if Self.status.devices.allSatisfy({ $0.kind == .emulated }) {
            #expect(try Selection.resolve("auto", probed: probed).first?.backend == "cpu")
        }
    }

    /// The suite's Vulkan run under VK_LAYER_KHRONOS_validation, with each kernel family (on lavapipe
    /// the GPU family is forced): every case passes, none is unsupported, and the layer says nothing (a
    /// forgotten sType, a bad barrier or a shared-memory race shows here).
    @Test(.enabled(if: status.available), arguments: KernelFamily.allCases)
    func wholeTableUnderTheValidationLayer(_ family: KernelFamily) throws {
        let device = try #require(try VulkanBackend(validation: true, kernels: family).makeDevice(index: 0) as? VulkanDevice)
        #expect(device.family == family && device.info.features.contains("kernels=\(family.rawValue)"))
        let report = ConformanceRunner().run(CaseTable.all, on: device)
        for r in report.results where r.status != .pass {
            Issue.record("vulkan (validated, \(family) kernels): \(r.op) \(r.type) \(r.shape): \(r.status) \(r.detail ?? "")")
        }
        #expect(report.failed == 0 && report.unsupported == 0)
        let messages = device.validationMessages ?? ["the validation layer was not enabled"]
        #expect(messages.isEmpty, "\(messages.count) validation messages, first: \(messages.first ?? "")")
    }

    /// The GPU family's mat-vec under the geometries `EDGEHAL_VULKAN_MATVEC` can ask for on a GPU (rows
    /// sharing activation chunks, lanes a row, workgroup size, storage range), and its prefill tile 128 columns
    /// wide (the table's products are too small for the host to pick that width): every mul_mat, mul_mat_add,
    /// rms_norm_mul_mat, mul_mat_glu and mul_mat_rows case passes with each.
    @Test(.enabled(if: status.available), arguments: [
        VulkanMatMulKernels.MatVecTuning(rows: 4), VulkanMatMulKernels.MatVecTuning(lanes: 16, rows: 2),
        VulkanMatMulKernels.MatVecTuning(lanes: 64, workgroup: 256, rows: 8), VulkanMatMulKernels.MatVecTuning(lanes: 8, workgroup: 64),
        // Storage bindings of 16 KiB: larger matrices take the texel kernel, and mul_mat_add and the norm stay apart.
        VulkanMatMulKernels.MatVecTuning(storageRange: 16 << 10),
        VulkanMatMulKernels.MatVecTuning(tileColumns: 8),
    ])
    func matVecGeometries(_ tuning: VulkanMatMulKernels.MatVecTuning) throws {
        let device = try VulkanBackend(kernels: .gpu, matVec: tuning).makeDevice(index: 0)
        let report = ConformanceRunner().run(CaseTable.all.filter { ["mul_mat", "mul_mat_add", "rms_norm_mul_mat", "mul_mat_glu", "mul_mat_rows"].contains($0.op) }, on: device)
        for r in report.results where r.status != .pass {
            Issue.record("vulkan (gpu kernels, \(tuning)): \(r.op) \(r.type) \(r.shape): \(r.status) \(r.detail ?? "")")
        }
        #expect(report.failed == 0 && report.unsupported == 0)
        #expect(VulkanMatMulKernels.MatVecTuning.parse("lanes=32,wg=256,rows=4,bogus=3,rows=3").rows == 4)
        #expect(VulkanMatMulKernels.MatVecTuning.parse("tn=8").tileColumns == 8 && VulkanMatMulKernels.MatVecTuning.parse("tn=2").tileColumns == nil)
        #expect(VulkanMatMulKernels.MatVecTuning.parse("i8=1").int8 == true && VulkanMatMulKernels.MatVecTuning.parse("i8=0").int8 == false
                && VulkanMatMulKernels.MatVecTuning.parse("i8=3").int8 == nil && !VulkanMatMulKernels.MatVecTuning.parse("i8=1").int8InWorkgroup
                && VulkanMatMulKernels.MatVecTuning.parse("i8=2").int8InWorkgroup)
    }

    /// The int8 mat-vec (the `_i8_` variants; lavapipe has integer dot products, not accelerated, so it is forced)
    /// under the validation layer, its activations quantized by quantize_q8 (a dispatch of its own), alone and with
    /// 4 rows a lane group, and in each workgroup: every product case, the fused ones, the grouped q/k/v and the
    /// transformer blocks (where a layer's q, k and v share one quantize_q8) pass, and the layer says nothing (the
    /// extension and its feature enabled, OpSDot declared, the workgroup's shared codes written before read).
    @Test(.enabled(if: status.available && status.devices.first?.features.contains("int-dot") == true),
          arguments: [VulkanMatMulKernels.MatVecTuning(int8: true), VulkanMatMulKernels.MatVecTuning(rows: 4, int8: true),
                      VulkanMatMulKernels.MatVecTuning(int8: true, int8InWorkgroup: true)])
    func int8ProductsUnderTheValidationLayer(_ tuning: VulkanMatMulKernels.MatVecTuning) throws {
        let device = try #require(try VulkanBackend(validation: true, kernels: .gpu, matVec: tuning).makeDevice(index: 0) as? VulkanDevice)
        #expect(device.int8Products)
        let ops: Set = ["mul_mat", "mul_mat_add", "rms_norm_mul_mat", "mul_mat_glu", "mul_mat_rows", "mul_mat_group", "transformer_block"]
        let report = ConformanceRunner().run(CaseTable.all.filter { ops.contains($0.op) }, on: device)
        for r in report.results where r.status != .pass {
            Issue.record("vulkan (int8 mat-vec, \(tuning)): \(r.op) \(r.type) \(r.shape): \(r.status) \(r.detail ?? "")")
        }
        #expect(report.failed == 0 && report.unsupported == 0)
        let messages = device.validationMessages ?? ["the validation layer was not enabled"]
        #expect(messages.isEmpty, "\(messages.count) validation messages, first: \(messages.first ?? "")")
    }

    /// Each device type gets its family; the environment switch forces one.
    @Test func kernelFamilyFollowsTheDeviceType() {
        #expect(KernelFamily.forKind(.gpu) == .gpu && KernelFamily.forKind(.integrated) == .gpu)
        #expect(KernelFamily.forKind(.emulated) == .cpu)
        #expect(VulkanBackend(kernels: .gpu).family(.emulated) == .gpu && VulkanBackend(kernels: .cpu).family(.gpu) == .cpu)
    }

    /// Backends/Vulkan/CVulkanKernels/spirv.c is generated from Kernels/vulkan: compiling the sources
    /// again must give the same file, byte for byte.
    @Test func generatedSPIRVMatchesTheKernelSources() throws {
        let (status, output) = try Shell.check("gen-spirv.sh")
        #expect(status == 0, "\(output)")
    }
}

/// Barriers only between dependent dispatches (VulkanHazards), on synthetic partitions.
struct VulkanHazardTests {
    func slice(_ buffer: HostBuffer, _ offset: Int, _ floats: Int) -> BufferSlice {
        BufferSlice(buffer: buffer, offset: offset, desc: TensorDesc(.f32, Shape(floats)))
    }

    @Test func independentDispatchesShareABarrierAndDependentOnesDoNot() {
        let arena = HostBuffer(byteCount: 1 << 16), weights = HostBuffer(byteCount: 1 << 16)
        let x = slice(arena, 0, 64), q = slice(arena, 256, 64), k = slice(arena, 512, 64), v = slice(arena, 768, 64)
        func node(_ inputs: [BufferSlice], _ output: BufferSlice) -> PartitionNode { PartitionNode(op: .mulMat, inputs: inputs, output: output) }
        var h = VulkanHazards()
        // q, k and v projections of x: one barrier-free run.
        do { let barrier = h.needsBarrier(before: node([slice(weights, 0, 64), x], q)); #expect(!barrier) }
        do { let barrier = h.needsBarrier(before: node([slice(weights, 4096, 64), x], k)); #expect(!barrier) }
        do { let barrier = h.needsBarrier(before: node([slice(weights, 8192, 64), x], v)); #expect(!barrier) }
        // Reading q (written since the last barrier): a barrier.
        do { let barrier = h.needsBarrier(before: node([q, k], slice(arena, 1024, 64))); #expect(barrier) }
        // Independent of what came since the barrier: none.
        do { let barrier = h.needsBarrier(before: node([v], slice(arena, 2048, 64))); #expect(!barrier) }
        // Writing over q, which a dispatch since the barrier read (write after read): a barrier.
        do { let barrier = h.needsBarrier(before: node([slice(arena, 4096, 8)], slice(arena, 256, 8))); #expect(barrier) }
        // Tensors sharing a 16-byte texel count as overlapping.
        var t = VulkanHazards()
        do { let barrier = t.needsBarrier(before: node([x], slice(arena, 8192, 3))); #expect(!barrier) }
        do { let barrier = t.needsBarrier(before: node([slice(arena, 8204, 1)], slice(arena, 9000, 1))); #expect(barrier) }
        #expect(h.barriers == 2 && t.barriers == 1)
    }
}

/// An int8 mat-vec's quantization as a dispatch of its own (VulkanProgram.steps), on synthetic partitions.
struct VulkanInt8StepTests {
    @Test func aLayersProjectionsShareOneQuantizationUntilTheirActivationsChange() {
        let arena = HostBuffer(byteCount: 1 << 16), weights = HostBuffer(byteCount: 1 << 16), scratch = HostBuffer(byteCount: 1 << 16)
        func slice(_ buffer: HostBuffer, _ offset: Int, _ floats: Int) -> BufferSlice {
            BufferSlice(buffer: buffer, offset: offset, desc: TensorDesc(.f32, Shape(floats)))
        }
        let x = slice(arena, 0, 64), w = slice(weights, 0, 64)
        func node(_ at: Int, _ inputs: [BufferSlice], _ output: BufferSlice) -> PartitionNode {
            PartitionNode(op: .mulMat, inputs: [slice(weights, 4096 * at, 64)] + inputs, output: output)
        }
        func int8(norm: Bool) -> VulkanDispatch {
            var plan = VulkanDispatch(kernel: "mul_mat_vec_i8_q4_0", words: [], groups: (1, 1, 1))
            plan.quantize(k: 64, columns: 1, norm: norm)
            return plan
        }
        let plain = VulkanDispatch(kernel: "mul_mat_vec_q4_0", words: [], groups: (1, 1, 1))
        // q, k, v of normed x; a float mat-vec writing over x; two int8 ones of the new x; one without the norm.
        let nodes = [node(1, [x, w], slice(arena, 256, 8)), node(2, [x, w], slice(arena, 512, 8)), node(3, [x, w], slice(arena, 768, 8)),
                     node(4, [x], slice(arena, 0, 8)), node(5, [x, w], slice(arena, 1024, 8)), node(6, [x, w], slice(arena, 1280, 8)),
                     node(7, [x], slice(arena, 1536, 8))]
        let plans = [int8(norm: true), int8(norm: true), int8(norm: true), plain, int8(norm: true), int8(norm: true), int8(norm: false)]
        let steps = VulkanProgram.steps(nodes, plans, ranges: plans.map { ($0.scratchBytes + 255) & ~255 }, scratch: scratch)
        #expect(steps.map(\.count) == [2, 1, 1, 1, 2, 1, 2])
        // The quantization reads x and the norm's weight and writes node 0's scratch range; k and v read that range.
        #expect(steps[0][0].plan.kernel == "quantize_q8" && steps[0][0].node.inputs.count == 2 && steps[0][0].node.output.buffer === scratch)
        for s in [steps[0][1], steps[1][0], steps[2][0]] { #expect(s.node.inputs[1].buffer === scratch && s.node.inputs[1].offset == 0) }
        // Node 3 wrote over x: node 4 quantizes again, into its own range, which node 5 shares; node 6 without the norm reads only x.
        #expect(steps[4][0].node.output.offset > 0 && steps[5][0].node.inputs[1].offset == steps[4][0].node.output.offset)
        #expect(steps[6][0].node.inputs.count == 1 && steps[3][0].node.inputs[1].buffer === arena)
    }
}

/// Host transfers through the staging copy (VulkanMemory, VulkanStaging): the choice from a driver's
/// memory types, and the path itself forced on lavapipe, whose one memory type is mapped and cached.
struct VulkanStagingTests {
    static let available = VulkanBackendTests.status.available

    /// Memory properties with `types` as (flags, heap) over heaps of `heaps` bytes.
    func properties(_ types: [([VkMemoryPropertyFlagBits], Int)], heaps: [UInt64]) -> VkPhysicalDeviceMemoryProperties {
        var p = VkPhysicalDeviceMemoryProperties()
        p.memoryTypeCount = UInt32(types.count)
        p.memoryHeapCount = UInt32(heaps.count)
        withUnsafeMutableBytes(of: &p.memoryTypes) { raw in
            let t = raw.bindMemory(to: VkMemoryType.self)
            for (i, (flags, heap)) in types.enumerated() {
                t[i] = VkMemoryType(propertyFlags: flags.reduce(0) { $0 | $1.rawValue }, heapIndex: UInt32(heap))
            }
        }
        withUnsafeMutableBytes(of: &p.memoryHeaps) { raw in
            let h = raw.bindMemory(to: VkMemoryHeap.self)
            for (i, size) in heaps.enumerated() { h[i] = VkMemoryHeap(size: size, flags: i == 0 ? VK_MEMORY_HEAP_DEVICE_LOCAL_BIT.rawValue : 0) }
        }
        return p
    }

    @Test func memoryChoiceFollowsTheDriversTypes() throws {
        let local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, visible = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
        let coherent = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, cached = VK_MEMORY_PROPERTY_HOST_CACHED_BIT
        // lavapipe / integrated: one type with every flag: mapped, nothing staged unless forced.
        let uma = properties([([local, visible, coherent, cached], 0)], heaps: [2 << 30])
        let m1 = try VulkanMemory(uma, forceStaging: false)
        #expect(m1.mapped && !m1.stagedReads && !m1.stagedWrites && m1.description == "mapped")
        let m1f = try VulkanMemory(uma, forceStaging: true)
        #expect(m1f.mapped && m1f.stagedReads && m1f.stagedWrites && m1f.description == "mapped-staged")
        // A discrete GPU with resizable BAR (the H200): the mapped device-local type, reads staged through cached host memory.
        let rebar = properties([([local], 0), ([visible, coherent], 1), ([visible, coherent, cached], 1), ([local, visible, coherent], 0)],
                               heaps: [141 << 30, 64 << 30])
        let m2 = try VulkanMemory(rebar, forceStaging: false)
        #expect(m2.bufferType == 3 && m2.mapped && m2.stagedReads && !m2.stagedWrites && m2.stagingType == 2)
        // Without resizable BAR the mapped window is 256 MiB: buffers unmapped in the big heap, everything staged.
        let window = properties([([local], 0), ([visible, coherent], 1), ([visible, coherent, cached], 1), ([local, visible, coherent], 2)],
                                heaps: [24 << 30, 64 << 30, 256 << 20])
        let m3 = try VulkanMemory(window, forceStaging: false)
        #expect(m3.bufferType == 0 && !m3.mapped && m3.stagedReads && m3.stagedWrites && m3.description == "staged")
        // No host-visible type at all: an error, not a crash.
        #expect(throws: VulkanError.self) { try VulkanMemory(properties([([local], 0)], heaps: [1 << 30]), forceStaging: false) }
    }

    /// A transfer larger than the staging buffer goes in pieces and arrives whole, at odd offsets.
    @Test(.enabled(if: available)) func stagedTransfersInPieces() throws {
        let device = try #require(try VulkanBackend(staging: true).makeDevice(index: 0) as? VulkanDevice)
        let staging = VulkanStaging(memoryType: device.context.memory.stagingType, maxBytes: 1 << 20)
        defer { staging.destroy(device.context.vk, device.context.device) }
        let buffer = try VulkanBuffer(context: device.context, byteCount: 3 << 20)
        let bytes = (0..<(5 << 19)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        try bytes.withUnsafeBytes { try staging.write($0, to: buffer.buffer, at: 12_345, in: device.context) }
        var back = [UInt8](repeating: 0, count: bytes.count)
        try back.withUnsafeMutableBytes { try staging.read(buffer.buffer, at: 12_345, into: $0, in: device.context) }
        #expect(back == bytes)
    }

    /// The table's ops that move weights, states and results, with every host write and read staged,
    /// under the validation layer (a missing barrier between a copy and a dispatch shows here).
    @Test(.enabled(if: available)) func tableThroughStagingUnderTheValidationLayer() throws {
        let device = try #require(try VulkanBackend(validation: true, kernels: .gpu, staging: true).makeDevice(index: 0) as? VulkanDevice)
        #expect(device.info.features.contains("memory=mapped-staged"))
        let ops: Set = ["mul_mat", "get_rows", "set_rows", "attention", "rms_norm"]
        let report = ConformanceRunner().run(CaseTable.all.filter { ops.contains($0.op) }, on: device)
        for r in report.results where r.status != .pass {
            Issue.record("vulkan (staged): \(r.op) \(r.type) \(r.shape): \(r.status) \(r.detail ?? "")")
        }
        #expect(report.failed == 0 && report.unsupported == 0 && report.results.count > 100)
        let messages = device.validationMessages ?? ["the validation layer was not enabled"]
        #expect(messages.isEmpty, "\(messages.count) validation messages, first: \(messages.first ?? "")")
    }
}
