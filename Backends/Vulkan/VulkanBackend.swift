import EdgeHAL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Vulkan compute backend: GLSL kernels (Kernels/vulkan) compiled to SPIR-V at build time, the
/// loader opened at run time. lavapipe and other CPU-type devices are `emulated`: `auto` ranks them
/// below the native CPU backend; `EDGEHAL_BACKEND=vulkan` (or `vulkan:N`) selects them.
///
/// `EDGEHAL_VULKAN_VALIDATION=1` enables the Khronos validation layer; `EDGEHAL_VULKAN_PROFILE=1`
/// records a timestamp around every dispatch (`=shapes`: totals per kernel and shape); `EDGEHAL_VULKAN_KERNELS=gpu|cpu` forces a kernel family
/// (``KernelFamily``), which each device's features name (`kernels=…`); `EDGEHAL_VULKAN_STAGING=1`
/// sends host writes and reads through a staging copy (``VulkanMemory``; features: `memory=…`).
public struct VulkanBackend: Backend {
    public let name = "vulkan"
    public let validation: Bool
    public let profile: Bool
    /// Profile rows per kernel and tensor shapes (`EDGEHAL_VULKAN_PROFILE=shapes`) instead of per kernel.
    public let profileShapes: Bool
    /// The kernel family every device gets; nil: each device's type decides.
    public let kernels: KernelFamily?
    /// Every host write and read through the staging buffer, even where buffers are mapped
    /// (`EDGEHAL_VULKAN_STAGING=1`; ``VulkanMemory``).
    public let staging: Bool
    /// Forces a kernel family on every device (``KernelFamily``).
    public static let kernelsVariable = "EDGEHAL_VULKAN_KERNELS"

    /// The GPU family's mat-vec geometry, where it differs from the built-in choice (`EDGEHAL_VULKAN_MATVEC`).
    public let matVec: VulkanMatMulKernels.MatVecTuning

    public init(validation: Bool? = nil, profile: Bool? = nil, kernels: KernelFamily? = nil, staging: Bool? = nil,
                matVec: VulkanMatMulKernels.MatVecTuning? = nil) {
        self.validation = validation ?? (EdgeHALEnvironment.value("EDGEHAL_VULKAN_VALIDATION") == "1")
        let setting = EdgeHALEnvironment.value("EDGEHAL_VULKAN_PROFILE")
        self.profile = profile ?? (setting == "1" || setting == "shapes")
        profileShapes = setting == "shapes"
        self.kernels = kernels ?? KernelFamily.forced(by: Self.kernelsVariable)
        self.staging = staging ?? VulkanMemory.forcedByEnvironment
        self.matVec = matVec ?? .forced
    }

    public func family(_ kind: DeviceKind) -> KernelFamily { kernels ?? KernelFamily.forKind(kind) }

    func info(_ facts: VulkanDeviceFacts) -> DeviceInfo {
        var info = facts.info
        if let memory = try? VulkanMemory(facts.memoryProperties, forceStaging: staging) { info.features.append("memory=\(memory.description)") }
        info.features.append("kernels=\(family(facts.kind).rawValue)")
        return info
    }

    public func probe() -> BackendStatus {
        do {
            let devices = try VulkanProbe.devices()
            guard !devices.isEmpty else { return .unavailable("the Vulkan loader found no physical device") }
            let usable = devices.filter { $0.computeQueueFamilies > 0 }
            guard !usable.isEmpty else { return BackendStatus(available: false, reason: "no Vulkan device has a compute queue",
                                                              devices: devices.map(info)) }
            let names = devices.map { "\($0.name) (\($0.type))" }.joined(separator: ", ")
            return BackendStatus(available: true, reason: "Vulkan: \(names)", devices: devices.map(info))
        } catch {
            return .unavailable("\(error)")
        }
    }

    public func makeDevice(index: Int) throws -> any Device {
        do {
            return try VulkanDevice(index: index, validation: validation, profile: profile, backend: self)
        } catch let e as VulkanError {
            throw EdgeHALError.backend("vulkan: \(e)")
        }
    }
}
