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

/// Devices opened for a selection, and why they were chosen.
public struct SelectedDevices {
    /// The selection, then the host CPU fallback.
    public var devices: [any Device]
    /// How `auto` decided (with the predictions behind it), or the variable or option that named the devices.
    public var explanation: String
}

extension BuiltinBackends {
    /// Opens what `spec` (or `EDGEHAL_BACKEND`, or `auto`) selects, followed by the best host CPU
    /// device as fallback for ops the selection does not support.
    public static func openDevices(_ spec: String? = nil, registry: BackendRegistry = registry()) throws -> [any Device] {
        try select(spec, registry: registry).devices
    }

    /// As ``openDevices(_:registry:)``; with a `workload`, `auto` picks the device predicted fastest for it
    /// from each device's calibration (stored in the cache folder, measured on first use).
    public static func select(_ spec: String? = nil, registry: BackendRegistry = registry(), workload: Workload? = nil) throws -> SelectedDevices {
        let probed = registry.probeAll()
        let spec = spec ?? Selection.environmentValue
        var predicted: [DeviceChoice: Prediction] = [:]
        if let workload, Selection.usesAuto(spec) {
            predicted = Selection.predictions(registry.calibrations(probed, types: workload.types), for: workload)
        }
        let chosen = try Selection.resolve(spec, probed: probed, predicted: predicted)
        let devices = try Selection.withFallback(chosen, probed: probed).map { try registry.open($0) }
        let why = Selection.usesAuto(spec) ? Selection.autoExplanation(probed, predicted: predicted, workload: workload)
                                            : "selected by \(spec.map { "'\($0)'" } ?? "auto")"
        return SelectedDevices(devices: devices, explanation: why)
    }
}
