// GGUF dequantization from a storage buffer, 8 values (a "part") at a time, for the GPU family's mat-vec.
// The including kernel declares `layout(binding = 9) readonly buffer AW { uint a32[]; };` (input 0 as
// 32-bit words) and one TYPE_* define (the same names as dequant.glsl).
//
//   void dequant_part(uint row, uint u, out vec4 lo, out vec4 hi)
//       row: byte offset of the row in AW (even; 4-aligned for f32); u: part index in the row, 4 parts to a
//       32-value chunk c = u / 4: part p = u % 4 is values 32c + 4p … 32c + 4p + 3 (lo) and
//       32c + 16 + 4p … 32c + 16 + 4p + 3 (hi).
//   QK, BLOCK_BYTES, TYPE_NAME; FLOAT_WEIGHTS and float value_at(uint row, uint k) for f32/f16.
//
// Why parts of 8: in every GGUF format the 4 bytes at 4p of a 16- or 32-byte run of codes hold exactly
// these 8 values (low and high nibbles of q4/q5, crumbs of q2_K/q3_K, the two 16-byte halves of q8_0 and
// of a K-quant chunk), so a lane loads one or two 32-bit words of codes plus its block's scales, and the
// 4 lanes of a block read neighbouring words: a subgroup's load instruction covers one contiguous span
// (8 q4_0 blocks = 144 bytes for 32 lanes) instead of 32 blocks at 18-byte strides. ggml's Vulkan mat-vec
// made the same move (8 values an iteration, 16-bit code loads, 128-bit activation loads) to take load on
// the memory system off its kernels.
//
// The values equal dequant.glsl's (same float operations, `precise` where those form a scale product
// first), so the two families agree with the reference the same way.
#ifndef PARTS_GLSL
#define PARTS_GLSL

// Word i of the weights: a32[i], unless the including kernel reads them another way (mul_mat_vec.comp's glu
// variant takes rows of two matrices, in two bindings, through the same functions).
#ifndef A32
#define A32(i) a32[i]
#endif

// The 32 bits at 2-aligned byte b, without a branch: the lanes of a subgroup mostly differ in b % 4 (q4_0's
// 18-byte blocks alternate), and a branch would run both sides. When b % 4 == 0 the second load is the same
// word again (never the one past the end), and the funnel shifts stay below 32.
uint a_word(uint b) {
    uint i = b >> 2, sh = (b & 2u) * 8u;
    return (A32(i) >> sh) | ((A32(i + ((b >> 1) & 1u)) << 16u) << (16u - sh));
}
// The 16 bits at 2-aligned byte b, and byte b.
uint a_half(uint b) { return (A32(b >> 2) >> ((b & 2u) * 8u)) & 0xFFFFu; }
uint a_byte(uint b) { return (A32(b >> 2) >> ((b & 3u) * 8u)) & 0xFFu; }
float a_f16(uint b) { return unpackHalf2x16(a_half(b)).x; }

// Four 4-bit fields of word w at bit `shift` of each byte, as floats; 2-bit and 1-bit fields; signed bytes.
vec4 nibbles(uint w, uint shift) { return vec4((uvec4(w) >> (uvec4(0u, 8u, 16u, 24u) + shift)) & 0xFu); }
uvec4 crumbs(uint w, uint shift) { return (uvec4(w) >> (uvec4(0u, 8u, 16u, 24u) + shift)) & 3u; }
uvec4 bits4(uint w, uint shift) { return (uvec4(w) >> (uvec4(0u, 8u, 16u, 24u) + shift)) & 1u; }
ivec4 int8s(uint w) { return ivec4(uvec4(w) << uvec4(24u, 16u, 8u, 0u)) >> 24; }
// Bits 4p … 4p + 3 (lo) and 16 + 4p … (hi) of a q5 block's qh word, as the fifth bit of 4 values.
vec4 fifth(uint qh, uint bit) { return vec4(((uvec4(qh) >> (uvec4(0u, 1u, 2u, 3u) + bit)) & 1u) << 4u); }

