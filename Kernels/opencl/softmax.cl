// softmax: y = softmax(x·scale + mask) along ne0, one work-item per row.
//
// Arguments: x f32 [K, ne1, ne2, ne3], mask f32 [K, m1] (m1 ≥ ne1; row i1 of x uses mask row i1; when
// has_mask = 0 the host binds x again and it is never read), out f32 like x;
// then uint K, uint ne1, uint ne2, uint ne3, uint has_mask, float scale.
// NDRange: 1-D, global = round_up(ne1·ne2·ne3, L), local = L (any L; 1 keeps rows spread over all of
// PoCL's threads when there are few rows). Build options: none.
//
// Three passes over the row with float8 vectors (PoCL vectorises only explicit vector types): maximum;
// exp(s − max) written to out and summed; out scaled by 1/sum. Reading x only in the first two passes
// and out in the third keeps in-place use (out = x) correct. A row whose maximum is -inf (fully masked)
// becomes zeros.

__kernel void softmax(__global const uchar *x_buf, uint x_off,
                      __global const uchar *mask_buf, uint mask_off,
                      __global uchar *out_buf, uint out_off,
                      uint K, uint ne1, uint ne2, uint ne3, uint has_mask, float scale) {
    const uint row = get_global_id(0);
    if (row >= ne1 * ne2 * ne3) return;
    const __global float *x = (const __global float *)(x_buf + x_off) + row * K;
    const __global float *m = (const __global float *)(mask_buf + mask_off) + (row % ne1) * K;
    __global float *y = (__global float *)(out_buf + out_off) + row * K;
    const uint K8 = K & ~7u;

    // fma: one rounding, and the same score in both passes.
#define SCORE8(i) fma(vload8(0, x + (i)), (float8)(scale), has_mask ? vload8(0, m + (i)) : (float8)(0.0f))
#define SCORE1(i) fma(x[i], scale, has_mask ? m[i] : 0.0f)

    float8 mx8 = (float8)(-INFINITY);
    for (uint i = 0; i < K8; i += 8u) mx8 = fmax(mx8, SCORE8(i));
    float4 mx4 = fmax(mx8.lo, mx8.hi);
    float mx = fmax(fmax(mx4.x, mx4.y), fmax(mx4.z, mx4.w));
    for (uint i = K8; i < K; i++) mx = fmax(mx, SCORE1(i));

    if (mx == -INFINITY) {
        for (uint i = 0; i < K8; i += 8u) vstore8((float8)(0.0f), 0, y + i);
        for (uint i = K8; i < K; i++) y[i] = 0.0f;
        return;
    }

    float8 sum8 = (float8)(0.0f);
    for (uint i = 0; i < K8; i += 8u) {
        const float8 e = exp(SCORE8(i) - mx);
        sum8 += e;
        vstore8(e, 0, y + i);
    }
    float sum = 0.0f;
    for (uint i = K8; i < K; i++) {
        const float e = exp(SCORE1(i) - mx);
        sum += e;
        y[i] = e;
    }
    const float4 s4 = sum8.lo + sum8.hi;
    sum += (s4.x + s4.y) + (s4.z + s4.w);

    const float inv = 1.0f / sum;
    for (uint i = 0; i < K8; i += 8u) vstore8(vload8(0, y + i) * inv, 0, y + i);
    for (uint i = K8; i < K; i++) y[i] *= inv;
#undef SCORE8
#undef SCORE1
}
