// attention: out = softmax(scale·(q·kᵀ) + mask)·v, fused, with an online (streaming) softmax.
//
// Arguments: q f32 [D, T, H]; k, v [D, KV, Hkv] (f32, or f16 with -DKV_F16=1); mask f32 [KV, m1], m1 ≥ T,
// query t uses mask row t (when has_mask = 0 the host binds q again and it is never read); out f32 [D, T, H];
// then uint D, uint T, uint H, uint KV, uint Hkv, uint has_mask, float scale.
// Head h reads kv head h / (H / Hkv). D ≤ 256, any D (a D % 8 tail is handled); KV any.
// NDRange: 1-D, global = round_up(H·T, L), local = L (any L; 1 is best when H·T is small, as in decode).
// Build options: none for f32 K/V; -DKV_F16=1 for f16 K/V (read with vload_half, any 2-byte alignment).
//
// One work-item per query row (PoCL runs a work-item as scalar code, so SIMD comes from float8): q and the
// output accumulators sit in private arrays of float8 blocks. Keys go eight at a time: the chunk's mask is
// checked first and a fully masked chunk (causal prefill, the unused part of a cache) costs one load; then
// eight dot products share each q block, and the accumulators are rescaled only when the running maximum
// grows. A fully visible chunk adds its eight v rows block by block (one accumulator load/store per
// chunk: ~15 % faster than key by key); a partly visible one visits only keys with a non-zero weight. A
// hidden key's score is forced to -inf and its v row is never read, so garbage in unused cache rows cannot
// turn into NaN. Rows are ordered (kv head, token, head in group): neighbouring work-items read the same
// k/v rows. A row with every key masked gives zeros.

#define MAXB 32  // float8 blocks at D = 256

#if KV_F16
#define KV_T half
#define LOAD_KV8(b, p) vload_half8((b), (p))
#define LOAD_KV1(i, p) vload_half((i), (p))
#else
#define KV_T float
#define LOAD_KV8(b, p) vload8((b), (p))
#define LOAD_KV1(i, p) ((p)[i])
#endif

