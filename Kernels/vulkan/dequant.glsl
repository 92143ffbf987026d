// GGUF dequantization from texel buffers (RGBA32UI views), one 32-value chunk at a time: chunk c of a row holds
// values 32c … 32c+31 (a 256-value K-quant super-block is 8 chunks). The type is chosen by one define:
// TYPE_F32, TYPE_F16, TYPE_Q8_0, TYPE_Q4_0, TYPE_Q4_1, TYPE_Q5_0, TYPE_Q5_1, TYPE_Q2_K … TYPE_Q6_K.
//
//   void dequant_chunk(usamplerBuffer t4, uint row, uint c, out vec4 v[8])
//       t4: the tensor's RGBA32UI view; row: byte offset of the row (even; 4-aligned for f32);
//       v[i][e] = value 32c + 4i + e.
//   QK (values per block), BLOCK_BYTES, TYPE_NAME.
//   f32/f16 only (FLOAT_WEIGHTS defined): float value_at(usamplerBuffer t, uint row, uint k) through the
//       R32_UINT view t, for the values past the last whole chunk of a row of any length.
//
// Layouts and float operations follow Sources/EdgeHAL/Quant (ggml's dequantize_row_*): scale products are
// formed first, then `factor * q` (then `+ m` / `- dmin * min`); `precise` keeps the compiler from fusing
// those into an fma, so the values are bit-identical to the reference.
#ifndef DEQUANT_GLSL
#define DEQUANT_GLSL
#include "words.glsl"

// Four 4-bit fields of word w at bit `shift` of each byte, as floats.
vec4 nibbles(uint w, uint shift) { return vec4((uvec4(w) >> (uvec4(0u, 8u, 16u, 24u) + shift)) & 0xFu); }
// Four 2-bit fields (bits shift … shift+1 of each byte).
uvec4 crumbs(uint w, uint shift) { return (uvec4(w) >> (uvec4(0u, 8u, 16u, 24u) + shift)) & 3u; }
// Four 1-bit fields.
uvec4 bits4(uint w, uint shift) { return (uvec4(w) >> (uvec4(0u, 8u, 16u, 24u) + shift)) & 1u; }
// Byte i (0 … 11) of the three words s (the 12 packed scale bytes of q4_K / q5_K).
uint byte_of(uvec3 s, uint i) { return (s[i >> 2] >> ((i & 3u) * 8u)) & 0xFFu; }
// The 32 bits at byte 4j + 2 of the words u (fields that follow a leading f16).
#define at_half(u, j) (((u)[j] >> 16) | ((u)[(j) + 1] << 16))
// The four bytes of w as signed integers.
ivec4 int8s(uint w) { return ivec4(uvec4(w) << uvec4(24u, 16u, 8u, 0u)) >> 24; }

#if defined(TYPE_F32)
const uint QK = 1u, BLOCK_BYTES = 4u;
#define TYPE_NAME "f32"
#define FLOAT_WEIGHTS 1
float value_at(usamplerBuffer t, uint row, uint k) { return float_at(t, row + 4u * k); }
WORDS_X4(chunk_words, 128)
void dequant_chunk(usamplerBuffer t4, uint row, uint c, out vec4 v[8]) {
    uint u[32];
    chunk_words(t4, row + 128u * c, u);
    [[unroll]] for (int q = 0; q < 8; q++) v[q] = uintBitsToFloat(uvec4(u[4 * q], u[4 * q + 1], u[4 * q + 2], u[4 * q + 3]));
}

#elif defined(TYPE_F16)
const uint QK = 1u, BLOCK_BYTES = 2u;
#define TYPE_NAME "f16"
#define FLOAT_WEIGHTS 1
float value_at(usamplerBuffer t, uint row, uint k) { return half_at(t, row + 2u * k); }
WORDS_X4(chunk_words, 64)
void dequant_chunk(usamplerBuffer t4, uint row, uint c, out vec4 v[8]) {
    uint u[16];
    chunk_words(t4, row + 64u * c, u);
    [[unroll]] for (int q = 0; q < 8; q++) v[q] = vec4(unpackHalf2x16(u[2 * q]), unpackHalf2x16(u[2 * q + 1]));
}

