import EdgeHAL
import Testing
@testable import EdgeHALCPU

/// The start-up check's inputs (CFeatures/cpu_features.c) and the kernel sets they allow.
struct CPUFeatureCheckTests {
    /// The process started, so the check found nothing missing (or was told to skip).
    @Test func nothingMissingOnTheMachineThatRuns() {
        #expect(CPUFeatureCheck.missing.isEmpty || EdgeHALEnvironment.value("EDGEHAL_SKIP_CPU_CHECK") == "1")
        #expect(Set(CPUFeatureCheck.build).isSubset(of: Set(CPUFeatureCheck.host)) || !CPUFeatureCheck.missing.isEmpty)
    }

    /// The toolsets give C (the check) the CPU they give Swift (the kernels): a toolset that named the CPU for
    /// one compiler only would let an AVX2 kernel set run unchecked, or check for nothing.
    @Test func checkAndKernelsSeeTheSameTarget() {
        #if arch(x86_64)
        #expect(CPUKernelSet.built.contains(.avx2) == CPUFeatureCheck.build.contains("avx2"))
        let vnni = ["avx2", "avx512vnni", "avx512vl", "avx512bw"].allSatisfy(CPUFeatureCheck.build.contains)
        #expect(CPUKernelSet.built.contains(.avx512vnni) == vnni)
        #endif
        #expect(CPUKernelSet.built.first == .portable)
    }

    @Test func hostFeaturesMatchProcCpuinfo() {
        #if arch(x86_64)
        let flags = HostCPU.simdFeatures
        for (cpuinfo, ours) in [("avx2", "avx2"), ("fma", "fma"), ("f16c", "f16c"), ("avx512f", "avx512f"), ("avx512_vnni", "avx512vnni"),
                                ("avx_vnni", "avxvnni")] {
            #expect(flags.contains(cpuinfo) == CPUFeatureCheck.host.contains(ours), "\(cpuinfo)")
        }
        #endif
    }

    @Test func kernelSetNamesAreChecked() throws {
        #expect(CPUKernelSet(rawValue: "portable") == .portable)
        #expect(CPUDevice(threads: 1, kernels: .portable).info.features.contains("kernels=portable"))
        let best = try #require(CPUKernelSet.built.last)
        #expect(CPUKernelSet.best == best)
        #expect(CPUDevice(threads: 1, kernels: best).kernels == best)
    }
}
