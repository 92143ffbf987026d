import EdgeHAL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum VulkanCache {
    static var folder: String? { CacheFolder.path }
    static func env(_ name: String) -> String? { CacheFolder.environment(name) }

    /// lavapipe compiles at the first dispatch (27–40 ms per shader) and its VkPipelineCache holds only
    /// a header; what makes a second start fast is Mesa's own disk cache (2–5 ms per shader). Point it
    /// at EdgeHAL's folder unless the user chose one. Called before the instance exists.
    static func pointMesaShaderCache() {
        guard env("MESA_SHADER_CACHE_DIR") == nil, let folder else { return }
        CacheFolder.makeDirectories(folder + "/mesa")
        setenv("MESA_SHADER_CACHE_DIR", folder + "/mesa", 0)
    }
}