// The first n < 8 elements at p, zero-padded: the D % 8 tail of a row.
inline float8 kv_tail(const __global KV_T *p, uint n) {
    float t[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    for (uint i = 0; i < n; i++) t[i] = LOAD_KV1(i, p);
    return vload8(0, t);
}

inline float hsum8(float8 v) {
    const float4 a = v.lo + v.hi;
    return (a.x + a.y) + (a.z + a.w);
}

__kernel void attention(__global const uchar *q_buf, uint q_off,
                        __global const uchar *k_buf, uint k_off,
                        __global const uchar *v_buf, uint v_off,
                        __global const uchar *mask_buf, uint mask_off,
                        __global uchar *out_buf, uint out_off,
                        uint D, uint T, uint H, uint KV, uint Hkv, uint has_mask, float scale) {
    const uint r = get_global_id(0);
    if (r >= H * T) return;
    const uint group = H / Hkv;
    const uint g = r / (T * group), rem = r % (T * group), t = rem / group, h = g * group + rem % group;
    const uint nb = D / 8u, tail = D % 8u;

    const __global float *qr = (const __global float *)(q_buf + q_off) + (h * T + t) * D;
    const __global KV_T *k0 = (const __global KV_T *)(k_buf + k_off) + g * KV * D;
    const __global KV_T *v0 = (const __global KV_T *)(v_buf + v_off) + g * KV * D;
    const __global float *mr = (const __global float *)(mask_buf + mask_off) + t * KV;

    float8 qv[MAXB + 1], acc[MAXB + 1];  // block nb: the zero-padded tail
    for (uint b = 0; b < nb; b++) {
        qv[b] = vload8(b, qr);
        acc[b] = (float8)(0.0f);
    }
    if (tail) {
        float tq[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        for (uint i = 0; i < tail; i++) tq[i] = qr[8u * nb + i];
        qv[nb] = vload8(0, tq);
        acc[nb] = (float8)(0.0f);
    }

    float m = -INFINITY;  // running maximum of the row's scores
    float l = 0.0f;       // Σ exp(s − m)
    for (uint j0 = 0; j0 < KV; j0 += 8u) {
        const uint n = min(8u, KV - j0);
        // Additive bias per key of the chunk; -inf past KV.
        float8 bias;
        if (n == 8u) {
            bias = has_mask ? vload8(0, mr + j0) : (float8)(0.0f);
        } else {
            float tb[8];
            for (uint u = 0; u < 8u; u++) tb[u] = u < n ? (has_mask ? mr[j0 + u] : 0.0f) : -INFINITY;
            bias = vload8(0, tb);
        }
        const int8 hidden = bias == (float8)(-INFINITY);
        if (all(hidden)) continue;

        // Eight dot products; rows past KV are clamped to the last key (read, then discarded).
        const __global KV_T *k1 = k0 + min(j0 + 1u, KV - 1u) * D, *k2 = k0 + min(j0 + 2u, KV - 1u) * D;
        const __global KV_T *k3 = k0 + min(j0 + 3u, KV - 1u) * D, *k4 = k0 + min(j0 + 4u, KV - 1u) * D;
        const __global KV_T *k5 = k0 + min(j0 + 5u, KV - 1u) * D, *k6 = k0 + min(j0 + 6u, KV - 1u) * D;
        const __global KV_T *k7 = k0 + min(j0 + 7u, KV - 1u) * D, *kz = k0 + j0 * D;
        float8 d0 = 0.0f, d1 = 0.0f, d2 = 0.0f, d3 = 0.0f, d4 = 0.0f, d5 = 0.0f, d6 = 0.0f, d7 = 0.0f;
        for (uint b = 0; b < nb; b++) {
            const float8 qb = qv[b];
            d0 = fma(qb, LOAD_KV8(b, kz), d0);
            d1 = fma(qb, LOAD_KV8(b, k1), d1);
            d2 = fma(qb, LOAD_KV8(b, k2), d2);
            d3 = fma(qb, LOAD_KV8(b, k3), d3);
            d4 = fma(qb, LOAD_KV8(b, k4), d4);
            d5 = fma(qb, LOAD_KV8(b, k5), d5);
            d6 = fma(qb, LOAD_KV8(b, k6), d6);
            d7 = fma(qb, LOAD_KV8(b, k7), d7);
        }
        if (tail) {
            const float8 qb = qv[nb];
            const uint o = 8u * nb;
            d0 = fma(qb, kv_tail(kz + o, tail), d0);
            d1 = fma(qb, kv_tail(k1 + o, tail), d1);
            d2 = fma(qb, kv_tail(k2 + o, tail), d2);
            d3 = fma(qb, kv_tail(k3 + o, tail), d3);
            d4 = fma(qb, kv_tail(k4 + o, tail), d4);
            d5 = fma(qb, kv_tail(k5 + o, tail), d5);
            d6 = fma(qb, kv_tail(k6 + o, tail), d6);
            d7 = fma(qb, kv_tail(k7 + o, tail), d7);
        }
        const float8 dots = (float8)(hsum8(d0), hsum8(d1), hsum8(d2), hsum8(d3),
                                     hsum8(d4), hsum8(d5), hsum8(d6), hsum8(d7));
        // select, not +: a hidden key's dot may be garbage (NaN) and must still give -inf.
        const float8 s = select(fma((float8)(scale), dots, bias), (float8)(-INFINITY), hidden);

        const float4 s4 = fmax(s.lo, s.hi);
        const float cm = fmax(fmax(s4.x, s4.y), fmax(s4.z, s4.w));
        if (cm > m) {  // rare after the first chunks
            const float c = exp(m - cm);  // 0 at the first visible chunk (m = -inf, acc = 0)
            l *= c;
            for (uint b = 0; b < nb + (tail != 0u); b++) acc[b] *= c;
            m = cm;
        }
        const float8 p = exp(s - m);  // hidden keys: exp(-inf) = 0
        l += hsum8(p);
        if (!any(hidden)) {
            // All eight keys visible (the common case): block-outer, so each accumulator is loaded and
            // stored once per chunk instead of once per key.
            const __global KV_T *v1 = v0 + (k1 - k0), *v2 = v0 + (k2 - k0), *v3 = v0 + (k3 - k0);
            const __global KV_T *v4 = v0 + (k4 - k0), *v5 = v0 + (k5 - k0), *v6 = v0 + (k6 - k0);
            const __global KV_T *v7 = v0 + (k7 - k0), *vz = v0 + (kz - k0);
            for (uint b = 0; b < nb; b++) {
                float8 a = acc[b];
                a = fma((float8)(p.s0), LOAD_KV8(b, vz), a);
                a = fma((float8)(p.s1), LOAD_KV8(b, v1), a);
                a = fma((float8)(p.s2), LOAD_KV8(b, v2), a);
                a = fma((float8)(p.s3), LOAD_KV8(b, v3), a);
                a = fma((float8)(p.s4), LOAD_KV8(b, v4), a);
                a = fma((float8)(p.s5), LOAD_KV8(b, v5), a);
                a = fma((float8)(p.s6), LOAD_KV8(b, v6), a);
                a = fma((float8)(p.s7), LOAD_KV8(b, v7), a);
                acc[b] = a;
            }
            if (tail) {
                const uint o = 8u * nb;
                float8 a = acc[nb];
                a = fma((float8)(p.s0), kv_tail(vz + o, tail), a);
                a = fma((float8)(p.s1), kv_tail(v1 + o, tail), a);
                a = fma((float8)(p.s2), kv_tail(v2 + o, tail), a);
                a = fma((float8)(p.s3), kv_tail(v3 + o, tail), a);
                a = fma((float8)(p.s4), kv_tail(v4 + o, tail), a);
                a = fma((float8)(p.s5), kv_tail(v5 + o, tail), a);
                a = fma((float8)(p.s6), kv_tail(v6 + o, tail), a);
                a = fma((float8)(p.s7), kv_tail(v7 + o, tail), a);
                acc[nb] = a;
            }
            continue;
        }
        // Some keys hidden: visit only the weighted ones.
        float pw[8];
        vstore8(p, 0, pw);
        for (uint u = 0; u < n; u++) {
            if (pw[u] == 0.0f) continue;  // hidden, or too small to count
            const float8 pu = (float8)(pw[u]);
            const __global KV_T *vr = v0 + (j0 + u) * D;
            for (uint b = 0; b < nb; b++) acc[b] = fma(pu, LOAD_KV8(b, vr), acc[b]);
            if (tail) acc[nb] = fma(pu, kv_tail(vr + 8u * nb, tail), acc[nb]);
        }
    }

    const float inv = l > 0.0f ? 1.0f / l : 0.0f;  // every key masked: zeros
    __global float *y = (__global float *)(out_buf + out_off) + (h * T + t) * D;
    for (uint b = 0; b < nb; b++) vstore8(acc[b] * inv, b, y);
    if (tail) {
        float ty[8];
        vstore8(acc[nb] * inv, 0, ty);
        for (uint i = 0; i < tail; i++) y[8u * nb + i] = ty[i];
    }
}
