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
// -DHEADS=1 (mul_mat_rows; the program lists rope_angle.cl first): a decode step's projection to heads [hd, M/hd, N]
// with its rope at each column's position and the write of its heads into a cache's rows (set_rows; f32, or f16
// rounded to nearest even with -DOUT_F16=1) applied as the sums are written — the rope and cache kernels between a
// layer's projections and its attention are gone. A lane group takes a rope pair (two rows, the second in GLU's
// place), turned together: pair q is pair j = q % (hd/2) of head q / (hd/2), rows (2j, 2j+1) of the head, or
// (j, j + n_dims/2) for NeoX's rotated pairs, as norm_rope.cl's rope. Tensors: a, b, r (the norm's w with NORM),
// positions, ids, out (the cache with ids); the host binds input 0 for those the op lacks (has_pos, has_ids say).
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
#ifndef HEADS
#define HEADS 0
#endif
// Two rows a lane group: gate and up (GLU), or a rope pair (HEADS).
#define PAIR (GLU || HEADS)
// Local sums a work-item keeps: each column's dot product, then with NORM its Σ x², then with PAIR its second row's.
#define UP_AT (COLS * (1 + NORM))
#define SLOTS (COLS * (1 + NORM + PAIR))
#if HEADS
#define UP_INPUT , __global const uchar *pos, uint pos_off, __global const uchar *ids, uint ids_off
#define HEADS_ARGS , uint hd, uint n_dims, uint rope, uint dst_rows, uint has_pos, uint has_ids, float freq_scale, float log2_base_over_dims
#if OUT_F16
typedef half head_t;
#define PUT(v, y) vstore_half_rte((v), 0, (y))
#else
typedef float head_t;
#define PUT(v, y) (*(y) = (v))
#endif
// Member `second` of pair q: its row.
inline uint head_row(uint q, uint second, uint hd, uint n_dims, uint rope) {
    const uint j = q % (hd / 2), base = q / (hd / 2) * hd;
    return rope == 2 && j < n_dims / 2 ? base + j + second * (n_dims / 2) : base + 2 * j + second;
}
#elif GLU
#define UP_INPUT , __global const uchar *up, uint up_off
// silu(g)·u and geglu's gelu(g)·u, written as elementwise.cl's binary kernel writes them.
inline float glu(float g, float u, uint gelu) {
    return gelu ? g / (1.0f + exp(-1.5957691216057308f * (g + 0.044715f * g * g * g))) * u : g / (1.0f + exp(-g)) * u;
}
#else
#define UP_INPUT
#endif
#ifndef HEADS_ARGS
#define HEADS_ARGS
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void mul_mat_vec(__global const uchar *a, uint a_off, __global const uchar *b, uint b_off,
                 __global const uchar *r, uint r_off UP_INPUT, __global uchar *out, uint out_off,
                 uint K, uint M, uint N, uint B2, uint B3, uint r2, uint r3, uint A2, uint a_row_bytes, uint residual, float eps
                 HEADS_ARGS) {
    __local float partial[WG * SLOTS];
    const uint lid = get_local_id(0), lane = lid % LANES;
    const uint row = get_group_id(0) * (WG / LANES) + lid / LANES, batch = get_global_id(1);
    const uint i2 = batch % B2, i3 = batch / B2;
    const size_t a_mat = (size_t)((i3 / r3) * A2 + i2 / r2) * M;
#if HEADS
    // `row` is the pair (2-D: a_mat is 0); past the last one its rows read row M − 1 and are never written.
    const uint ra = row < M / 2 ? head_row(row, 0, hd, n_dims, rope) : M - 1, rb = row < M / 2 ? head_row(row, 1, hd, n_dims, rope) : M - 1;
    __global const uchar *arow = a + a_off + (size_t)ra * a_row_bytes;
    __global const uchar *uprow = a + a_off + (size_t)rb * a_row_bytes;
#else
    // A row past the end reads the last row (never written): every item reaches the barriers.
    __global const uchar *arow = a + a_off + (a_mat + min(row, M - 1)) * a_row_bytes;
#endif
#if GLU && NORM
    __global const uchar *uprow = up + up_off + (a_mat + min(row, M - 1)) * a_row_bytes;
#elif GLU
    __global const uchar *uprow = r + r_off + (a_mat + min(row, M - 1)) * a_row_bytes;
#endif
    __global const float *bcol[COLS];
    float4 acc[COLS];
#if PAIR
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
#if PAIR
        upacc[c] = 0.0f;
#endif
    }

    const uint parts = K / 32 * 4;
    for (uint u = lane; u < parts; u += LANES) {
        float4 lo, hi;
        dequant_part(arow, u, &lo, &hi);
#if PAIR
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
#if PAIR
            upacc[c] += ulo * blo + uhi * bhi;
#endif
        }
    }
