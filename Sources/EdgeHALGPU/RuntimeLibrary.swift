import EdgeHAL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A driver loader (libvulkan.so.1, libOpenCL.so.1) opened at run time with dlopen: the core and
/// every tool start on a machine without it, and the backend's probe says why it is unavailable.
public final class RuntimeLibrary: @unchecked Sendable {
    public let name: String
    private let handle: UnsafeMutableRawPointer
    private let unloads: Bool

    /// Opens `name`. `missing` says what its absence means ("the Vulkan loader is not installed");
    /// `unloads`: close it when released. OpenCL ICDs register atexit handlers and keep threads, so
    /// their loader must stay mapped for the life of the process.
    public init(_ name: String, missing: String, unloads: Bool) throws {
        guard let h = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "not found"
            throw EdgeHALError.backend("\(name) could not be opened (\(missing)): \(why)")
        }
        self.name = name
        handle = h
        self.unloads = unloads
    }

    deinit { if unloads { dlclose(handle) } }

    /// The entry point `symbol` as a C function type; `role` completes the error when it is missing
    /// ("not a Vulkan loader").
    public func function<F>(_ symbol: String, as type: F.Type = F.self, role: String? = nil) throws -> F {
        guard let s = dlsym(handle, symbol) else {
            throw EdgeHALError.backend("\(name) has no \(symbol)" + (role.map { ": \($0)" } ?? ""))
        }
        return unsafeBitCast(s, to: F.self)
    }
}
