import EdgeHAL
import EdgeHALCPU
import EdgeHALReference
import EdgeHALVulkan

/// The backends that ship with EdgeHAL, registered the way swift-log bootstraps: once, from the top.
public enum BuiltinBackends {
    public static var all: [any Backend] { [CPUBackend(), VulkanBackend(), ReferenceBackend()] }

    /// A registry holding every built-in backend; plugins are registered on top of it.
    public static func registry() -> BackendRegistry { BackendRegistry(all) }
}

extension BuiltinBackends {
    /// Opens what `spec` (or `EDGEHAL_BACKEND`, or `auto`) selects, followed by the best host CPU
    /// device as fallback for ops the selection does not support.
    public static func openDevices(_ spec: String? = nil, registry: BackendRegistry = registry()) throws -> [any Device] {
        let probed = registry.probeAll()
        let chosen = try Selection.resolve(spec ?? Selection.environmentValue, probed: probed)
        return try Selection.withFallback(chosen, probed: probed).map { try registry.open($0) }
    }
}
