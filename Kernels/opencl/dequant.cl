// GGUF dequantization shared by mul_mat.cl and get_rows.cl. OpenCL programs are built from one source
// string, so there is no #include: the host prepends this file to those two sources before building.
// The type is chosen by one build option: -DTYPE_F32, TYPE_F16, TYPE_Q8_0, TYPE_Q4_0, TYPE_Q4_1, TYPE_Q5_0,
// TYPE_Q5_1, TYPE_Q2_K, TYPE_Q3_K, TYPE_Q4_K, TYPE_Q5_K or TYPE_Q6_K (=1).
//
//   void dequant_chunk(__global const uchar *row, uint c, float8 v[4])
//       row: the row's first byte (even; 4-aligned for f32); c: 32-value chunk index (a 256-value K-quant
//       super-block is 8 chunks); v[q].sN = value 32c + 8q + N.
//   float value_at(__global const uchar *row, uint k)   f32/f16 only (FLOAT_WEIGHTS): value k, for the
//       K % 32 values past a row's last whole chunk (f32/f16 rows may have any length).
//
// Layouts and float operations follow Sources/EdgeHAL/Quant (ggml's dequantize_row_*): scale products are
// formed first, then `factor * q` (then `+ m` / `- dmin * min`). FP_CONTRACT is OFF in this file so no
// multiply-add is fused into an fma: the values are bit-identical to the reference. Fields are read with
// vload* on uchar/ushort/half pointers, which need only the element's alignment (blocks sit at even offsets).

#pragma OPENCL FP_CONTRACT OFF

// Bits shift … shift+width-1 of each byte, widened to int.
#define FIELD8(bytes, shift, mask) (convert_int8(((bytes) >> (uchar)(shift)) & (uchar)(mask)))

float f16_at(__global const uchar *p) { return vload_half(0, (__global const half *)p); }

#if defined(TYPE_F32)
#define FLOAT_WEIGHTS 1
void dequant_chunk(__global const uchar *row, uint c, float8 v[4]) {
    __global const float *p = (__global const float *)row + 32 * c;
    for (int q = 0; q < 4; q++) v[q] = vload8(q, p);
}
float value_at(__global const uchar *row, uint k) { return ((__global const float *)row)[k]; }

#elif defined(TYPE_F16)
#define FLOAT_WEIGHTS 1
void dequant_chunk(__global const uchar *row, uint c, float8 v[4]) {
    __global const half *p = (__global const half *)row + 32 * c;
    for (int q = 0; q < 4; q++) v[q] = vload_half8(q, p);
}
float value_at(__global const uchar *row, uint k) { return vload_half(k, (__global const half *)row); }

#elif defined(TYPE_Q8_0)
// { f16 d; i8 qs[32] }, 34 bytes: x = q * d.
void dequant_chunk(__global const uchar *row, uint c, float8 v[4]) {
    __global const uchar *p = row + 34 * c;
    float d = f16_at(p);
    char16 lo = vload16(0, (__global const char *)(p + 2)), hi = vload16(0, (__global const char *)(p + 18));
    v[0] = convert_float8(lo.lo) * d;
    v[1] = convert_float8(lo.hi) * d;
    v[2] = convert_float8(hi.lo) * d;
    v[3] = convert_float8(hi.hi) * d;
}

#elif defined(TYPE_Q4_0) || defined(TYPE_Q4_1)
// q4_0 { f16 d; u8 qs[16] }, 18 bytes: x = d * (q - 8). q4_1 { f16 d; f16 m; u8 qs[16] }, 20 bytes:
// x = d * q + m. Value l is the low nibble of qs[l], value l + 16 the high one.
void dequant_chunk(__global const uchar *row, uint c, float8 v[4]) {
#ifdef TYPE_Q4_0
    __global const uchar *p = row + 18 * c;
    uchar16 qs = vload16(0, p + 2);
#else
    __global const uchar *p = row + 20 * c;
    uchar16 qs = vload16(0, p + 4);
#endif
    float d = f16_at(p);
    uchar16 lo = qs & (uchar)15, hi = qs >> (uchar)4;
#ifdef TYPE_Q4_0
    v[0] = d * convert_float8(convert_int8(lo.lo) - 8);
    v[1] = d * convert_float8(convert_int8(lo.hi) - 8);
    v[2] = d * convert_float8(convert_int8(hi.lo) - 8);
    v[3] = d * convert_float8(convert_int8(hi.hi) - 8);
#else
    float m = f16_at(p + 2);
    v[0] = d * convert_float8(lo.lo) + m;
    v[1] = d * convert_float8(lo.hi) + m;
    v[2] = d * convert_float8(hi.lo) + m;
    v[3] = d * convert_float8(hi.hi) + m;
#endif
}

