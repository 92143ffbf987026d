// GGUF dequantization 8 values (a "part") at a time, for the GPU family's mat-vec (mul_mat_vec.cl; the host
// prepends this file to it). One build option picks the type, as for dequant.cl (-DTYPE_Q4_0=1, …).
//
//   void dequant_part(__global const uchar *row, uint u, float4 *lo, float4 *hi)
//       row: the row's first byte (even; 4-aligned for f32); u: part index, 4 parts to a 32-value chunk
//       c = u / 4: part p = u % 4 is values 32c + 4p … 32c + 4p + 3 (lo) and 32c + 16 + 4p … + 3 (hi).
//   float value_at(__global const uchar *row, uint k)   f32/f16 only (FLOAT_WEIGHTS), as in dequant.cl.
//
// Why parts of 8: in every GGUF format the 4 bytes at 4p of a 16- or 32-byte run of codes hold exactly
// these 8 values (low and high nibbles of q4/q5, crumbs of q2_K/q3_K, the two halves of q8_0 and of a
// K-quant chunk), so a work-item loads one or two words of codes and its block's scales, and the 4 items
// of a block read neighbouring words: a warp's load covers one contiguous span (8 q4_0 blocks, 144 bytes,
// for 32 items) where dequant_chunk's item a block spreads 32 blocks at 18-byte strides. Codes are read as
// pairs of ushorts (blocks sit at even offsets; a uint load needs 4-byte alignment in OpenCL C).
// Values equal dequant.cl's: FP_CONTRACT is OFF here too, and the scale products are formed first.

#pragma OPENCL FP_CONTRACT OFF

float f16_at(__global const uchar *p) { return vload_half(0, (__global const half *)p); }
// The 32 bits at even address p, little-endian.
uint word_at(__global const uchar *p) {
    ushort2 h = vload2(0, (__global const ushort *)p);
    return (uint)h.s0 | (uint)h.s1 << 16;
}
// Bits shift … shift+width-1 of each byte of w, widened to int.
int4 fields(uint w, uint shift, uint mask) {
    return convert_int4(((uint4)(w) >> ((uint4)(0, 8, 16, 24) + shift)) & mask);
}
// Bits bit … bit+3 of a q5 block's qh, each as the fifth bit (16) of a code.
int4 fifth(uint qh, uint bit) { return convert_int4((((uint4)(qh) >> ((uint4)(0, 1, 2, 3) + bit)) & 1) << 4); }

#if defined(TYPE_F32)
#define FLOAT_WEIGHTS 1
void dequant_part(__global const uchar *row, uint u, float4 *lo, float4 *hi) {
    __global const float *p = (__global const float *)row + 32 * (u >> 2) + 4 * (u & 3);
    *lo = vload4(0, p);
    *hi = vload4(4, p);
}
float value_at(__global const uchar *row, uint k) { return ((__global const float *)row)[k]; }

#elif defined(TYPE_F16)
#define FLOAT_WEIGHTS 1
void dequant_part(__global const uchar *row, uint u, float4 *lo, float4 *hi) {
    __global const half *p = (__global const half *)row + 32 * (u >> 2) + 4 * (u & 3);
    *lo = vload_half4(0, p);
    *hi = vload_half4(4, p);
}
float value_at(__global const uchar *row, uint k) { return vload_half(k, (__global const half *)row); }

#elif defined(TYPE_Q8_0)
// { f16 d; i8 qs[32] }, 34 bytes: x = q * d.
void dequant_part(__global const uchar *row, uint u, float4 *lo, float4 *hi) {
    __global const uchar *p = row + 34 * (u >> 2), *q = p + 2 + 4 * (u & 3);
    float d = f16_at(p);
    *lo = convert_float4(as_char4(word_at(q))) * d;
    *hi = convert_float4(as_char4(word_at(q + 16))) * d;
}

