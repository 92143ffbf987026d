// rms_norm and softmax (GPU family): the contracts of norm_rope.cl's rms_norm and softmax.cl (same
// arguments and results) with one work-group a row instead of one work-item: on a GPU a decode step has
// a handful of rows, and one item walking a 2048-value row alone took 28 µs an rms_norm on an H200.
// Built from wg_reduce.cl + this file with -DWG=w (the local size, a power of two). NDRange: global = (rows · WG), local = (WG).
// Each item takes values lid, lid + WG, … (consecutive items on consecutive values); sums and maxima
// meet in local memory (a tree, WG → 1). softmax stays in-place safe (out = x): an item reads and writes
// only its own values.

// rms_norm: y = x / sqrt(mean(x²) + eps), times weight[i] when has_weight (x f32 [K, rows], weight f32 [K]).
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void rms_norm_wg(__global const uchar *x_buf, uint x_off,
                 __global const uchar *w_buf, uint w_off,
                 __global uchar *out_buf, uint out_off,
                 uint K, uint rows, uint has_weight, float eps) {
    __local float scratch[WG];
    const uint row = get_group_id(0), lid = get_local_id(0);
    const __global float *x = (const __global float *)(x_buf + x_off) + row * K;
    const __global float *w = (const __global float *)(w_buf + w_off);
    __global float *y = (__global float *)(out_buf + out_off) + row * K;
    float sum = 0.0f;
    for (uint i = lid; i < K; i += WG) sum = fma(x[i], x[i], sum);
    sum = across(sum, 0, scratch);
    // Divided rather than multiplied by an inverse, as the reference does.
    const float den = sqrt(sum / (float)K + eps);
    for (uint i = lid; i < K; i += WG) y[i] = has_weight ? x[i] / den * w[i] : x[i] / den;
}

// softmax: y = softmax(x·scale + mask) along ne0 (x f32 [K, ne1, ne2, ne3]; mask f32 [K, m1], row i1 of
// x uses mask row i1). A row whose maximum is -inf (fully masked) becomes zeros.
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void softmax_wg(__global const uchar *x_buf, uint x_off,
                __global const uchar *mask_buf, uint mask_off,
                __global uchar *out_buf, uint out_off,
                uint K, uint ne1, uint ne2, uint ne3, uint has_mask, float scale) {
    __local float scratch[WG];
    const uint row = get_group_id(0), lid = get_local_id(0);
    const __global float *x = (const __global float *)(x_buf + x_off) + row * K;
    const __global float *m = (const __global float *)(mask_buf + mask_off) + (row % ne1) * K;
    __global float *y = (__global float *)(out_buf + out_off) + row * K;
    // fma: one rounding, and the same score in both passes.
#define SCORE(i) fma(x[i], scale, has_mask ? m[i] : 0.0f)
    float mx = -INFINITY;
    for (uint i = lid; i < K; i += WG) mx = fmax(mx, SCORE(i));
    mx = across(mx, 1, scratch);
    if (mx == -INFINITY) {
        for (uint i = lid; i < K; i += WG) y[i] = 0.0f;
        return;
    }
    float sum = 0.0f;
    for (uint i = lid; i < K; i += WG) {
        const float e = exp(SCORE(i) - mx);
        sum += e;
        y[i] = e;
    }
    const float inv = 1.0f / across(sum, 0, scratch);
    for (uint i = lid; i < K; i += WG) y[i] *= inv;
#undef SCORE
}
