#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// EdgeHAL's cache folder for compiled kernels: `$EDGEHAL_CACHE`, else `$XDG_CACHE_HOME/edgehal`,
/// else `~/.cache/edgehal`.
enum VulkanCache {
    static var folder: String? {
        if let v = env("EDGEHAL_CACHE") { return v }
        if let v = env("XDG_CACHE_HOME") { return v + "/edgehal" }
        if let v = env("HOME") { return v + "/.cache/edgehal" }
        return nil
    }

    static func env(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let s = String(cString: raw)
        return s.isEmpty ? nil : s
    }

    /// lavapipe compiles at the first dispatch (27–40 ms per shader) and its VkPipelineCache holds only
    /// a header; what makes a second start fast is Mesa's own disk cache (2–5 ms per shader). Point it
    /// at EdgeHAL's folder unless the user chose one. Called before the instance exists.
    static func pointMesaShaderCache() {
        guard env("MESA_SHADER_CACHE_DIR") == nil, let folder else { return }
        makeDirectories(folder + "/mesa")
        setenv("MESA_SHADER_CACHE_DIR", folder + "/mesa", 0)
    }

    static func makeDirectories(_ path: String) {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            mkdir(prefix, 0o755)
        }
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n == 0 { break }
            data += chunk[..<n]
        }
        return data
    }

    /// Writes through a temporary file and a rename, so a crash never leaves a torn cache file.
    static func write(_ data: [UInt8], to path: String) {
        let temporary = path + ".tmp\(getpid())"
        guard let f = fopen(temporary, "wb") else { return }
        let written = fwrite(data, 1, data.count, f)
        fclose(f)
        if written == data.count { rename(temporary, path) } else { unlink(temporary) }
    }
}
