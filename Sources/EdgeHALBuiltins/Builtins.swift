import EdgeHAL
import EdgeHALCPU
import EdgeHALOpenCL
import EdgeHALPlugins
import EdgeHALReference
import EdgeHALVulkan

/// The backends that ship with EdgeHAL, registered the way swift-log bootstraps: once, from the top.
public enum BuiltinBackends {
    public static var all: [any Backend] { [CPUBackend(), VulkanBackend(), OpenCLBackend(), ReferenceBackend()] }

    /// Every built-in backend, then the plugins of `EDGEHAL_PLUGIN_PATH` and of `plugins` (absolute
    /// paths, optionally `#sha256=HEX`; what `--plugin` adds). A plugin that cannot load — or whose
    /// name a backend already has — is listed as unavailable, saying why.
    public static func registry(plugins: [String] = []) -> BackendRegistry {
        var registry = BackendRegistry(all)
        for plugin in PluginLoader.backends(PluginLoader.environmentEntries + plugins) {
            do { try registry.register(plugin) } catch {
                let path = plugin.probe().plugin?.path ?? plugin.name
                try? registry.register(RefusedPlugin(path: path, reason: "a backend named '\(plugin.name)' is already registered"))
            }
        }
        return registry
    }

    /// Opens what `spec` selects among the built-in backends and plugins (``BackendRegistry/select(_:workload:)``).
    public static func select(_ spec: String? = nil, registry: BackendRegistry = registry(), workload: Workload? = nil) throws -> SelectedDevices {
        try registry.select(spec, workload: workload)
    }
}