#ifdef FLOAT_WEIGHTS
    // The last K % 32 values, spread over the lanes.
    for (uint k = K / 32 * 32 + lane; k < K; k += LANES) {
        const float wk = value_at(arow, k);
#if PAIR
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
#if PAIR
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
#if PAIR
        partial[lid * SLOTS + UP_AT + c] = hsum4(upacc[c]);
#endif
    }
    // A column's norm scale, 1/sqrt(Σ x²/K + eps) (1 without NORM), from lane 0's reduced sums.
#if NORM
#define INV(c) rsqrt(partial[lid * SLOTS + COLS + (c)] / (float)K + eps)
#else
#define INV(c) 1.0f
#endif
    for (uint half_ = LANES / 2; half_ > 0; half_ /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lane < half_) {
#pragma unroll
            for (uint i = 0; i < SLOTS; i++) partial[lid * SLOTS + i] += partial[(lid + half_) * SLOTS + i];
        }
    }
#if HEADS
    // Lane 0 (reading only what it wrote last): each column's pair normed, turned (pairs past n_dims, and without rope,
    // as they are) and put into the output [hd, M/hd, N] or the cache row ids names (outside [0, dst_rows): nothing).
    if (lane == 0 && row < M / 2) {
        const uint j = row % (hd / 2);
        const bool turn = rope != 0 && j < n_dims / 2;
#pragma unroll
        for (uint c = 0; c < COLS; c++) {
            if (c >= N) continue;
            const float inv = INV(c);
            float x0 = partial[lid * SLOTS + c] * inv, x1 = partial[lid * SLOTS + UP_AT + c] * inv;
            if (turn) {
                const float p = (float)((__global const int *)(pos + pos_off))[c];
                float cs;
                const float sn = sincos(rope_angle((float8)((float)j), p, freq_scale, log2_base_over_dims).s0, &cs);
                const float y0 = x0 * cs - x1 * sn;
                x1 = x0 * sn + x1 * cs;
                x0 = y0;
            }
            __global head_t *y = (__global head_t *)(out + out_off);
            size_t at0 = ra + (size_t)M * c, at1 = rb + (size_t)M * c;
            if (has_ids) {
                const int d = ((__global const int *)(ids + ids_off))[c * (M / hd) + ra / hd];
                if (d < 0 || (uint)d >= dst_rows) continue;
                at0 = (size_t)d * hd + ra % hd;
                at1 = (size_t)d * hd + rb % hd;
            }
            PUT(x0, y + at0);
            PUT(x1, y + at1);
        }
    }
#else
    // Lane 0 reads only what it wrote last.
    if (lane == 0 && row < M) {
        __global float *y = (__global float *)(out + out_off);
        __global const float *res = (__global const float *)(r + r_off);
#pragma unroll
        for (uint c = 0; c < COLS; c++) {
            const size_t i = row + (size_t)M * (c + (size_t)N * batch);
            const float inv = INV(c);
#if GLU
            if (c < N) y[i] = glu(partial[lid * SLOTS + c] * inv, partial[lid * SLOTS + UP_AT + c] * inv, residual);
#elif NORM
            if (c < N) y[i] = partial[lid * SLOTS + c] * inv;
#else
            if (c < N) y[i] = residual ? partial[lid * SLOTS + c] + res[i] : partial[lid * SLOTS + c];
#endif
        }
    }
#endif
}
