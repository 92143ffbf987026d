import CEdgeHALCPUFeatures
import EdgeHAL

/// Which quantized dot-product kernels the CPU backend runs.
///
/// - `portable`: Swift SIMD types only (CPUQuantDot32.swift, CPUQuantDotK.swift); every target, every
///   weight type. LLVM does not turn any portable shape into the byte dot-product instructions
///   (`vpmaddubsw`, `vpdpbusd`; measured in `docs/cpu-kernels.md`), so these multiply 16-bit lanes.
/// - `avx2`: the same kernels written with x86 intrinsics from Swift (`_Builtin_intrinsics.intel`) where
///   they pay: `vpmaddubsw` multiplies unsigned weight bytes by signed activation bytes and adds pairs,
///   `vpmaddwd` then adds pairs again while multiplying by the sub-block scales, so a run of 32 values
///   costs two multiplies instead of four and no `vpmulld` (CPUQuantDotX86.swift). Only in builds whose
///   target has AVX2, FMA and F16C (a toolset's `-target-cpu`), and only for the weight types it has
///   kernels for; the others run the portable kernels.
/// - `avx512vnni`: the avx2 kernels with `vpdpbusd` (u8 × s8, four products added into each Int32 lane)
///   in place of the vpmaddubsw/vpmaddwd pair (CPUQuantDotX86Bytes.swift). Its sums are exact Int32, so
///   the prefill kernels add whole runs without widening steps. Only in builds whose target has
///   AVX-512 VNNI with VL and BW (Zen4, Zen5, Ice Lake and later Xeons).
///
/// The build's best set is the default; `EDGEHAL_CPU_KERNELS=portable` forces the portable one (CI runs
/// the conformance table and the model case both ways). The device names its set in its features.
public enum CPUKernelSet: String, Sendable, CaseIterable {
    case portable
    case avx2
    case avx512vnni

    public static let variable = "EDGEHAL_CPU_KERNELS"

    /// The sets this build can run, best last.
    public static var built: [CPUKernelSet] {
        [.portable] + (buildHasAVX2 ? [.avx2] : []) + (buildHasAVX512VNNI ? [.avx512vnni] : [])
    }

    /// Whether the Swift code targets AVX2, FMA and F16C (stored, so a build without them does not warn
    /// that the avx2 branches are dead; they are never taken there).
    static let buildHasAVX2 = EDGEHAL_BUILD_X86_AVX2 != 0
    /// Whether it also targets AVX-512 VNNI, VL and BW (the avx512vnni kernels build on the avx2 ones).
    static let buildHasAVX512VNNI = EDGEHAL_BUILD_X86_AVX2 != 0 && EDGEHAL_BUILD_X86_AVX512VNNI != 0

    /// The best set this build has: the default.
    public static var best: CPUKernelSet { built.last ?? .portable }

    /// The set `EDGEHAL_CPU_KERNELS` asks for, or the build's best when it is unset.
    public static func configured() throws(EdgeHALError) -> CPUKernelSet {
        guard let raw = EdgeHALEnvironment.value(variable) else { return best }
        guard let set = CPUKernelSet(rawValue: raw.lowercased()) else {
            throw .selection("\(variable)=\(raw) names no CPU kernel set (\(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard built.contains(set) else {
            throw .selection("\(variable)=\(raw): this build's target CPU lacks what the \(raw) kernels need "
                             + "(build with --toolset Toolsets/native.json on a machine that has it)")
        }
        return set
    }

    /// Whether this set has its own kernel for weights of `type` (else the portable one runs).
    func hasOwnKernel(_ type: DType) -> Bool {
        switch self {
        case .portable: return false
        case .avx2, .avx512vnni: return [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K].contains(type)
        }
    }
}

/// Instruction-set extensions of the build's target and of the running CPU (x86-64; empty elsewhere),
/// from the start-up check in CFeatures/cpu_features.c.
public enum CPUFeatureCheck {
    static func names(_ mask: UInt64) -> [String] {
        (0..<64).compactMap { bit in
            guard (mask >> UInt64(bit)) & 1 != 0 else { return nil }
            let name = String(cString: edgehal_cpu_feature_name(Int32(bit)))
            return name.isEmpty ? nil : name
        }
    }

    /// Extensions the build's C code was compiled for (the toolset's CPU).
    public static var build: [String] { names(edgehal_cpu_build_features()) }
    /// Extensions the running CPU and OS provide.
    public static var host: [String] { names(edgehal_cpu_host_features()) }
    /// Extensions the build needs that this CPU lacks: non-empty only when EDGEHAL_SKIP_CPU_CHECK=1 let
    /// the program start anyway.
    public static var missing: [String] { names(edgehal_cpu_build_features() & ~edgehal_cpu_host_features()) }
}