#elif defined(TYPE_Q8_0)
// { f16 d; int8 qs[32] }: x = q * d.
const uint QK = 32u, BLOCK_BYTES = 34u;
#define TYPE_NAME "q8_0"
WORDS_X4(block_words, 34)
void dequant_chunk(usamplerBuffer t4, uint row, uint c, out vec4 v[8]) {
    uint u[9];
    block_words(t4, row + BLOCK_BYTES * c, u);
    float d = unpackHalf2x16(u[0]).x;
    [[unroll]] for (int q = 0; q < 8; q++) v[q] = vec4(int8s(at_half(u, q))) * d;
}

#elif defined(TYPE_Q4_0)
// { f16 d; u8 qs[16] }: value l in the low nibble of qs[l], value l + 16 in the high one; x = d * (q - 8).
const uint QK = 32u, BLOCK_BYTES = 18u;
#define TYPE_NAME "q4_0"
WORDS_X4(block_words, 18)
void dequant_chunk(usamplerBuffer t4, uint row, uint c, out vec4 v[8]) {
    uint u[5];
    block_words(t4, row + BLOCK_BYTES * c, u);
    float d = unpackHalf2x16(u[0]).x;
    [[unroll]] for (int q = 0; q < 4; q++) {
        uint qs = at_half(u, q);
        v[q] = d * (nibbles(qs, 0u) - 8.0);
        v[q + 4] = d * (nibbles(qs, 4u) - 8.0);
    }
}

#elif defined(TYPE_Q4_1)
// { f16 d; f16 m; u8 qs[16] }: x = d * q + m.
const uint QK = 32u, BLOCK_BYTES = 20u;
#define TYPE_NAME "q4_1"
WORDS_X4(block_words, 20)
void dequant_chunk(usamplerBuffer t4, uint row, uint c, out vec4 v[8]) {
    uint u[5];
    block_words(t4, row + BLOCK_BYTES * c, u);
    vec2 dm = unpackHalf2x16(u[0]);
    [[unroll]] for (int q = 0; q < 4; q++) {
        precise vec4 lo = dm.x * nibbles(u[q + 1], 0u) + dm.y;
        precise vec4 hi = dm.x * nibbles(u[q + 1], 4u) + dm.y;
        v[q] = lo;
        v[q + 4] = hi;
    }
}

#elif defined(TYPE_Q5_0)
// { f16 d; u32 qh; u8 qs[16] }: bit j of qh is bit 4 of value j; x = d * (q - 16).
const uint QK = 32u, BLOCK_BYTES = 22u;
#define TYPE_NAME "q5_0"
WORDS_X4(block_words, 22)
void dequant_chunk(usamplerBuffer t4, uint row, uint c, out vec4 v[8]) {
    uint u[6];
    block_words(t4, row + BLOCK_BYTES * c, u);
    float d = unpackHalf2x16(u[0]).x;
    uint qh = at_half(u, 0);
    uvec4 qs = uvec4(at_half(u, 1), at_half(u, 2), at_half(u, 3), at_half(u, 4));
    [[unroll]] for (int q = 0; q < 4; q++) {
        uvec4 h0 = (uvec4(qh) >> (uvec4(0u, 1u, 2u, 3u) + uint(4 * q))) & 1u;
        uvec4 h1 = (uvec4(qh) >> (uvec4(16u, 17u, 18u, 19u) + uint(4 * q))) & 1u;
        v[q] = d * ((nibbles(qs[q], 0u) + vec4(h0 << 4u)) - 16.0);
        v[q + 4] = d * ((nibbles(qs[q], 4u) + vec4(h1 << 4u)) - 16.0);
    }
}

#elif defined(TYPE_Q5_1)
// { f16 d; f16 m; u32 qh; u8 qs[16] }: x = d * q + m.
const uint QK = 32u, BLOCK_BYTES = 24u;
#define TYPE_NAME "q5_1"
WORDS_X4(block_words, 24)
void dequant_chunk(usamplerBuffer t4, uint row, uint c, out vec4 v[8]) {
    uint u[6];
    block_words(t4, row + BLOCK_BYTES * c, u);
    vec2 dm = unpackHalf2x16(u[0]);
    uint qh = u[1];
    uvec4 qs = uvec4(u[2], u[3], u[4], u[5]);
    [[unroll]] for (int q = 0; q < 4; q++) {
        uvec4 h0 = (uvec4(qh) >> (uvec4(0u, 1u, 2u, 3u) + uint(4 * q))) & 1u;
        uvec4 h1 = (uvec4(qh) >> (uvec4(16u, 17u, 18u, 19u) + uint(4 * q))) & 1u;
        precise vec4 lo = dm.x * (nibbles(qs[q], 0u) + vec4(h0 << 4u)) + dm.y;
        precise vec4 hi = dm.x * (nibbles(qs[q], 4u) + vec4(h1 << 4u)) + dm.y;
        v[q] = lo;
        v[q + 4] = hi;
    }
}

