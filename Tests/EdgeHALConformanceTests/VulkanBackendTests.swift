import EdgeHAL
import EdgeHALBuiltins
import EdgeHALConformance
@testable import EdgeHALVulkan
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
    @Test(.enabled(if: status.available), arguments: VulkanKernelFamily.allCases)
    func wholeTableUnderTheValidationLayer(_ family: VulkanKernelFamily) throws {
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

    /// Backends/Vulkan/CVulkanKernels/spirv.c is generated from Kernels/vulkan: compiling the sources
    /// again must give the same file, byte for byte.
    /// Each device type gets its family; the environment switch forces one.
    @Test func kernelFamilyFollowsTheDeviceType() {
        #expect(VulkanKernelFamily.forKind(.gpu) == .gpu && VulkanKernelFamily.forKind(.integrated) == .gpu)
        #expect(VulkanKernelFamily.forKind(.emulated) == .cpu)
        #expect(VulkanBackend(kernels: .gpu).family(.emulated) == .gpu && VulkanBackend(kernels: .cpu).family(.gpu) == .cpu)
    }

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
