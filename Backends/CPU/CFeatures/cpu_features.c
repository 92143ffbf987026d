// Start-up check: a binary built for a newer CPU than the one it runs on stops with a message
// instead of dying of an illegal instruction somewhere in a kernel.
//
// Everything here is compiled for the x86-64 baseline whatever the toolset's -march: this code runs
// before anything else and must itself run on any x86-64 CPU.
#include "edgehal_cpu_features.h"

#include <stdio.h>
#include <stdlib.h>

#if defined(__x86_64__)
#include <cpuid.h>

#pragma clang attribute push (__attribute__((target("arch=x86-64"))), apply_to = function)

enum {
    F_SSE3, F_SSSE3, F_SSE41, F_SSE42, F_POPCNT, F_MOVBE, F_AVX, F_F16C, F_FMA, F_BMI, F_BMI2, F_LZCNT,
    F_AVX2, F_AVX512F, F_AVX512DQ, F_AVX512CD, F_AVX512BW, F_AVX512VL, F_AVX512IFMA, F_AVX512VBMI,
    F_AVX512VBMI2, F_AVX512VNNI, F_AVX512BITALG, F_AVX512VPOPCNTDQ, F_AVX512BF16, F_AVX512FP16,
    F_AVXVNNI, F_GFNI, F_VAES, F_VPCLMULQDQ, F_COUNT
};

static const char *const names[F_COUNT] = {
    "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "movbe", "avx", "f16c", "fma", "bmi", "bmi2", "lzcnt",
    "avx2", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512ifma", "avx512vbmi",
    "avx512vbmi2", "avx512vnni", "avx512bitalg", "avx512vpopcntdq", "avx512bf16", "avx512fp16",
    "avxvnni", "gfni", "vaes", "vpclmulqdq",
};

#define BIT(f) (UINT64_C(1) << (f))

uint64_t edgehal_cpu_build_features(void) {
    uint64_t f = 0;
#ifdef __SSE3__
    f |= BIT(F_SSE3);
#endif
#ifdef __SSSE3__
    f |= BIT(F_SSSE3);
#endif
#ifdef __SSE4_1__
    f |= BIT(F_SSE41);
#endif
#ifdef __SSE4_2__
    f |= BIT(F_SSE42);
#endif
#ifdef __POPCNT__
    f |= BIT(F_POPCNT);
#endif
#ifdef __MOVBE__
    f |= BIT(F_MOVBE);
#endif
#ifdef __AVX__
    f |= BIT(F_AVX);
#endif
#ifdef __F16C__
    f |= BIT(F_F16C);
#endif
#ifdef __FMA__
    f |= BIT(F_FMA);
#endif
#ifdef __BMI__
    f |= BIT(F_BMI);
#endif
#ifdef __BMI2__
    f |= BIT(F_BMI2);
#endif
#ifdef __LZCNT__
    f |= BIT(F_LZCNT);
#endif
#ifdef __AVX2__
    f |= BIT(F_AVX2);
#endif
#ifdef __AVX512F__
    f |= BIT(F_AVX512F);
#endif
#ifdef __AVX512DQ__
    f |= BIT(F_AVX512DQ);
#endif
#ifdef __AVX512CD__
    f |= BIT(F_AVX512CD);
#endif
#ifdef __AVX512BW__
    f |= BIT(F_AVX512BW);
#endif
#ifdef __AVX512VL__
    f |= BIT(F_AVX512VL);
#endif
#ifdef __AVX512IFMA__
    f |= BIT(F_AVX512IFMA);
#endif
#ifdef __AVX512VBMI__
    f |= BIT(F_AVX512VBMI);
#endif
#ifdef __AVX512VBMI2__
    f |= BIT(F_AVX512VBMI2);
#endif
#ifdef __AVX512VNNI__
    f |= BIT(F_AVX512VNNI);
#endif
#ifdef __AVX512BITALG__
    f |= BIT(F_AVX512BITALG);
#endif
#ifdef __AVX512VPOPCNTDQ__
    f |= BIT(F_AVX512VPOPCNTDQ);
#endif
#ifdef __AVX512BF16__
    f |= BIT(F_AVX512BF16);
#endif
#ifdef __AVX512FP16__
    f |= BIT(F_AVX512FP16);
#endif
#ifdef __AVXVNNI__
    f |= BIT(F_AVXVNNI);
#endif
#ifdef __GFNI__
    f |= BIT(F_GFNI);
#endif
#ifdef __VAES__
    f |= BIT(F_VAES);
#endif
#ifdef __VPCLMULQDQ__
    f |= BIT(F_VPCLMULQDQ);
#endif
    return f;
}