#if defined(TYPE_F32)
const uint QK = 1u, BLOCK_BYTES = 4u;
#define TYPE_NAME "f32"
#define FLOAT_WEIGHTS 1
float value_at(uint row, uint k) { return uintBitsToFloat(A32((row >> 2) + k)); }
void dequant_part(uint row, uint u, out vec4 lo, out vec4 hi) {
    uint i = (row >> 2) + 32u * (u >> 2) + 4u * (u & 3u);
    lo = uintBitsToFloat(uvec4(A32(i), A32(i + 1u), A32(i + 2u), A32(i + 3u)));
    hi = uintBitsToFloat(uvec4(A32(i + 16u), A32(i + 17u), A32(i + 18u), A32(i + 19u)));
}

#elif defined(TYPE_F16)
const uint QK = 1u, BLOCK_BYTES = 2u;
#define TYPE_NAME "f16"
#define FLOAT_WEIGHTS 1
float value_at(uint row, uint k) { return a_f16(row + 2u * k); }
void dequant_part(uint row, uint u, out vec4 lo, out vec4 hi) {
    uint b = row + 64u * (u >> 2) + 8u * (u & 3u);
    lo = vec4(unpackHalf2x16(a_word(b)), unpackHalf2x16(a_word(b + 4u)));
    hi = vec4(unpackHalf2x16(a_word(b + 32u)), unpackHalf2x16(a_word(b + 36u)));
}

#elif defined(TYPE_Q8_0)
// { f16 d; int8 qs[32] }: x = q * d.
const uint QK = 32u, BLOCK_BYTES = 34u;
#define TYPE_NAME "q8_0"
void dequant_part(uint row, uint u, out vec4 lo, out vec4 hi) {
    uint b = row + BLOCK_BYTES * (u >> 2), p = u & 3u;
    float d = a_f16(b);
    lo = vec4(int8s(a_word(b + 2u + 4u * p))) * d;
    hi = vec4(int8s(a_word(b + 18u + 4u * p))) * d;
}

#elif defined(TYPE_Q4_0)
// { f16 d; u8 qs[16] }: value l in the low nibble of qs[l], value l + 16 in the high one; x = d * (q - 8).
const uint QK = 32u, BLOCK_BYTES = 18u;
#define TYPE_NAME "q4_0"
void dequant_part(uint row, uint u, out vec4 lo, out vec4 hi) {
    uint b = row + BLOCK_BYTES * (u >> 2);
    float d = a_f16(b);
    uint qs = a_word(b + 2u + 4u * (u & 3u));
    lo = d * (nibbles(qs, 0u) - 8.0);
    hi = d * (nibbles(qs, 4u) - 8.0);
}

#elif defined(TYPE_Q4_1)
// { f16 d; f16 m; u8 qs[16] }: x = d * q + m.
const uint QK = 32u, BLOCK_BYTES = 20u;
#define TYPE_NAME "q4_1"
void dequant_part(uint row, uint u, out vec4 lo, out vec4 hi) {
    uint b = row + BLOCK_BYTES * (u >> 2);
    vec2 dm = unpackHalf2x16(a_word(b));
    uint qs = a_word(b + 4u + 4u * (u & 3u));
    precise vec4 l = dm.x * nibbles(qs, 0u) + dm.y;
    precise vec4 h = dm.x * nibbles(qs, 4u) + dm.y;
    lo = l;
    hi = h;
}