#elif defined(TYPE_Q2_K)
// { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin }: chunk j = 4h + k takes bits 2k … 2k+1 of qs[32h + l];
// sub-blocks 2j, 2j+1 (16 values each) have scales[s] = scale | min << 4; x = (d * scale) * q - dmin * min.
const uint QK = 256u, BLOCK_BYTES = 84u;
#define TYPE_NAME "q2_K"
WORDS_X4(half_words, 2)
WORDS_X4(pair_words, 4)
WORDS_X4(run_words, 32)
void dequant_chunk(usamplerBuffer t4, uint row, uint c, out vec4 v[8]) {
    uint b = row + BLOCK_BYTES * (c >> 3), j = c & 7u;
    uint h[1], p[1], q0[8], q1[8];
    pair_words(t4, b + 80u, p);
    half_words(t4, b + 2u * j, h);
    vec2 dd = unpackHalf2x16(p[0]);
    uint sc = h[0] & 0xFFFFu;
    float dl0 = dd.x * float(sc & 0xFu), ml0 = dd.y * float((sc >> 4) & 0xFu);
    float dl1 = dd.x * float((sc >> 8) & 0xFu), ml1 = dd.y * float(sc >> 12);
    run_words(t4, b + 16u + 32u * (j >> 2), q0);
    uint shift = 2u * (j & 3u);
    [[unroll]] for (int q = 0; q < 4; q++) {
        precise vec4 lo = dl0 * vec4(crumbs(q0[q], shift)) - ml0;
        precise vec4 hi = dl1 * vec4(crumbs(q0[q + 4], shift)) - ml1;
        v[q] = lo;
        v[q + 4] = hi;
    }
}

#elif defined(TYPE_Q3_K)
// { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }: chunk j = 4h + k: low 2 bits = bits 2k … 2k+1 of
// qs[32h + l], third bit = bit j of hmask[l] (clear: subtract 4); 6-bit scales (stored + 32) of
// sub-blocks s = 2j, 2j+1: low 4 bits = nibble j / 4 of scales[s % 8], high 2 bits = bits 2(s/4) of
// scales[8 + s % 4]; x = (d * (scale - 32)) * q.
const uint QK = 256u, BLOCK_BYTES = 110u;
#define TYPE_NAME "q3_K"
WORDS_X4(half_words, 2)
WORDS_X4(run_words, 32)
void dequant_chunk(usamplerBuffer t4, uint row, uint c, out vec4 v[8]) {
    uint b = row + BLOCK_BYTES * (c >> 3), j = c & 7u;
    uint hd[1], hl[1], hh[1], q0[8], m0[8];
    half_words(t4, b + 108u, hd);
    half_words(t4, b + 96u + 2u * (j & 3u), hl);
    half_words(t4, b + 104u + 2u * (j & 1u), hh);
    float d = unpackHalf2x16(hd[0]).x;
    uint low = (hl[0] & 0xFFFFu) >> (4u * (j >> 2));
    uint high = (hh[0] & 0xFFFFu) >> (2u * (j >> 1));
    float dl0 = d * float(int((low & 0xFu) | ((high & 3u) << 4)) - 32);
    float dl1 = d * float(int(((low >> 8) & 0xFu) | (((high >> 8) & 3u) << 4)) - 32);
    run_words(t4, b + 32u + 32u * (j >> 2), q0);
    run_words(t4, b, m0);
    uint shift = 2u * (j & 3u);
    [[unroll]] for (int q = 0; q < 4; q++) {
        v[q] = dl0 * vec4(ivec4(crumbs(q0[q], shift)) - ivec4((1u - bits4(m0[q], j)) * 4u));
        v[q + 4] = dl1 * vec4(ivec4(crumbs(q0[q + 4], shift)) - ivec4((1u - bits4(m0[q + 4], j)) * 4u));
    }
}

