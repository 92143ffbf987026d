// mul_mat_vec (GPU family, N ≤ 8): the contract of mul_mat.cl (same arguments, results to f32 rounding)
// shaped for GPUs instead of PoCL: out[m, n, i2, i3] = Σ_k a[k, m, i2 / r2, i3 / r3] · b[k, n, i2, i3].
// Built from parts.cl + this file with -DTYPE_*=1, -DCOLS=c (N ≤ c ≤ 8), -DLANES=l (a power of two) and
// -DWG=w (the local size, a multiple of LANES). residual = 1 for mul_mat_add: r (f32, the output's shape) is
// added to each sum as it is written — the layer's residual add without a kernel of its own.
// -DNORM=1 (rms_norm_mul_mat): b is x, r the norm weight w [K], and the product is a·(rms_norm(x)·w): each part's
// activations are multiplied by w as they are loaded and their squares summed beside the dot product (a row's
// lanes load every value of x once, so the same reduction gives Σ x²), and the sum is scaled by
// 1/sqrt(Σ x²/K + eps) as it is written — the norm without a kernel (and a pass over x) of its own.
// -DGLU=1 (mul_mat_glu): a is the gate matrix and `up` (the last input: r's place, or the argument after r with
// NORM) a second one of a's type and shape; the output is act(a·x̂)·(up·x̂), act silu (residual 0) or gelu (1).
// Each work-item dequantizes both matrices' parts against the activations it loads once, so a layer's gate, up
// and glu are one kernel.
//
// A row is LANES consecutive work-items splitting K in parts of 8 values (parts.cl): lane l takes parts
// l, l + LANES, … so the 4 items of a 32-value block read neighbouring code words and a warp's loads cover
// one contiguous span (where mul_mat.cl's one item a row gives every item of a warp its own row); each part
// is dequantized once for all COLS columns, activations read as two float4; the lanes' partial sums meet
// in local memory (a tree, LANES → 1). A work-group holds WG / LANES rows. mul_mat.cl on an H200: 150 µs a
// 2048×8192 Q4_0 mat-vec, 25 µs a 576×1536 Q4_1 one; this kernel has not yet run on a GPU.
// NDRange: global = (ceil(M / (WG / LANES)) · WG, B2·B3), local = (WG, 1).
// Host choice (OpenCLGPUKernels): LANES = KernelFamily.matVecLanes (32 from K = 512), WG 128.

#pragma OPENCL FP_CONTRACT ON

inline float hsum4(float4 v) { return (v.x + v.y) + (v.z + v.w); }