#elif defined(TYPE_Q5_0) || defined(TYPE_Q5_1)
// q5_0 { f16 d; u32 qh; u8 qs[16] }, 22 bytes: x = d * (q - 16). q5_1 { f16 d; f16 m; u32 qh; u8 qs[16] },
// 24 bytes: x = d * q + m. Low 4 bits as q4_*; bit j of the little-endian qh is bit 4 of value j.
void dequant_chunk(__global const uchar *row, uint c, float8 v[4]) {
#ifdef TYPE_Q5_0
    __global const uchar *p = row + 22 * c;
    __global const uchar *h = p + 2;
#else
    __global const uchar *p = row + 24 * c;
    __global const uchar *h = p + 4;
#endif
    float d = f16_at(p);
    uint8 qh = (uint8)(as_uint(vload4(0, h)));
    uchar16 qs = vload16(0, h + 4);
    const uint8 lane = (uint8)(0, 1, 2, 3, 4, 5, 6, 7);
    int8 q[4];
    q[0] = convert_int8(qs.lo & (uchar)15) | as_int8(((qh >> lane) & 1) << 4);
    q[1] = convert_int8(qs.hi & (uchar)15) | as_int8(((qh >> (lane + 8)) & 1) << 4);
    q[2] = convert_int8(qs.lo >> (uchar)4) | as_int8(((qh >> (lane + 16)) & 1) << 4);
    q[3] = convert_int8(qs.hi >> (uchar)4) | as_int8(((qh >> (lane + 24)) & 1) << 4);
#ifdef TYPE_Q5_0
    for (int i = 0; i < 4; i++) v[i] = d * convert_float8(q[i] - 16);
#else
    float m = f16_at(p + 2);
    for (int i = 0; i < 4; i++) v[i] = d * convert_float8(q[i]) + m;
#endif
}

#elif defined(TYPE_Q2_K)
// { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin }, 84 bytes. Chunk j = 4h + k of a super-block: bits 2k … 2k+1
// of qs[32h + l]; its sub-blocks s = 2j, 2j + 1 (16 values each) have scales[s] = scale | min << 4;
// x = (d * scale) * q - dmin * min.
void dequant_chunk(__global const uchar *row, uint c, float8 v[4]) {
    __global const uchar *p = row + 84 * (c >> 3);
    uint j = c & 7;
    float d = f16_at(p + 80), dmin = f16_at(p + 82);
    uchar16 q0 = vload16(0, p + 16 + 32 * (j >> 2)), q1 = vload16(0, p + 32 + 32 * (j >> 2));
    uint shift = 2 * (j & 3);
    for (int s = 0; s < 2; s++) {
        uchar sc = p[2 * j + s];
        float dl = d * (float)(sc & 15), ml = dmin * (float)(sc >> 4);
        uchar16 q = s == 0 ? q0 : q1;
        v[2 * s] = dl * convert_float8(FIELD8(q.lo, shift, 3)) - ml;
        v[2 * s + 1] = dl * convert_float8(FIELD8(q.hi, shift, 3)) - ml;
    }
}

