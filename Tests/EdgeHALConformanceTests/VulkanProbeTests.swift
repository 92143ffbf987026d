import EdgeHAL
import EdgeHALBuiltins
import Testing

/// The Vulkan backend's probe runs on any machine: with or without a loader, driver or device it
/// returns a status with a reason, and a CPU-type device (lavapipe) is never ranked above the native CPU.
struct VulkanProbeTests {
    @Test func probeExplainsItselfAndNeverCrashes() {
        guard let vulkan = BuiltinBackends.all.first(where: { $0.name == "vulkan" }) else {
            Issue.record("vulkan is not registered")
            return
        }
        let status = vulkan.probe()
        #expect(status.reason?.isEmpty == false)
        for device in status.devices {
            #expect(device.features.contains { $0.hasPrefix("vulkan-") })
            if device.features.contains("type=cpu") { #expect(device.kind == .emulated) }
        }
        // Not available yet (no kernels): selecting it is an error that says why, and auto skips it.
        let probed = BuiltinBackends.registry().probeAll()
        #expect(throws: EdgeHALError.self) { try Selection.resolve("vulkan", probed: probed) }
        #expect(Selection.ranked(probed).allSatisfy { $0.backend != "vulkan" })
    }
}