#elif defined(TYPE_Q4_0) || defined(TYPE_Q4_1)
// q4_0 { f16 d; u8 qs[16] }, 18 bytes: x = d * (q - 8). q4_1 { f16 d; f16 m; u8 qs[16] }, 20 bytes:
// x = d * q + m. Value l is the low nibble of qs[l], value l + 16 the high one.
void dequant_part(__global const uchar *row, uint u, float4 *lo, float4 *hi) {
#ifdef TYPE_Q4_0
    __global const uchar *p = row + 18 * (u >> 2);
    uint qs = word_at(p + 2 + 4 * (u & 3));
    float d = f16_at(p);
    *lo = d * convert_float4(fields(qs, 0, 15) - 8);
    *hi = d * convert_float4(fields(qs, 4, 15) - 8);
#else
    __global const uchar *p = row + 20 * (u >> 2);
    uint qs = word_at(p + 4 + 4 * (u & 3));
    float d = f16_at(p), m = f16_at(p + 2);
    *lo = d * convert_float4(fields(qs, 0, 15)) + m;
    *hi = d * convert_float4(fields(qs, 4, 15)) + m;
#endif
}

#elif defined(TYPE_Q5_0) || defined(TYPE_Q5_1)
// q5_0 { f16 d; u32 qh; u8 qs[16] }, 22 bytes: x = d * (q - 16). q5_1 { f16 d; f16 m; u32 qh; u8 qs[16] },
// 24 bytes: x = d * q + m. Low 4 bits as q4_*; bit j of the little-endian qh is bit 4 of value j.
void dequant_part(__global const uchar *row, uint u, float4 *lo, float4 *hi) {
#ifdef TYPE_Q5_0
    __global const uchar *p = row + 22 * (u >> 2), *h = p + 2;
#else
    __global const uchar *p = row + 24 * (u >> 2), *h = p + 4;
#endif
    uint part = u & 3, qh = word_at(h), qs = word_at(h + 4 + 4 * part);
    int4 l = fields(qs, 0, 15) | fifth(qh, 4 * part), g = fields(qs, 4, 15) | fifth(qh, 16 + 4 * part);
    float d = f16_at(p);
#ifdef TYPE_Q5_0
    *lo = d * convert_float4(l - 16);
    *hi = d * convert_float4(g - 16);
#else
    float m = f16_at(p + 2);
    *lo = d * convert_float4(l) + m;
    *hi = d * convert_float4(g) + m;
#endif
}

#elif defined(TYPE_Q2_K)
// { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin }, 84 bytes. Chunk j = 4h + k of a super-block: bits 2k … 2k+1
// of qs[32h + l]; its sub-blocks s = 2j, 2j + 1 (16 values each) have scales[s] = scale | min << 4;
// x = (d * scale) * q - dmin * min.
void dequant_part(__global const uchar *row, uint u, float4 *lo, float4 *hi) {
    uint c = u >> 2, j = c & 7;
    __global const uchar *p = row + 84 * (c >> 3), *q = p + 16 + 32 * (j >> 2) + 4 * (u & 3);
    float d = f16_at(p + 80), dmin = f16_at(p + 82);
    uchar s0 = p[2 * j], s1 = p[2 * j + 1];
    uint shift = 2 * (j & 3);
    *lo = (d * (float)(s0 & 15)) * convert_float4(fields(word_at(q), shift, 3)) - dmin * (float)(s0 >> 4);
    *hi = (d * (float)(s1 & 15)) * convert_float4(fields(word_at(q + 16), shift, 3)) - dmin * (float)(s1 >> 4);
}

