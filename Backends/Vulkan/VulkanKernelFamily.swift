import EdgeHAL

/// Which shape of kernels a device gets. lavapipe and other CPU-type drivers run a workgroup's
/// invocations as a few SIMD vectors on one core, so the `cpu` family gives each invocation whole rows
/// (Kernels/vulkan/mul_mat.comp); a GPU runs thousands of lanes and wants consecutive lanes on
/// consecutive memory, so the `gpu` family splits each row over a group of lanes (mul_mat_vec.comp).
/// Chosen from the probed device type; `EDGEHAL_VULKAN_KERNELS=gpu|cpu` forces one (so CI runs both on lavapipe).
public enum VulkanKernelFamily: String, Sendable, CaseIterable {
    case cpu, gpu

    public static let environmentVariable = "EDGEHAL_VULKAN_KERNELS"

    /// The forced family, nil when the variable is unset or names none (then the device type decides).
    public static var forced: VulkanKernelFamily? {
        CacheFolder.environment(environmentVariable).flatMap { VulkanKernelFamily(rawValue: $0.lowercased()) }
    }

    /// The family for a device of `kind`: GPUs (discrete or integrated) get `gpu`, CPU-type drivers `cpu`.
    public static func forKind(_ kind: DeviceKind) -> VulkanKernelFamily {
        kind == .gpu || kind == .integrated ? .gpu : .cpu
    }
}
