#ifndef EDGEHAL_CPU_FEATURES_H
#define EDGEHAL_CPU_FEATURES_H

#include <stdint.h>

// What the compiler targets, as constants the CPU backend's Swift code can branch on. Swift's clang
// importer parses this header with Swift's own `-target-cpu` (a toolset's), so in Swift these say what
// the Swift code may use; a branch on a constant 0 is removed, intrinsics and all.
#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define EDGEHAL_BUILD_X86_AVX2 1
#else
#define EDGEHAL_BUILD_X86_AVX2 0
#endif

#if defined(__x86_64__) && defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AVX512BW__)
#define EDGEHAL_BUILD_X86_AVX512VNNI 1
#else
#define EDGEHAL_BUILD_X86_AVX512VNNI 0
#endif

#if defined(__x86_64__) && defined(__AVXVNNI__)
#define EDGEHAL_BUILD_X86_AVXVNNI 1
#else
#define EDGEHAL_BUILD_X86_AVXVNNI 0
#endif

/// Instruction-set extensions as bits (x86-64; 0 elsewhere), in the order of edgehal_cpu_feature_name.
/// Bit i is set in edgehal_cpu_build_features() when this library's C code was compiled for
/// extension i — the toolsets give C the same CPU as Swift (`-march` beside `-target-cpu`) — and in
/// edgehal_cpu_host_features() when the running CPU (and its OS, for the vector registers) has it.
uint64_t edgehal_cpu_build_features(void);
uint64_t edgehal_cpu_host_features(void);

/// The name of bit `bit` ("avx2", "avx512vnni", …), or "" past the last.
const char *edgehal_cpu_feature_name(int bit);

#endif
