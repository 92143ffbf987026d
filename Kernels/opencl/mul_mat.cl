// mul_mat: out[m, n, i2, i3] = Σ_k a[k, m, i2 / r2, i3 / r3] · b[k, n, i2, i3], float activations, f32 sums.
// Built from dequant.cl + this file (the host prepends dequant.cl) with one -DTYPE_*=1 and optionally
// -DROWS=r -DCOLS=c (defaults 1, 1).
// a: [K, M, A2, A3] GGUF rows of a_row_bytes, row m of matrix (i2/r2, i3/r3) at byte
//    a_off + (((i3/r3)*A2 + i2/r2)*M + m)*a_row_bytes; b: [K, N, B2, B3] f32; out: f32 [M, N, B2, B3].
// Arguments after the tensors: uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes (r2 = B2/A2, r3 = B3/A3).
// K: a multiple of 32 (256 for K-quants); any K >= 1 for f32/f16.
//
// Each work-item computes a ROWS × COLS tile: rows base + lid + L*r (r < ROWS; base = group0 * L * ROWS,
// lid = local id 0, L = local size 0), columns COLS*gid1 … +COLS-1 of batch gid2. Rows L apart, not
// adjacent: PoCL runs a group's work-items one after another, so each of the ROWS row streams moves on to
// the next row at the next work-item and the hardware prefetcher follows ROWS linear streams (adjacent rows
// per item made strided streams: q8_0 576×49152 at 9.7 GB/s instead of 23). Per 32-value chunk an item
// loads its COLS b chunks once and dequantizes its ROWS weight chunks once, then does ROWS × COLS float8
// multiply-adds: weights are decoded once per COLS columns. For q4_0/q4_1/q8_0 with COLS == 1 the block
// scales are factored out (d·Σq·x + m·Σx), with the f16 scales of 4 rows converted in one vector.
// PoCL runs a work-item as scalar code, so SIMD comes from the float8 lanes; no barriers, no local memory.
// NDRange: global = (roundup(ceil(M / ROWS), L), ceil(N / COLS), B2*B3), local = (L, 1, 1); L = 16 is a good
//   choice (small groups balance 2 threads on small M); items past M return at once.
// Host choice (PoCL, 2 cores, measured): N == 1: -DROWS=4 -DCOLS=1 (-DROWS=8 for q8_0);
//   2 <= N <= 4: -DROWS=2 -DCOLS=4; N > 4: -DROWS=2 -DCOLS=8 (the b chunks and accumulators of a wider
//   tile no longer fit in registers). Any ROWS >= 1 is correct.
//   Columns past N are clamped reads, never written, so any COLS is correct, a wider one only wasted.

#pragma OPENCL FP_CONTRACT ON

#ifndef ROWS
#define ROWS 1
#endif
#ifndef COLS
#define COLS 1
#endif

float hsum8(float8 v) {
    float4 s = v.lo + v.hi;
    float2 t = s.lo + s.hi;
    return t.x + t.y;
}

