import EdgeHAL

/// The Vulkan backend, as far as it goes today: it finds the loader, the drivers and every device
/// with the features that will select shader variants, and reports them (`hwprobe`). Its compute
/// kernels are not written yet (issue #9), so it declares itself unavailable with that reason —
/// selecting it is a clear error, never a silent fallback, and `auto` never picks it.
public struct VulkanBackend: Backend {
    public let name = "vulkan"
    public init() {}

    public func probe() -> BackendStatus {
        do {
            let devices = try VulkanProbe.devices()
            let usable = devices.filter { $0.computeQueueFamilies > 0 }
            guard !devices.isEmpty else { return .unavailable("the Vulkan loader found no physical device") }
            let reason = usable.isEmpty
                ? "no Vulkan device has a compute queue"
                : "\(devices.count) Vulkan device\(devices.count == 1 ? "" : "s") found, but EdgeHAL's Vulkan compute kernels are not implemented yet (issue #9)"
            return BackendStatus(available: false, reason: reason, devices: devices.map(\.info))
        } catch {
            return .unavailable("\(error)")
        }
    }

    public func makeDevice(index: Int) throws -> any Device {
        throw EdgeHALError.selection("vulkan: \(probe().reason ?? "unavailable")")
    }
}