static uint64_t xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/// Sets bit `f` of `*mask` when bit `bit` of `reg` is set.
static void take(uint64_t *mask, uint32_t reg, int bit, int f) {
    if ((reg >> bit) & 1) *mask |= BIT(f);
}

uint64_t edgehal_cpu_host_features(void) {
    uint32_t a, b, c, d;
    uint64_t f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    take(&f, c, 0, F_SSE3);
    take(&f, c, 9, F_SSSE3);
    take(&f, c, 19, F_SSE41);
    take(&f, c, 20, F_SSE42);
    take(&f, c, 23, F_POPCNT);
    take(&f, c, 22, F_MOVBE);
    // The vector extensions count only when the OS saves their registers (XCR0).
    int osxsave = (c >> 27) & 1;
    uint64_t xcr = osxsave ? xcr0() : 0;
    int ymm = (xcr & 0x6) == 0x6, zmm = (xcr & 0xE6) == 0xE6;
    if (ymm) {
        take(&f, c, 28, F_AVX);
        take(&f, c, 29, F_F16C);
        take(&f, c, 12, F_FMA);
    }
    if (__get_cpuid(0x80000001, &a, &b, &c, &d)) take(&f, c, 5, F_LZCNT);
    if (__get_cpuid_max(0, 0) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        take(&f, b, 3, F_BMI);
        take(&f, b, 8, F_BMI2);
        if (ymm) {
            take(&f, b, 5, F_AVX2);
            take(&f, c, 8, F_GFNI);
            take(&f, c, 9, F_VAES);
            take(&f, c, 10, F_VPCLMULQDQ);
        }
        if (zmm) {
            take(&f, b, 16, F_AVX512F);
            take(&f, b, 17, F_AVX512DQ);
            take(&f, b, 21, F_AVX512IFMA);
            take(&f, b, 28, F_AVX512CD);
            take(&f, b, 30, F_AVX512BW);
            take(&f, b, 31, F_AVX512VL);
            take(&f, c, 1, F_AVX512VBMI);
            take(&f, c, 6, F_AVX512VBMI2);
            take(&f, c, 11, F_AVX512VNNI);
            take(&f, c, 12, F_AVX512BITALG);
            take(&f, c, 14, F_AVX512VPOPCNTDQ);
            take(&f, d, 23, F_AVX512FP16);
        }
        uint32_t a1, b1, c1, d1;
        __cpuid_count(7, 1, a1, b1, c1, d1);
        if (ymm) take(&f, a1, 4, F_AVXVNNI);
        if (zmm) take(&f, a1, 5, F_AVX512BF16);
    }
    return f;
}

const char *edgehal_cpu_feature_name(int bit) {
    return bit >= 0 && bit < F_COUNT ? names[bit] : "";
}

/// Runs before main (and before any Swift code of the program): stops a build whose target CPU has
/// extensions this CPU lacks. EDGEHAL_SKIP_CPU_CHECK=1 lets it go on (to see what happens).
__attribute__((constructor)) static void edgehal_check_cpu(void) {
    uint64_t missing = edgehal_cpu_build_features() & ~edgehal_cpu_host_features();
    if (!missing) return;
    const char *skip = getenv("EDGEHAL_SKIP_CPU_CHECK");
    if (skip && skip[0] == '1') return;
    fputs("edgehal: this program was built for a CPU with instructions this one lacks (", stderr);
    int first = 1;
    for (int i = 0; i < F_COUNT; i++) {
        if (!((missing >> i) & 1)) continue;
        fputs(first ? names[i] : ", ", stderr);
        if (!first) fputs(names[i], stderr);
        first = 0;
    }
    fputs("); it would stop on an illegal instruction. Build it on this machine with --toolset "
          "Toolsets/native.json, or with Toolsets/haswell.json for any x86-64 CPU with AVX2.\n", stderr);
    exit(70);
}

#pragma clang attribute pop

#else

uint64_t edgehal_cpu_build_features(void) { return 0; }
uint64_t edgehal_cpu_host_features(void) { return 0; }
const char *edgehal_cpu_feature_name(int bit) { (void)bit; return ""; }

#endif