#elif defined(TYPE_Q5_0)
// { f16 d; u32 qh; u8 qs[16] }: bit j of qh is bit 4 of value j; x = d * (q - 16).
const uint QK = 32u, BLOCK_BYTES = 22u;
#define TYPE_NAME "q5_0"
void dequant_part(uint row, uint u, out vec4 lo, out vec4 hi) {
    uint b = row + BLOCK_BYTES * (u >> 2), p = u & 3u;
    float d = a_f16(b);
    uint qh = a_word(b + 2u), qs = a_word(b + 6u + 4u * p);
    lo = d * ((nibbles(qs, 0u) + fifth(qh, 4u * p)) - 16.0);
    hi = d * ((nibbles(qs, 4u) + fifth(qh, 16u + 4u * p)) - 16.0);
}

#elif defined(TYPE_Q5_1)
// { f16 d; f16 m; u32 qh; u8 qs[16] }: x = d * q + m.
const uint QK = 32u, BLOCK_BYTES = 24u;
#define TYPE_NAME "q5_1"
void dequant_part(uint row, uint u, out vec4 lo, out vec4 hi) {
    uint b = row + BLOCK_BYTES * (u >> 2), p = u & 3u;
    vec2 dm = unpackHalf2x16(a_word(b));
    uint qh = a_word(b + 4u), qs = a_word(b + 8u + 4u * p);
    precise vec4 l = dm.x * (nibbles(qs, 0u) + fifth(qh, 4u * p)) + dm.y;
    precise vec4 h = dm.x * (nibbles(qs, 4u) + fifth(qh, 16u + 4u * p)) + dm.y;
    lo = l;
    hi = h;
}

#elif defined(TYPE_Q2_K)
// { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin }: chunk j = 4h + k takes bits 2k … 2k+1 of qs[32h + l];
// sub-blocks 2j, 2j+1 (16 values each) have scales[s] = scale | min << 4; x = (d * scale) * q - dmin * min.
const uint QK = 256u, BLOCK_BYTES = 84u;
#define TYPE_NAME "q2_K"
void dequant_part(uint row, uint u, out vec4 lo, out vec4 hi) {
    uint c = u >> 2, p = u & 3u, b = row + BLOCK_BYTES * (c >> 3), j = c & 7u;
    vec2 dd = unpackHalf2x16(a_word(b + 80u));
    uint sc = a_half(b + 2u * j);
    float dl0 = dd.x * float(sc & 0xFu), ml0 = dd.y * float((sc >> 4) & 0xFu);
    float dl1 = dd.x * float((sc >> 8) & 0xFu), ml1 = dd.y * float(sc >> 12);
    uint q = b + 16u + 32u * (j >> 2) + 4u * p, shift = 2u * (j & 3u);
    precise vec4 l = dl0 * vec4(crumbs(a_word(q), shift)) - ml0;
    precise vec4 h = dl1 * vec4(crumbs(a_word(q + 16u), shift)) - ml1;
    lo = l;
    hi = h;
}