#if (defined(TYPE_Q4_0) || defined(TYPE_Q4_1) || defined(TYPE_Q8_0)) && COLS == 1
#define FACTORED 1
// f16 bits (low 16 bits of h) -> float, exact for every value (subnormals, inf, NaN) with integer and float
// ops only: PoCL's vload_half is a long scalar software routine, and these blocks need one or two per row.
#define HALF_BITS(T, UT, N)                                                                               \
    T half##N##_bits(UT h) {                                                                              \
        UT e = h & 0x7fffu;                                                                               \
        T f = as_##T(e << 13) * 0x1p112f;                          /* normal: rebias exponent by 112 */ \
        f = select(f, convert_##T(e) * 0x1p-24f, e < 0x400u);             /* subnormal / zero */         \
        f = select(f, as_##T((e << 13) | 0x7f800000u), e >= 0x7c00u);       /* inf / NaN */                \
        return as_##T(as_##UT(f) | ((h & 0x8000u) << 16));                                                \
    }
HALF_BITS(float4, uint4, 4)
HALF_BITS(float8, uint8, 8)
// The 32-bit word at a block's start (2-aligned): q4_1's d | m << 16, or q8_0/q4_0's d in the low half.
uint word_at(__global const uchar *p) { return as_uint(vload2(0, (__global const ushort *)p)); }
#endif

__kernel void mul_mat(__global const uchar *a, uint a_off, __global const uchar *b, uint b_off,
                      __global uchar *out, uint out_off,
                      uint K, uint M, uint N, uint B2, uint B3, uint r2, uint r3, uint A2, uint a_row_bytes) {
    // Rows of a work-item are L apart (L = local size 0): the work-group's L*ROWS rows are rows
    // base + lid + L*r. PoCL runs the group's work-items one after another, so each of the ROWS row streams
    // moves on to the adjacent row at the next work-item: ROWS linear streams the prefetcher follows.
    uint L = get_local_size(0);
    uint row0 = get_group_id(0) * L * ROWS + get_local_id(0), col0 = get_global_id(1) * COLS, batch = get_global_id(2);
    if (row0 >= M) return;
    uint i2 = batch % B2, i3 = batch / B2;
    size_t a_mat = (size_t)((i3 / r3) * A2 + i2 / r2) * M;
    // Rows and columns past the end are clamped to the last one (read, never written).
    __global const uchar *arow[ROWS];
    __global const float *bcol[COLS];
#pragma unroll
    for (uint r = 0; r < ROWS; r++) arow[r] = a + a_off + (a_mat + min(row0 + L * r, M - 1)) * a_row_bytes;
#pragma unroll
    for (uint c = 0; c < COLS; c++)
        bcol[c] = (__global const float *)(b + b_off) + (size_t)K * (min(col0 + c, N - 1) + (size_t)N * batch);
    float8 acc[ROWS * COLS];
#pragma unroll
    for (uint i = 0; i < ROWS * COLS; i++) acc[i] = 0.0f;

    uint chunks = K / 32;
#ifdef FACTORED
    // Per 32-value block: Σ w·x = d·Σ q·x (+ m·Σ x for q4_1, − 8d·Σ x for q4_0). Σ q·x in float8 lanes, the
    // block scale applied once per block; Σ x once per block and column, shared by all ROWS rows.
    float macc[ROWS * COLS];
#pragma unroll
    for (uint i = 0; i < ROWS * COLS; i++) macc[i] = 0.0f;
    for (uint ch = 0; ch < chunks; ch++) {
        float8 x[COLS][4];
#ifndef TYPE_Q8_0
        float sx[COLS];
#endif
#pragma unroll
        for (uint c = 0; c < COLS; c++) {
#pragma unroll
            for (uint q = 0; q < 4; q++) x[c][q] = vload8(4 * ch + q, bcol[c]);
#ifndef TYPE_Q8_0
            sx[c] = hsum8((x[c][0] + x[c][1]) + (x[c][2] + x[c][3]));
#endif
        }
        // Block scales of all ROWS rows, converted from f16 together (4 rows per vector).
        float dr[ROWS], mr[ROWS];
#if defined(TYPE_Q8_0)
#define BLOCK_BYTES 34
#elif defined(TYPE_Q4_0)
#define BLOCK_BYTES 18
#else
#define BLOCK_BYTES 20
#endif
        // (Groups of 4 rows; a last partial group repeats its last row.)
#define RIDX(i) ((i) < ROWS ? (i) : ROWS - 1)
#pragma unroll
        for (uint g = 0; g < (ROWS + 3) / 4; g++) {
            uint4 wv = (uint4)(word_at(arow[RIDX(4 * g)] + BLOCK_BYTES * ch), word_at(arow[RIDX(4 * g + 1)] + BLOCK_BYTES * ch),
                               word_at(arow[RIDX(4 * g + 2)] + BLOCK_BYTES * ch), word_at(arow[RIDX(4 * g + 3)] + BLOCK_BYTES * ch));
#ifdef TYPE_Q4_1
            float8 f = half8_bits(convert_uint8(as_ushort8(wv)));
            float fd[4] = {f.s0, f.s2, f.s4, f.s6}, fm[4] = {f.s1, f.s3, f.s5, f.s7};
#else
            float4 f = half4_bits(wv & 0xffffu);
            float fd[4] = {f.s0, f.s1, f.s2, f.s3}, fm[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#endif
#pragma unroll
            for (uint i = 0; i < 4; i++)
                if (4 * g + i < ROWS) {
                    dr[4 * g + i] = fd[i];
                    mr[4 * g + i] = fm[i];
                }
        }
#pragma unroll
        for (uint r = 0; r < ROWS; r++) {
            float8 w[4];
            float d = dr[r];
#ifdef TYPE_Q4_1
            float m = mr[r];
#elif defined(TYPE_Q4_0)
            float m = -8.0f * d;
#endif
#if defined(TYPE_Q8_0)
            __global const uchar *p = arow[r] + 34 * ch;
            char16 lo = vload16(0, (__global const char *)(p + 2)), hi = vload16(0, (__global const char *)(p + 18));
            w[0] = convert_float8(lo.lo);
            w[1] = convert_float8(lo.hi);
            w[2] = convert_float8(hi.lo);
            w[3] = convert_float8(hi.hi);
#else
#ifdef TYPE_Q4_0
            __global const uchar *p = arow[r] + 18 * ch;
            uchar16 qs = vload16(0, p + 2);
#else
            __global const uchar *p = arow[r] + 20 * ch;
            uchar16 qs = vload16(0, p + 4);
#endif
            // Widen bytes to 32-bit lanes first, then split nibbles there (fewer shuffles than splitting bytes).
            int8 b0 = convert_int8(qs.lo), b1 = convert_int8(qs.hi);
            w[0] = convert_float8(b0 & 15);
            w[1] = convert_float8(b1 & 15);
            w[2] = convert_float8(b0 >> 4);
            w[3] = convert_float8(b1 >> 4);
#endif
#pragma unroll
            for (uint c = 0; c < COLS; c++) {
                float8 t = w[0] * x[c][0] + w[1] * x[c][1] + w[2] * x[c][2] + w[3] * x[c][3];
                acc[r * COLS + c] += d * t;
#ifndef TYPE_Q8_0
                macc[r * COLS + c] += m * sx[c];
#endif
            }
        }
    }
#else
    for (uint ch = 0; ch < chunks; ch++) {
        float8 x[COLS][4];
#pragma unroll
        for (uint c = 0; c < COLS; c++)
#pragma unroll
            for (uint q = 0; q < 4; q++) x[c][q] = vload8(4 * ch + q, bcol[c]);
#pragma unroll
        for (uint r = 0; r < ROWS; r++) {
            float8 w[4];
            dequant_chunk(arow[r], ch, w);
#pragma unroll
            for (uint c = 0; c < COLS; c++)
#pragma unroll
                for (uint q = 0; q < 4; q++) acc[r * COLS + c] += w[q] * x[c][q];
        }
    }
#endif
#ifdef FLOAT_WEIGHTS
    // The last K % 32 values, one at a time.
    for (uint k = chunks * 32; k < K; k++) {
#pragma unroll
        for (uint r = 0; r < ROWS; r++) {
            float w = value_at(arow[r], k);
#pragma unroll
            for (uint c = 0; c < COLS; c++) acc[r * COLS + c].s0 += w * bcol[c][k];
        }
    }
#endif
    __global float *y = (__global float *)(out + out_off);
#pragma unroll
    for (uint r = 0; r < ROWS; r++)
#pragma unroll
        for (uint c = 0; c < COLS; c++) {
            uint m = row0 + L * r, n = col0 + c;
            if (m < M && n < N) y[m + (size_t)M * (n + (size_t)N * batch)] =
#ifdef FACTORED
                    macc[r * COLS + c] +
#endif
                    hsum8(acc[r * COLS + c]);
        }
}
