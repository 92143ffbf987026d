// rms_norm and rope (built after rope_angle.cl). Build options: none, or -DSET_ROWS=1 (with -DOUT_F16=1 for an f16 cache) for rope_set_rows. One work-item per row, float8 vectors (PoCL vectorises only
// explicit vector types), no barriers.

// rms_norm: y = x / sqrt(mean(x²) + eps), times weight[i] when has_weight.
// Arguments: x f32 [K, rows], weight f32 [K] (when has_weight = 0 the host binds x again; never read),
// out f32 [K, rows]; then uint K, uint rows, uint has_weight, float eps.
// NDRange: 1-D, global = round_up(rows, L), local = L (any L; 1 when rows are few).
// Four float8 accumulators: 32 partial sums keep each short (128 terms at K = 4096), so f32 suffices.
__kernel void rms_norm(__global const uchar *x_buf, uint x_off,
                       __global const uchar *w_buf, uint w_off,
                       __global uchar *out_buf, uint out_off,
                       uint K, uint rows, uint has_weight, float eps) {
    const uint row = get_global_id(0);
    if (row >= rows) return;
    const __global float *x = (const __global float *)(x_buf + x_off) + row * K;
    const __global float *w = (const __global float *)(w_buf + w_off);
    __global float *y = (__global float *)(out_buf + out_off) + row * K;

    const uint K32 = K & ~31u, K8 = K & ~7u;
    float8 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
    for (uint i = 0; i < K32; i += 32u) {
        const float8 v0 = vload8(0, x + i), v1 = vload8(0, x + i + 8u);
        const float8 v2 = vload8(0, x + i + 16u), v3 = vload8(0, x + i + 24u);
        a0 = fma(v0, v0, a0);
        a1 = fma(v1, v1, a1);
        a2 = fma(v2, v2, a2);
        a3 = fma(v3, v3, a3);
    }
    for (uint i = K32; i < K8; i += 8u) {
        const float8 v = vload8(0, x + i);
        a0 = fma(v, v, a0);
    }
    const float8 a = (a0 + a1) + (a2 + a3);
    const float4 a4 = a.lo + a.hi;
    float sum = (a4.x + a4.y) + (a4.z + a4.w);
    for (uint i = K8; i < K; i++) sum = fma(x[i], x[i], sum);

    // Divided rather than multiplied by an inverse, as the reference does.
    const float den = sqrt(sum / (float)K + eps);
    for (uint i = 0; i < K8; i += 8u) {
        float8 v = vload8(0, x + i) / den;
        if (has_weight) v *= vload8(0, w + i);
        vstore8(v, 0, y + i);
    }
    for (uint i = K8; i < K; i++) y[i] = has_weight ? x[i] / den * w[i] : x[i] / den;
}

// rope: rotary position embedding of x [hd, heads, tokens] at positions (i32 [tokens]).
// Arguments: x f32, positions i32, out f32 [hd, heads, tokens]; then uint hd, uint heads, uint tokens,
// uint n_dims, uint neox, float freq_scale, float log2_base_over_dims (= log2(freq_base)/n_dims, computed
// by the host in double).
// With -DSET_ROWS=1 the same code is rope_set_rows: row r of the roped x goes to row ids[r] of dst [hd, R] (f32,
// or f16 rounded to nearest even with -DOUT_F16=1), in place; ids outside [0, R) write nothing. Arguments: dst
// (again as the output), x, positions, ids; the scalars above, then uint R. A decode step's k goes straight
// into the cache: one kernel (a launch on an in-order queue) where rope and set_rows were two.
// NDRange: 1-D, global = round_up(heads·tokens, L), local = L (any L).
// Pair j < n_dims/2: θ = p·freq_scale·2^(−2j·log2_base_over_dims); normal mode rotates (2j, 2j+1), NeoX
// (j, j + n_dims/2); dims ≥ n_dims are copied. θ is reduced modulo 2π in two parts before sin/cos, so
// positions up to 65536 keep only θ's own f32 rounding error. Eight pairs per step (float8 sincos).

