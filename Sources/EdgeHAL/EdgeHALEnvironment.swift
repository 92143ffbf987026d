#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one way EdgeHAL reads environment variables: a set, non-empty value, else nil. Every
/// variable the library and the tools read goes through here, so `grep EdgeHALEnvironment.value`
/// lists them all. The library only reads; it never sets one (a program that wants, say, Mesa's
/// shader cache elsewhere sets `MESA_SHADER_CACHE_DIR` itself before opening a device).
public enum EdgeHALEnvironment {
    public static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let s = String(cString: raw)
        return s.isEmpty ? nil : s
    }
}
