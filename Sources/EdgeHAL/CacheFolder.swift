#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// EdgeHAL's cache folder for compiled kernels (Vulkan pipeline caches, OpenCL
/// program binaries): `$EDGEHAL_CACHE`, else `$XDG_CACHE_HOME/edgehal`, else `~/.cache/edgehal`.
public enum CacheFolder {
    public static var path: String? {
        if let v = EdgeHALEnvironment.value("EDGEHAL_CACHE") { return v }
        if let v = EdgeHALEnvironment.value("XDG_CACHE_HOME") { return v + "/edgehal" }
        if let v = EdgeHALEnvironment.value("HOME") { return v + "/.cache/edgehal" }
        return nil
    }

    public static func makeDirectories(_ path: String) {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            mkdir(prefix, 0o755)
        }
    }

    public static func read(_ path: String) -> [UInt8]? {
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
    public static func write(_ data: [UInt8], to path: String) {
        if let slash = path.lastIndex(of: "/") { makeDirectories(String(path[..<slash])) }
        let temporary = path + ".tmp\(getpid())"
        guard let f = fopen(temporary, "wb") else { return }
        let written = fwrite(data, 1, data.count, f)
        fclose(f)
        if written == data.count { rename(temporary, path) } else { unlink(temporary) }
    }
}
