import EdgeHAL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum VulkanCache {
    /// lavapipe compiles at the first dispatch (27–40 ms per shader) and its VkPipelineCache holds only
    /// a header; what makes a second start fast is Mesa's own disk cache (2–5 ms per shader). Point it
    /// at EdgeHAL's folder unless the user chose one. Called before the instance exists.
    static func pointMesaShaderCache() {
        guard CacheFolder.environment("MESA_SHADER_CACHE_DIR") == nil, let folder = CacheFolder.path else { return }
        CacheFolder.makeDirectories(folder + "/mesa")
        setenv("MESA_SHADER_CACHE_DIR", folder + "/mesa", 0)
    }
}