#elif defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
// q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }, q5_K adds u8 qh[32] before qs (bit j of qh[l] is
// bit 4): chunk j = sub-block j, low 4 bits = nibble j % 2 of qs[32(j/2) + l]; 6-bit scale and min packed
// as ggml's get_scale_min_k4; x = (d * scale) * q - dmin * min.
#ifdef TYPE_Q4_K
const uint QK = 256u, BLOCK_BYTES = 144u, QS = 16u;
#define TYPE_NAME "q4_K"
#else
const uint QK = 256u, BLOCK_BYTES = 176u, QS = 48u;
#define TYPE_NAME "q5_K"
#endif
WORDS_X4(head_words, 16)
WORDS_X4(run_words, 32)
void dequant_chunk(usamplerBuffer t4, uint row, uint c, out vec4 v[8]) {
    uint b = row + BLOCK_BYTES * (c >> 3), j = c & 7u;
    uint hd[4], q0[8];
    head_words(t4, b, hd);
    vec2 dd = unpackHalf2x16(hd[0]);
    uvec3 s = uvec3(hd[1], hd[2], hd[3]);
    uint sc, mn;
    if (j < 4u) {
        sc = byte_of(s, j) & 63u;
        mn = byte_of(s, j + 4u) & 63u;
    } else {
        sc = (byte_of(s, j + 4u) & 0xFu) | ((byte_of(s, j - 4u) >> 6) << 4);
        mn = (byte_of(s, j + 4u) >> 4) | ((byte_of(s, j) >> 6) << 4);
    }
    float d1 = dd.x * float(sc), m1 = dd.y * float(mn);
    run_words(t4, b + QS + 32u * (j >> 1), q0);
    uint shift = 4u * (j & 1u);
#ifdef TYPE_Q5_K
    uint h0[8];
    run_words(t4, b + 16u, h0);
#endif
    [[unroll]] for (int q = 0; q < 4; q++) {
        vec4 n0 = nibbles(q0[q], shift), n1 = nibbles(q0[q + 4], shift);
#ifdef TYPE_Q5_K
        n0 += vec4(bits4(h0[q], j) << 4u);
        n1 += vec4(bits4(h0[q + 4], j) << 4u);
#endif
        precise vec4 lo = d1 * n0 - m1;
        precise vec4 hi = d1 * n1 - m1;
        v[q] = lo;
        v[q + 4] = hi;
    }
}

#elif defined(TYPE_Q6_K)
// { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }: chunk j = 4h + k: low 4 bits = nibble k / 2 of
// ql[64h + 32(k % 2) + l], high 2 bits = bits 2k … 2k+1 of qh[32h + l]; sub-blocks 2j, 2j+1 have signed
// scales; x = (d * scale) * (q - 32).
const uint QK = 256u, BLOCK_BYTES = 210u;
#define TYPE_NAME "q6_K"
WORDS_X4(half_words, 2)
WORDS_X4(run_words, 32)
void dequant_chunk(usamplerBuffer t4, uint row, uint c, out vec4 v[8]) {
    uint b = row + BLOCK_BYTES * (c >> 3), j = c & 7u;
    uint hd[1], hs[1], l0[8], g0[8];
    half_words(t4, b + 208u, hd);
    half_words(t4, b + 192u + 2u * j, hs);
    float d = unpackHalf2x16(hd[0]).x;
    int sc = int(hs[0] & 0xFFFFu);
    float dl0 = d * float(bitfieldExtract(sc, 0, 8)), dl1 = d * float(bitfieldExtract(sc, 8, 8));
    uint k = j & 3u;
    run_words(t4, b + 64u * (j >> 2) + 32u * (k & 1u), l0);
    run_words(t4, b + 128u + 32u * (j >> 2), g0);
    uint ls = 4u * (k >> 1), hsh = 2u * k;
    [[unroll]] for (int q = 0; q < 4; q++) {
        vec4 c0 = vec4(ivec4(((uvec4(l0[q]) >> (uvec4(0u, 8u, 16u, 24u) + ls)) & 0xFu) | (crumbs(g0[q], hsh) << 4u)) - 32);
        vec4 c1 = vec4(ivec4(((uvec4(l0[q + 4]) >> (uvec4(0u, 8u, 16u, 24u) + ls)) & 0xFu) | (crumbs(g0[q + 4], hsh) << 4u)) - 32);
        v[q] = dl0 * c0;
        v[q + 4] = dl1 * c1;
    }
}

#else
#error "dequant.glsl: define one TYPE_*"
#endif

#endif
