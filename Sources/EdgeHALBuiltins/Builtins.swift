import EdgeHAL
import EdgeHALCPU
import EdgeHALReference

/// The backends that ship with EdgeHAL, registered the way swift-log bootstraps: once, from the top.
public enum BuiltinBackends {
    public static var all: [any Backend] { [CPUBackend(), ReferenceBackend()] }

    /// A registry holding every built-in backend; plugins are registered on top of it.
    public static func registry() -> BackendRegistry { BackendRegistry(all) }
}