#ifndef NORM
#define NORM 0
#endif
#ifndef GLU
#define GLU 0
#endif
// Local sums a work-item keeps: each column's dot product, then with NORM its Σ x², then with GLU its up product.
#define UP_AT (COLS * (1 + NORM))
#define SLOTS (COLS * (1 + NORM + GLU))
#if GLU
#define UP_INPUT , __global const uchar *up, uint up_off
// silu(g)·u and geglu's gelu(g)·u, written as elementwise.cl's binary kernel writes them.
inline float glu(float g, float u, uint gelu) {
    return gelu ? g / (1.0f + exp(-1.5957691216057308f * (g + 0.044715f * g * g * g))) * u : g / (1.0f + exp(-g)) * u;
}
#else
#define UP_INPUT
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void mul_mat_vec(__global const uchar *a, uint a_off, __global const uchar *b, uint b_off,
                 __global const uchar *r, uint r_off UP_INPUT, __global uchar *out, uint out_off,
                 uint K, uint M, uint N, uint B2, uint B3, uint r2, uint r3, uint A2, uint a_row_bytes, uint residual, float eps) {
    __local float partial[WG * SLOTS];
    const uint lid = get_local_id(0), lane = lid % LANES;
    const uint row = get_group_id(0) * (WG / LANES) + lid / LANES, batch = get_global_id(1);
    const uint i2 = batch % B2, i3 = batch / B2;
    const size_t a_mat = (size_t)((i3 / r3) * A2 + i2 / r2) * M;
    // A row past the end reads the last row (never written): every item reaches the barriers.
    __global const uchar *arow = a + a_off + (a_mat + min(row, M - 1)) * a_row_bytes;
#if GLU && NORM
    __global const uchar *uprow = up + up_off + (a_mat + min(row, M - 1)) * a_row_bytes;
#elif GLU
    __global const uchar *uprow = r + r_off + (a_mat + min(row, M - 1)) * a_row_bytes;
#endif
    __global const float *bcol[COLS];
    float4 acc[COLS];
#if GLU
    float4 upacc[COLS];
#endif
#if NORM
    __global const float *w = (__global const float *)(r + r_off);
    float4 squares[COLS];
#endif
#pragma unroll
    for (uint c = 0; c < COLS; c++) {
        bcol[c] = (__global const float *)(b + b_off) + (size_t)K * (min(c, N - 1) + (size_t)N * batch);
        acc[c] = 0.0f;
#if NORM
        squares[c] = 0.0f;
#endif
#if GLU
        upacc[c] = 0.0f;
#endif
    }

    const uint parts = K / 32 * 4;
    for (uint u = lane; u < parts; u += LANES) {
        float4 lo, hi;
        dequant_part(arow, u, &lo, &hi);
#if GLU
        float4 ulo, uhi;
        dequant_part(uprow, u, &ulo, &uhi);
#endif
        const uint k = 32 * (u >> 2) + 4 * (u & 3);   // lo is values k … k + 3, hi k + 16 … k + 19
#if NORM
        const float4 wlo = vload4(0, w + k), whi = vload4(0, w + k + 16);
#endif
#pragma unroll
        for (uint c = 0; c < COLS; c++) {
            float4 blo = vload4(0, bcol[c] + k), bhi = vload4(0, bcol[c] + k + 16);
#if NORM
            squares[c] += blo * blo + bhi * bhi;
            blo *= wlo;
            bhi *= whi;
#endif
            acc[c] += lo * blo + hi * bhi;
#if GLU
            upacc[c] += ulo * blo + uhi * bhi;
#endif
        }
    }
#ifdef FLOAT_WEIGHTS
    // The last K % 32 values, spread over the lanes.
    for (uint k = K / 32 * 32 + lane; k < K; k += LANES) {
        const float wk = value_at(arow, k);
#if GLU
        const float uk = value_at(uprow, k);
#endif
#pragma unroll
        for (uint c = 0; c < COLS; c++) {
#if NORM
            const float x = bcol[c][k] * w[k];
            squares[c].s0 += bcol[c][k] * bcol[c][k];
#else
            const float x = bcol[c][k];
#endif
            acc[c].s0 += wk * x;
#if GLU
            upacc[c].s0 += uk * x;
#endif
        }
    }
#endif
#pragma unroll
    for (uint c = 0; c < COLS; c++) {
        partial[lid * SLOTS + c] = hsum4(acc[c]);
#if NORM
        partial[lid * SLOTS + COLS + c] = hsum4(squares[c]);
#endif
#if GLU
        partial[lid * SLOTS + UP_AT + c] = hsum4(upacc[c]);
#endif
    }
    for (uint half_ = LANES / 2; half_ > 0; half_ /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lane < half_) {
#pragma unroll
            for (uint i = 0; i < SLOTS; i++) partial[lid * SLOTS + i] += partial[(lid + half_) * SLOTS + i];
        }
    }
    // Lane 0 reads only what it wrote last.
    if (lane == 0 && row < M) {
        __global float *y = (__global float *)(out + out_off);
        __global const float *res = (__global const float *)(r + r_off);
#pragma unroll
        for (uint c = 0; c < COLS; c++) {
            const size_t i = row + (size_t)M * (c + (size_t)N * batch);
#if NORM
            const float inv = rsqrt(partial[lid * SLOTS + COLS + c] / (float)K + eps);
#else
            const float inv = 1.0f;
#endif
#if GLU
            if (c < N) y[i] = glu(partial[lid * SLOTS + c] * inv, partial[lid * SLOTS + UP_AT + c] * inv, residual);
#elif NORM
            if (c < N) y[i] = partial[lid * SLOTS + c] * inv;
#else
            if (c < N) y[i] = residual ? partial[lid * SLOTS + c] + res[i] : partial[lid * SLOTS + c];
#endif
        }
    }
}
