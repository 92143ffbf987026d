// Reads from uniform texel buffers at byte offsets that are only 2-aligned (GGUF block strides are even but
// rarely multiples of 4). The sampler is a parameter, so any kernel can use these on any of its inputs:
// the scalar helpers take the R32_UINT view (binding i), the *_x4 helpers the RGBA32UI view (binding 4 + i).
// Nothing here fetches a texel that lies wholly outside the bytes asked for.
#ifndef WORDS_GLSL
#define WORDS_GLSL

// The 32 bits at even byte b, given lo = texel b / 4 and hi = the next texel (ignored when b % 4 == 0).
// Both shifts stay below 32 (a shift by 32 is undefined in GLSL).
uint funnel_word(uint lo, uint hi, uint b) {
    uint sh = (b & 2u) * 8u;
    return (lo >> sh) | ((hi << 16u) << (16u - sh));
}

// One 32-bit word at even byte b: a second fetch only when b % 4 == 2 (else the same texel again).
uint word_at(usamplerBuffer t, uint b) {
    int i = int(b >> 2);
    return funnel_word(texelFetch(t, i).x, texelFetch(t, i + int((b >> 1) & 1u)).x, b);
}

// The 16 bits at even byte b (always inside one texel).
uint half_bits_at(usamplerBuffer t, uint b) { return (texelFetch(t, int(b >> 2)).x >> ((b & 2u) * 8u)) & 0xFFFFu; }

// An IEEE half at even byte b, widened exactly to float.
float half_at(usamplerBuffer t, uint b) { return unpackHalf2x16(half_bits_at(t, b)).x; }

// Byte b (any alignment).
uint byte_at(usamplerBuffer t, uint b) { return (texelFetch(t, int(b >> 2)).x >> ((b & 3u) * 8u)) & 0xFFu; }

// An f32 at 4-aligned byte b.
float float_at(usamplerBuffer t, uint b) { return uintBitsToFloat(texelFetch(t, int(b >> 2)).x); }

// RGBA32UI helpers: lavapipe pays per fetch, not per byte (an RGBA fetch costs about what an R32 fetch
// does), so these fetch a window of 16-byte texels and realign it in registers (two select stages on
// the word offset, then a funnel shift for the half-word).
//
// WORDS_X4(NAME, NB) defines `void NAME(usamplerBuffer t4, uint b, out uint u[(NB + 3) / 4])`: u[j] = the
// 32 bits at bytes b + 4j of an NB-byte run at even byte b (the upper half of the last word is junk when
// NB % 4 == 2). It makes 1 + ceil((NB - 2) / 16) fetches, enough for any 2-aligned start, each clamped
// to the texel holding byte b + NB - 1.
#define WORDS_X4(NAME, NB) \
void NAME(usamplerBuffer t4, uint b, out uint u[(NB + 3) / 4]) { \
    const int N = (NB + 3) / 4, T = 1 + (NB + 13) / 16; \
    int first = int(b >> 4), last = int((b + uint(NB) - 1u) >> 4); \
    uint w[4 * T + 1]; \
    [[unroll]] for (int k = 0; k < T; k++) { \
        uvec4 x = texelFetch(t4, min(first + k, last)); \
        w[4 * k] = x.x; w[4 * k + 1] = x.y; w[4 * k + 2] = x.z; w[4 * k + 3] = x.w; \
    } \
    w[4 * T] = 0u; \
    uint wo = (b >> 2) & 3u, s2[N + 2], s1[N + 1]; \
    [[unroll]] for (int j = 0; j < N + 2; j++) s2[j] = (wo & 2u) != 0u ? w[min(j + 2, 4 * T)] : w[j]; \
    [[unroll]] for (int j = 0; j < N + 1; j++) s1[j] = (wo & 1u) != 0u ? s2[j + 1] : s2[j]; \
    [[unroll]] for (int j = 0; j < N; j++) u[j] = funnel_word(s1[j], s1[j + 1], b); \
}

#endif
