#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Facts about the host processor for `hwprobe` and CPU device descriptions.
public enum HostCPU {
    /// Cores this process may use.
    public static var cores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// The model name from /proc/cpuinfo, when there is one.
    public static var modelName: String {
        cpuinfoField("model name") ?? cpuinfoField("Hardware") ?? "unknown CPU"
    }

    /// Vector-relevant features the CPU reports (x86 flags or ARM features), by /proc/cpuinfo's names
    /// (`avx512_vnni`, `avx_vnni`: with underscores, unlike the compilers').
    public static var simdFeatures: [String] {
        let wanted = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni",
                      "asimd", "asimddp", "fphp", "sve", "i8mm"]
        let flags = Set((cpuinfoField("flags") ?? cpuinfoField("Features") ?? "").split(separator: " ").map(String.init))
        return wanted.filter(flags.contains)
    }

    /// Features the compiler enabled for this build (what vector code actually uses).
    public static var buildFeatures: [String] {
        var f: [String] = []
        #if arch(x86_64)
        f.append("x86_64")
        #elseif arch(arm64)
        f.append("arm64-neon")
        #endif
        if buildIsTuned { f.append("target-cpu from a toolset") }
        return f
    }

    /// Whether the build targeted a CPU through one of EdgeHAL's toolsets (`--toolset
    /// Toolsets/native.json`), which define EDGEHAL_TUNED_BUILD beside `-target-cpu`.
    public static var buildIsTuned: Bool {
        #if EDGEHAL_TUNED_BUILD
        return true
        #else
        return false
        #endif
    }

    /// What the tools say when a build leaves an x86-64 CPU's AVX2 and FMA unused; nil otherwise.
    public static var untunedBuildWarning: String? {
        #if arch(x86_64)
        guard !buildIsTuned, simdFeatures.contains("avx2") else { return nil }
        return "this build targets the x86-64 baseline (SSE2; fused multiply-adds are calls to fmaf) on a CPU with AVX2 "
            + "and FMA, so the CPU backend runs several times slower: build with --toolset Toolsets/native.json (docs/embedding.md)"
        #else
        return nil
        #endif
    }

    /// Total physical memory in bytes.
    public static var memoryBytes: UInt64 {
        UInt64(max(0, sysconf(Int32(_SC_PHYS_PAGES)))) &* UInt64(max(0, sysconf(Int32(_SC_PAGESIZE))))
    }

    private static func cpuinfoField(_ key: String) -> String? {
        guard let f = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(f) }
        var line: UnsafeMutablePointer<CChar>?
        var cap = 0
        defer { free(line) }
        while getline(&line, &cap, f) > 0, let l = line {
            let s = String(cString: l)
            guard s.hasPrefix(key), let colon = s.firstIndex(of: ":") else { continue }
            let name = String(s[..<colon]).trimmingSpaces
            guard name == key else { continue }
            return String(s[s.index(after: colon)...]).trimmingSpaces
        }
        return nil
    }
}
