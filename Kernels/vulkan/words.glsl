// Reads from an R32_UINT uniform texel buffer at byte offsets that are only 2-aligned (GGUF block
// strides are even but rarely multiples of 4). The sampler is a parameter, so any kernel can use these
// on any of its inputs. Nothing here fetches a texel that lies wholly outside the bytes asked for.
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

// Four words at bytes b, b+4, b+8, b+12 (b even): five fetches, the fifth only used when b % 4 == 2.
uvec4 words4_at(usamplerBuffer t, uint b) {
    int i = int(b >> 2);
    uint r0 = texelFetch(t, i).x, r1 = texelFetch(t, i + 1).x, r2 = texelFetch(t, i + 2).x,
         r3 = texelFetch(t, i + 3).x, r4 = texelFetch(t, i + 3 + int((b >> 1) & 1u)).x;
    return uvec4(funnel_word(r0, r1, b), funnel_word(r1, r2, b), funnel_word(r2, r3, b), funnel_word(r3, r4, b));
}

// The 16 bits at even byte b (always inside one texel).
uint half_bits_at(usamplerBuffer t, uint b) { return (texelFetch(t, int(b >> 2)).x >> ((b & 2u) * 8u)) & 0xFFFFu; }

// An IEEE half at even byte b, widened exactly to float.
float half_at(usamplerBuffer t, uint b) { return unpackHalf2x16(half_bits_at(t, b)).x; }

// Byte b (any alignment).
uint byte_at(usamplerBuffer t, uint b) { return (texelFetch(t, int(b >> 2)).x >> ((b & 3u) * 8u)) & 0xFFu; }

// An f32 at 4-aligned byte b.
float float_at(usamplerBuffer t, uint b) { return uintBitsToFloat(texelFetch(t, int(b >> 2)).x); }

#endif