#elif defined(TYPE_Q3_K)
// { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }, 110 bytes. Chunk j = 4h + k: low 2 bits = bits
// 2k … 2k+1 of qs[32h + l]; third bit = bit j of hmask[l], and when it is clear the code is reduced by 4.
// Sub-block s's 6-bit scale (stored + 32): low 4 bits = nibble s / 8 of scales[s % 8], high 2 bits =
// bits 2(s/4) … of scales[8 + s % 4]. x = (d * (scale - 32)) * q.
void dequant_chunk(__global const uchar *row, uint c, float8 v[4]) {
    __global const uchar *p = row + 110 * (c >> 3);
    uint j = c & 7;
    float d = f16_at(p + 108);
    uchar16 m0 = vload16(0, p), m1 = vload16(0, p + 16);
    uchar16 q0 = vload16(0, p + 32 + 32 * (j >> 2)), q1 = vload16(0, p + 48 + 32 * (j >> 2));
    uint shift = 2 * (j & 3);
    for (int i = 0; i < 2; i++) {
        uint s = 2 * j + i;
        int low4 = (p[96 + s % 8] >> (4 * (s / 8))) & 15;
        int high2 = (p[104 + s % 4] >> (2 * (s / 4))) & 3;
        float dl = d * (float)((low4 | high2 << 4) - 32);
        uchar16 q = i == 0 ? q0 : q1, m = i == 0 ? m0 : m1;
        v[2 * i] = dl * convert_float8(FIELD8(q.lo, shift, 3) - (1 - FIELD8(m.lo, j, 1)) * 4);
        v[2 * i + 1] = dl * convert_float8(FIELD8(q.hi, shift, 3) - (1 - FIELD8(m.hi, j, 1)) * 4);
    }
}

#elif defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
// q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }, 144 bytes; q5_K adds u8 qh[32] before qs, 176 bytes
// (bit j of qh[l] is bit 4). Chunk j = sub-block j: low 4 bits = nibble j % 2 of qs[32(j/2) + l]; 6-bit
// scale and min packed as ggml's get_scale_min_k4; x = (d * scale) * q - dmin * min.
void dequant_chunk(__global const uchar *row, uint c, float8 v[4]) {
#ifdef TYPE_Q4_K
    __global const uchar *p = row + 144 * (c >> 3);
    __global const uchar *qs = p + 16;
#else
    __global const uchar *p = row + 176 * (c >> 3);
    __global const uchar *qs = p + 48;
#endif
    uint j = c & 7;
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
    uchar16 q0 = vload16(0, qs + 32 * (j >> 1)), q1 = vload16(0, qs + 16 + 32 * (j >> 1));
    uint shift = 4 * (j & 1);
    int8 q[4] = { FIELD8(q0.lo, shift, 15), FIELD8(q0.hi, shift, 15), FIELD8(q1.lo, shift, 15), FIELD8(q1.hi, shift, 15) };
#ifdef TYPE_Q5_K
    uchar16 h0 = vload16(0, p + 16), h1 = vload16(0, p + 32);
    q[0] |= FIELD8(h0.lo, j, 1) << 4;
    q[1] |= FIELD8(h0.hi, j, 1) << 4;
    q[2] |= FIELD8(h1.lo, j, 1) << 4;
    q[3] |= FIELD8(h1.hi, j, 1) << 4;
#endif
    for (int i = 0; i < 4; i++) v[i] = d1 * convert_float8(q[i]) - m1;
}

#elif defined(TYPE_Q6_K)
// { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }, 210 bytes. Chunk j = 4h + k: low 4 bits = nibble k / 2 of
// ql[64h + 32(k % 2) + l], high 2 bits = bits 2k … 2k+1 of qh[32h + l]; sub-blocks 2j, 2j + 1 have signed
// 8-bit scales; x = (d * scale) * (q - 32).
void dequant_chunk(__global const uchar *row, uint c, float8 v[4]) {
    __global const uchar *p = row + 210 * (c >> 3);
    uint j = c & 7, h = j >> 2, k = j & 3;
    float d = f16_at(p + 208);
    __global const uchar *ql = p + 64 * h + 32 * (k & 1), *qh = p + 128 + 32 * h;
    uchar16 l0 = vload16(0, ql), l1 = vload16(0, ql + 16), g0 = vload16(0, qh), g1 = vload16(0, qh + 16);
    uint ls = 4 * (k >> 1), hs = 2 * k;
    for (int i = 0; i < 2; i++) {
        float dl = d * (float)((__global const char *)p)[192 + 2 * j + i];
        uchar16 l = i == 0 ? l0 : l1, g = i == 0 ? g0 : g1;
        v[2 * i] = dl * convert_float8((FIELD8(l.lo, ls, 15) | FIELD8(g.lo, hs, 3) << 4) - 32);
        v[2 * i + 1] = dl * convert_float8((FIELD8(l.hi, ls, 15) | FIELD8(g.hi, hs, 3) << 4) - 32);
    }
}

#else
#error "dequant.cl: build with one -DTYPE_* option"
#endif
