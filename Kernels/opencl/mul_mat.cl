// mul_mat: out[m, n, i2, i3] = Σ_k a[k, m, i2 / r2, i3 / r3] · b[k, n, i2, i3], float activations, f32 sums.
// Built from dequant.cl + this file (the host prepends dequant.cl) with one -DTYPE_*=1 and optionally
// -DROWS=r -DCOLS=c (defaults 1, 1).
// a: [K, M, A2, A3] GGUF rows of a_row_bytes, row m of matrix (i2/r2, i3/r3) at byte
//    a_off + (((i3/r3)*A2 + i2/r2)*M + m)*a_row_bytes; b: [K, N, B2, B3] f32; out: f32 [M, N, B2, B3].
// Arguments after the tensors: uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes (r2 = B2/A2, r3 = B3/A3).
// K: a multiple of 32 (256 for K-quants); any K >= 1 for f32/f16.
//
// Each work-item computes a ROWS × COLS tile: rows ROWS*gid0 … +ROWS-1, columns COLS*gid1 … +COLS-1 of
// batch gid2. Per 32-value chunk it loads its COLS b chunks once and dequantizes its ROWS weight chunks
// once, then does ROWS × COLS float8 multiply-adds: weights are decoded once per COLS columns.
// PoCL runs a work-item as scalar code, so SIMD comes from the float8 lanes; no barriers, no local memory.
// NDRange: global = (roundup(ceil(M / ROWS), L), ceil(N / COLS), B2*B3), local = (L, 1, 1); L = 16 is a good
//   choice (small groups balance 2 threads on small M); items past M return at once.
// Host choice (PoCL, 2 cores, measured): N == 1: -DROWS=4 -DCOLS=1; 2 <= N <= 4: -DROWS=2 -DCOLS=4;
//   N > 4: -DROWS=2 -DCOLS=8 (the b chunks and accumulators of a wider tile no longer fit in registers).
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

__kernel void mul_mat(__global const uchar *a, uint a_off, __global const uchar *b, uint b_off,
                      __global uchar *out, uint out_off,
                      uint K, uint M, uint N, uint B2, uint B3, uint r2, uint r3, uint A2, uint a_row_bytes) {
    uint row0 = get_global_id(0) * ROWS, col0 = get_global_id(1) * COLS, batch = get_global_id(2);
    if (row0 >= M) return;
    uint i2 = batch % B2, i3 = batch / B2;
    size_t a_mat = (size_t)((i3 / r3) * A2 + i2 / r2) * M;
    // Rows and columns past the end are clamped to the last one (read, never written).
    __global const uchar *arow[ROWS];
    __global const float *bcol[COLS];
#pragma unroll
    for (uint r = 0; r < ROWS; r++) arow[r] = a + a_off + (a_mat + min(row0 + r, M - 1)) * a_row_bytes;
#pragma unroll
    for (uint c = 0; c < COLS; c++)
        bcol[c] = (__global const float *)(b + b_off) + (size_t)K * (min(col0 + c, N - 1) + (size_t)N * batch);
    float8 acc[ROWS * COLS];
#pragma unroll
    for (uint i = 0; i < ROWS * COLS; i++) acc[i] = 0.0f;

    uint chunks = K / 32;
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
            uint m = row0 + r, n = col0 + c;
            if (m < M && n < N) y[m + (size_t)M * (n + (size_t)N * batch)] = hsum8(acc[r * COLS + c]);
        }
}
