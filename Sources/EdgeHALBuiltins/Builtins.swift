import EdgeHAL
import EdgeHALCPU
import EdgeHALOpenCL
import EdgeHALPlugins
import EdgeHALReference
import EdgeHALVulkan
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The backends that ship with EdgeHAL, registered the way swift-log bootstraps: once, from the top.
public enum BuiltinBackends {
    public static var all: [any Backend] { [CPUBackend(), VulkanBackend(), OpenCLBackend(), ReferenceBackend()] }

    /// Every built-in backend, then the plugins of `EDGEHAL_PLUGIN_PATH` (which `--plugin` extends).
    /// A plugin that cannot load — or whose name a backend already has — is listed as unavailable, saying why.
    public static func registry() -> BackendRegistry {
        var registry = BackendRegistry(all)
        for plugin in PluginLoader.backends(PluginLoader.environmentEntries) {
            do { try registry.register(plugin) } catch {
                let path = plugin.probe().plugin?.path ?? plugin.name
                try? registry.register(RefusedPlugin(path: path, reason: "a backend named '\(plugin.name)' is already registered"))
            }
        }
        return registry
    }

    /// Adds `--plugin` files to `EDGEHAL_PLUGIN_PATH` for this process, so every registry sees them.
    public static func addPlugins(_ paths: [String]) {
        guard !paths.isEmpty else { return }
        let entries = PluginLoader.environmentEntries + paths
        setenv(PluginLoader.environmentVariable, entries.joined(separator: ":"), 1)
    }
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