#if SET_ROWS && OUT_F16
typedef half rope_out_t;
#define STORE8(v, y) vstore_half8_rte((v), 0, (y))
#define STORE1(v, y) vstore_half_rte((v), 0, (y))
#else
typedef float rope_out_t;
#define STORE8(v, y) vstore8((v), 0, (y))
#define STORE1(v, y) (*(y) = (v))
#endif

#if SET_ROWS
__kernel void rope_set_rows(__global const uchar *dst_buf, uint dst_off,
                            __global const uchar *x_buf, uint x_off,
                            __global const uchar *pos_buf, uint pos_off,
                            __global const uchar *ids_buf, uint ids_off,
                            __global uchar *out_buf, uint out_off,
                            uint hd, uint heads, uint tokens, uint n_dims, uint neox,
                            float freq_scale, float log2_base_over_dims, uint dst_rows) {
#else
__kernel void rope(__global const uchar *x_buf, uint x_off,
                   __global const uchar *pos_buf, uint pos_off,
                   __global uchar *out_buf, uint out_off,
                   uint hd, uint heads, uint tokens, uint n_dims, uint neox,
                   float freq_scale, float log2_base_over_dims) {
#endif
    const uint row = get_global_id(0);
    if (row >= heads * tokens) return;
#if SET_ROWS
    const int id = ((const __global int *)(ids_buf + ids_off))[row];
    if (id < 0 || (uint)id >= dst_rows) return;
    __global rope_out_t *y = (__global rope_out_t *)(out_buf + out_off) + (size_t)id * hd;
#else
    __global float *y = (__global float *)(out_buf + out_off) + row * hd;
#endif
    const float p = (float)((const __global int *)(pos_buf + pos_off))[row / heads];
    const __global float *x = (const __global float *)(x_buf + x_off) + row * hd;
    const uint half_dims = n_dims / 2u, pairs8 = half_dims & ~7u;
    const float8 lane = (float8)(0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f);

    for (uint j = 0; j < pairs8; j += 8u) {
        float8 c;
        const float8 s = sincos(rope_angle((float)j + lane, p, freq_scale, log2_base_over_dims), &c);
        if (neox) {
            const float8 x0 = vload8(0, x + j), x1 = vload8(0, x + j + half_dims);
            STORE8(x0 * c - x1 * s, y + j);
            STORE8(x0 * s + x1 * c, y + j + half_dims);
        } else {
            const float8 a = vload8(0, x + 2u * j), b = vload8(0, x + 2u * j + 8u);
            const float8 x0 = (float8)(a.even, b.even), x1 = (float8)(a.odd, b.odd);
            const float8 y0 = x0 * c - x1 * s, y1 = x0 * s + x1 * c;
            STORE8(shuffle2(y0, y1, (uint8)(0, 8, 1, 9, 2, 10, 3, 11)), y + 2u * j);
            STORE8(shuffle2(y0, y1, (uint8)(4, 12, 5, 13, 6, 14, 7, 15)), y + 2u * j + 8u);
        }
    }
    if (pairs8 < half_dims) {  // the last n_dims/2 % 8 pairs: one more vector step, lanes past the end unused
        float8 c;
        const float8 s = sincos(rope_angle((float)pairs8 + lane, p, freq_scale, log2_base_over_dims), &c);
        float sa[8], ca[8];
        vstore8(s, 0, sa);
        vstore8(c, 0, ca);
        for (uint j = pairs8; j < half_dims; j++) {
            const uint a = neox ? j : 2u * j, b = neox ? j + half_dims : 2u * j + 1u;
            const float x0 = x[a], x1 = x[b], sj = sa[j - pairs8], cj = ca[j - pairs8];
            STORE1(x0 * cj - x1 * sj, y + a);
            STORE1(x0 * sj + x1 * cj, y + b);
        }
    }
    const uint copy8 = n_dims + ((hd - n_dims) & ~7u);
    for (uint i = n_dims; i < copy8; i += 8u) STORE8(vload8(0, x + i), y + i);
    for (uint i = copy8; i < hd; i++) STORE1(x[i], y + i);
}
