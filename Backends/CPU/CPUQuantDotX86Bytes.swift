#if arch(x86_64)
import _Builtin_intrinsics.intel

// How the x86 kernels multiply unsigned weight bytes by signed activation bytes and add the products
// up: the one place the avx2 and avx512vnni kernel sets differ. Every x86 kernel (CPUQuantDotX86.swift,
// CPUQuantDotX86Cols8.swift) is generic over it, so both sets run the same code but for these lines.
//
//     avx2        vpmaddubsw(w, a)  16 × Int16 pair sums (u8 × s8; saturating, so the kernels bound
//                                   how many steps add up before a vpmaddwd widens them to Int32)
//     avx512vnni  vpdpbusd(s, w, a)  8 × Int32 sums of 4 products added into s (exact; no widening)
//
// vpdpbusd is reached from Swift through the masked intrinsic with every lane selected
// (`_mm256_mask_dpbusd_epi32` with mask 0xFF): the plain 256-bit one is a C macro the importer skips;
// LLVM folds the all-ones mask to the unmasked EVEX instruction (objdump: `vpdpbusd %ymm, %ymm, %ymm`).

/// A byte dot-product instruction: step sums, and how they become Int32 lanes.
protocol ByteDot {
    /// Whether step sums are exact Int32 lanes (vpdpbusd): then kernels need no intermediate widening.
    static var exact: Bool { get }
    /// s + the products w[i]·a[i] (u8 × s8), added in pairs (Int16 lanes) or fours (Int32 lanes).
    static func step(_ s: __m256i, _ w: __m256i, _ a: __m256i) -> __m256i
    /// The step sums `s` as Int32 lanes times the scale operand `k` (``scales(_:_:)``, ``scale(_:)``).
    static func widen(_ s: __m256i, _ k: __m256i) -> __m256i
    /// The step sums `s` as Int32 lanes (times 1).
    static func widen(_ s: __m256i) -> __m256i
    /// A scale in the form ``widen(_:_:)`` takes (Int16 lanes for vpmaddwd, Int32 for vpmulld).
    static func scale(_ k: Int32) -> __m256i
    /// Eight small sub-block scales (Int32 lanes) in the form ``halves(_:_:)`` reads.
    static func prepare(_ k: SIMD8<Int32>) -> SIMD8<Int32>
}

extension ByteDot {
    /// Σ w·a of one run as Int32 lanes, times the scale operand `k`.
    @inline(__always) static func dot(_ w: __m256i, _ a: __m256i, _ k: __m256i) -> __m256i { widen(step(__m256i(), w, a), k) }
    /// Σ w·a of one run as Int32 lanes.
    @inline(__always) static func dot(_ w: __m256i, _ a: __m256i) -> __m256i { widen(step(__m256i(), w, a)) }

    /// The scale operand of a natural-order run over sub-blocks i (its first 16 values) and i + 1, from
    /// ``prepare(_:)``d scales: [k_i ×4 lanes, k_i+1 ×4 lanes], one vpermd (prepare makes that the right
    /// form for either instruction). Building it from two extracted lanes took about six instructions a
    /// run, which left q3_K's mat-vec no faster than the portable kernel (measured).
    @inline(__always) static func halves(_ prepared: SIMD8<Int32>, _ i: Int32) -> __m256i {
        let index = SIMD8<Int32>(i, i, i, i, i &+ 1, i &+ 1, i &+ 1, i &+ 1)
        return _mm256_permutevar8x32_epi32(unsafeBitCast(prepared, to: __m256i.self), unsafeBitCast(index, to: __m256i.self))
    }
}

enum X86Bytes {
    /// vpmaddubsw, then vpmaddwd (by ones or the scales) to Int32: AVX2.
    enum Madd: ByteDot {
        static var exact: Bool { false }
        @inline(__always) static func step(_ s: __m256i, _ w: __m256i, _ a: __m256i) -> __m256i {
            _mm256_add_epi16(s, _mm256_maddubs_epi16(w, a))
        }
        @inline(__always) static func widen(_ s: __m256i, _ k: __m256i) -> __m256i { _mm256_madd_epi16(s, k) }
        @inline(__always) static func widen(_ s: __m256i) -> __m256i { _mm256_madd_epi16(s, scale(1)) }
        @inline(__always) static func scale(_ k: Int32) -> __m256i {
            unsafeBitCast(SIMD16<Int16>(repeating: Int16(truncatingIfNeeded: k)), to: __m256i.self)
        }
        /// Each scale in both 16-bit halves of its lane.
        @inline(__always) static func prepare(_ k: SIMD8<Int32>) -> SIMD8<Int32> { (k & 0xFFFF) | (k &<< 16) }
    }

    /// vpdpbusd into Int32 lanes; scales by vpmulld: AVX-512 VNNI with VL.
    enum VNNI: ByteDot {
        static var exact: Bool { true }
        @inline(__always) static func step(_ s: __m256i, _ w: __m256i, _ a: __m256i) -> __m256i {
            _mm256_mask_dpbusd_epi32(s, 0xFF, w, a)
        }
        @inline(__always) static func widen(_ s: __m256i, _ k: __m256i) -> __m256i { _mm256_mullo_epi32(s, k) }
        @inline(__always) static func widen(_ s: __m256i) -> __m256i { s }
        @inline(__always) static func scale(_ k: Int32) -> __m256i { unsafeBitCast(SIMD8<Int32>(repeating: k), to: __m256i.self) }
        @inline(__always) static func prepare(_ k: SIMD8<Int32>) -> SIMD8<Int32> { k }
    }
}
#endif