#elif defined(TYPE_Q3_K)
// { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }, 110 bytes. Chunk j = 4h + k: low 2 bits = bits
// 2k … 2k+1 of qs[32h + l]; third bit = bit j of hmask[l], and when it is clear the code is reduced by 4.
// Sub-block s's 6-bit scale (stored + 32): low 4 bits = nibble s / 8 of scales[s % 8], high 2 bits =
// bits 2(s/4) … of scales[8 + s % 4]. x = (d * (scale - 32)) * q.
float q3_scale(__global const uchar *p, float d, uint s) {
    int low4 = (p[96 + s % 8] >> (4 * (s / 8))) & 15, high2 = (p[104 + s % 4] >> (2 * (s / 4))) & 3;
    return d * (float)((low4 | high2 << 4) - 32);
}
void dequant_part(__global const uchar *row, uint u, float4 *lo, float4 *hi) {
    uint c = u >> 2, j = c & 7, part = u & 3;
    __global const uchar *p = row + 110 * (c >> 3), *q = p + 32 + 32 * (j >> 2) + 4 * part, *m = p + 4 * part;
    float d = f16_at(p + 108);
    uint shift = 2 * (j & 3);
    *lo = q3_scale(p, d, 2 * j) * convert_float4(fields(word_at(q), shift, 3) - (1 - fields(word_at(m), j, 1)) * 4);
    *hi = q3_scale(p, d, 2 * j + 1) * convert_float4(fields(word_at(q + 16), shift, 3) - (1 - fields(word_at(m + 16), j, 1)) * 4);
}

#elif defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
// q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }, 144 bytes; q5_K adds u8 qh[32] before qs, 176 bytes
// (bit j of qh[l] is bit 4). Chunk j = sub-block j: low 4 bits = nibble j % 2 of qs[32(j/2) + l]; 6-bit
// scale and min packed as ggml's get_scale_min_k4; x = (d * scale) * q - dmin * min.
void dequant_part(__global const uchar *row, uint u, float4 *lo, float4 *hi) {
    uint c = u >> 2, j = c & 7, part = u & 3;
#ifdef TYPE_Q4_K
    __global const uchar *p = row + 144 * (c >> 3), *qs = p + 16;
#else
    __global const uchar *p = row + 176 * (c >> 3), *qs = p + 48;
#endif
    float d = f16_at(p), dmin = f16_at(p + 2);
    __global const uchar *s = p + 4;
    int sc, mn;
    if (j < 4) {
        sc = s[j] & 63;
        mn = s[j + 4] & 63;
    } else {
        sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
        mn = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
    float d1 = d * (float)sc, m1 = dmin * (float)mn;
    __global const uchar *q = qs + 32 * (j >> 1) + 4 * part;
    uint shift = 4 * (j & 1);
    int4 l = fields(word_at(q), shift, 15), g = fields(word_at(q + 16), shift, 15);
#ifdef TYPE_Q5_K
    l |= fields(word_at(p + 16 + 4 * part), j, 1) << 4;
    g |= fields(word_at(p + 32 + 4 * part), j, 1) << 4;
#endif
    *lo = d1 * convert_float4(l) - m1;
    *hi = d1 * convert_float4(g) - m1;
}

#elif defined(TYPE_Q6_K)
// { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }, 210 bytes. Chunk j = 4h + k: low 4 bits = nibble k / 2 of
// ql[64h + 32(k % 2) + l], high 2 bits = bits 2k … 2k+1 of qh[32h + l]; sub-blocks 2j, 2j + 1 have signed
// 8-bit scales; x = (d * scale) * (q - 32).
void dequant_part(__global const uchar *row, uint u, float4 *lo, float4 *hi) {
    uint c = u >> 2, j = c & 7, h = j >> 2, k = j & 3, part = u & 3;
    __global const uchar *p = row + 210 * (c >> 3);
    __global const uchar *ql = p + 64 * h + 32 * (k & 1) + 4 * part, *qh = p + 128 + 32 * h + 4 * part;
    float d = f16_at(p + 208);
    __global const char *sc = (__global const char *)p + 192 + 2 * j;
    uint ls = 4 * (k >> 1), hs = 2 * k;
    *lo = (d * (float)sc[0]) * convert_float4((fields(word_at(ql), ls, 15) | fields(word_at(qh), hs, 3) << 4) - 32);
    *hi = (d * (float)sc[1]) * convert_float4((fields(word_at(ql + 16), ls, 15) | fields(word_at(qh + 16), hs, 3) << 4) - 32);
}

#else
#error "parts.cl: build with one -DTYPE_* option"
#endif