#elif defined(TYPE_Q3_K)
// { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }: chunk j = 4h + k: low 2 bits = bits 2k … 2k+1 of
// qs[32h + l], third bit = bit j of hmask[l] (clear: subtract 4); 6-bit scales (stored + 32) of
// sub-blocks s = 2j, 2j+1: low 4 bits = nibble j / 4 of scales[s % 8], high 2 bits = bits 2(s/4) of
// scales[8 + s % 4]; x = (d * (scale - 32)) * q.
const uint QK = 256u, BLOCK_BYTES = 110u;
#define TYPE_NAME "q3_K"
void dequant_part(uint row, uint u, out vec4 lo, out vec4 hi) {
    uint c = u >> 2, p = u & 3u, b = row + BLOCK_BYTES * (c >> 3), j = c & 7u;
    float d = a_f16(b + 108u);
    uint low = a_half(b + 96u + 2u * (j & 3u)) >> (4u * (j >> 2));
    uint high = a_half(b + 104u + 2u * (j & 1u)) >> (2u * (j >> 1));
    float dl0 = d * float(int((low & 0xFu) | ((high & 3u) << 4)) - 32);
    float dl1 = d * float(int(((low >> 8) & 0xFu) | (((high >> 8) & 3u) << 4)) - 32);
    uint q = b + 32u + 32u * (j >> 2) + 4u * p, m = b + 4u * p, shift = 2u * (j & 3u);
    lo = dl0 * vec4(ivec4(crumbs(a_word(q), shift)) - ivec4((1u - bits4(a_word(m), j)) * 4u));
    hi = dl1 * vec4(ivec4(crumbs(a_word(q + 16u), shift)) - ivec4((1u - bits4(a_word(m + 16u), j)) * 4u));
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
// Chunk j's 6-bit scale and min of the super-block at byte b (int_parts.glsl's q4_K/q5_K read them here too).
uvec2 k4_scale_min(uint b, uint j) {
    uint sc, mn;
    if (j < 4u) {
        sc = a_byte(b + 4u + j) & 63u;
        mn = a_byte(b + 8u + j) & 63u;
    } else {
        sc = (a_byte(b + 8u + j) & 0xFu) | ((a_byte(b + j) >> 6) << 4);
        mn = (a_byte(b + 8u + j) >> 4) | ((a_byte(b + 4u + j) >> 6) << 4);
    }
    return uvec2(sc, mn);
}
void dequant_part(uint row, uint u, out vec4 lo, out vec4 hi) {
    uint c = u >> 2, p = u & 3u, b = row + BLOCK_BYTES * (c >> 3), j = c & 7u;
    vec2 dd = unpackHalf2x16(a_word(b));
    const uvec2 sm = k4_scale_min(b, j);
    float d1 = dd.x * float(sm.x), m1 = dd.y * float(sm.y);
    uint q = b + QS + 32u * (j >> 1) + 4u * p, shift = 4u * (j & 1u);
    vec4 n0 = nibbles(a_word(q), shift), n1 = nibbles(a_word(q + 16u), shift);
#ifdef TYPE_Q5_K
    n0 += vec4(bits4(a_word(b + 16u + 4u * p), j) << 4u);
    n1 += vec4(bits4(a_word(b + 32u + 4u * p), j) << 4u);
#endif
    precise vec4 l = d1 * n0 - m1;
    precise vec4 h = d1 * n1 - m1;
    lo = l;
    hi = h;
}

#elif defined(TYPE_Q6_K)
// { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }: chunk j = 4h + k: low 4 bits = nibble k / 2 of
// ql[64h + 32(k % 2) + l], high 2 bits = bits 2k … 2k+1 of qh[32h + l]; sub-blocks 2j, 2j+1 have signed
// scales; x = (d * scale) * (q - 32).
const uint QK = 256u, BLOCK_BYTES = 210u;
#define TYPE_NAME "q6_K"
vec4 six_bits(uint l, uint g, uint ls, uint hsh) {
    return vec4(ivec4(((uvec4(l) >> (uvec4(0u, 8u, 16u, 24u) + ls)) & 0xFu) | (crumbs(g, hsh) << 4u)) - 32);
}
void dequant_part(uint row, uint u, out vec4 lo, out vec4 hi) {
    uint c = u >> 2, p = u & 3u, b = row + BLOCK_BYTES * (c >> 3), j = c & 7u, k = j & 3u;
    float d = a_f16(b + 208u);
    int sc = int(a_half(b + 192u + 2u * j));
    float dl0 = d * float(bitfieldExtract(sc, 0, 8)), dl1 = d * float(bitfieldExtract(sc, 8, 8));
    uint l = b + 64u * (j >> 2) + 32u * (k & 1u) + 4u * p, g = b + 128u + 32u * (j >> 2) + 4u * p;
    uint ls = 4u * (k >> 1), hsh = 2u * k;
    lo = dl0 * six_bits(a_word(l), a_word(g), ls, hsh);
    hi = dl1 * six_bits(a_word(l + 16u), a_word(g + 16u), ls, hsh);
}

#else
#error "parts.glsl: define one TYPE_*"
#endif

#endif
