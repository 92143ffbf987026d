// attention (GPU family): out = softmax(scale·(q·kᵀ) + mask)·v, the contract of attention.cl (same
// arguments, masks and results; a row with every key masked gives zeros) shaped for GPUs.
// Built from wg_reduce.cl + attention_kv.cl + this file. Options: -DWG=w (the local size, a power of two ≥ 64); -DD4=ceil(D/4), so
// the q·k loop unrolls and a lane issues its loads of a k row back to back; -DKV_F16=1 for f16 K/V.
// NDRange: global = (H·T·WG, splits), local = (WG, 1): one work-group a query row and chunk of its keys.
// Split keys (flash-decoding): work-group (r, split) takes keys split·chunk … min(KV, (split+1)·chunk) − 1 (chunk a
// multiple of WG); with splits > 1 it writes, in place of the output, its partial softmax at float
// (r·splits + split)·(D + 2): the chunk's maximum m, its Σ exp(s − m), then the D unnormalized Σ exp(s − m)·v,
// which attention_merge (below) joins. A decode step has a few dozen rows: splitting a long cache's keys is
// what gives a GPU's other compute units work.
//
// Keys go WG at a time (a tile): lane i scores key tile·WG + i (q from local memory, k read 4 values a
// load; a hidden key's score is -inf and its k row is never read); the tile's maximum and sum are
// reduced in local memory and the running maximum rescales what came before (online softmax); a tile
// with every key hidden stops there. Then the lanes form WG / ceil(D/4) streams of ceil(D/4) lanes,
// stream s taking the tile's keys s, s + streams, … and lane c of a stream output dims 4c … 4c+3: a
// stream reads a v row as one coalesced span, and a lane's loads do not wait on each other. The
// streams' sums meet in local memory. attention.cl's one item a row took 200 µs a decode call on an
// H200 (36 % of SmolLM2's decode); Vulkan's version of this kernel went from 79 to 17 µs there.

#pragma OPENCL FP_CONTRACT ON

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void attention_wg(__global const uchar *q_buf, uint q_off,
                  __global const uchar *k_buf, uint k_off,
                  __global const uchar *v_buf, uint v_off,
                  __global const uchar *mask_buf, uint mask_off,
                  __global uchar *out_buf, uint out_off,
                  uint D, uint T, uint H, uint KV, uint Hkv, uint has_mask, float scale, uint chunk, uint splits) {
    __local float4 qs[64];        // the query row (D ≤ 256)
    __local float p[WG];          // the tile's exp(score - max)
    __local float scratch[WG];
    __local float4 sums[WG];      // the value streams' partial outputs
    const uint lane = get_local_id(0), r = get_group_id(0), split = get_group_id(1);
    const uint first = split * chunk, last = min(KV, first + chunk);   // this work-group's keys
    const uint h = r / T, t = r % T, g = h / (H / Hkv);
    const uint streams = WG / D4, stream = lane / D4, c = lane % D4;
    const __global float *qr = (const __global float *)(q_buf + q_off) + (h * T + t) * D;
    const __global KV_T *k0 = (const __global KV_T *)(k_buf + k_off) + g * KV * D;
    const __global KV_T *v0 = (const __global KV_T *)(v_buf + v_off) + g * KV * D;
    const __global float *mr = (const __global float *)(mask_buf + mask_off) + t * KV;
    __global float *y = (__global float *)(out_buf + out_off) + (h * T + t) * D;

    for (uint d = lane; d < D4; d += WG) {
        float e[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (uint i = 0; i < 4u && 4u * d + i < D; i++) e[i] = qr[4u * d + i];
        qs[d] = vload4(0, e);
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    float m = -INFINITY;          // running maximum of the row's scores
    float l = 0.0f;               // Σ exp(s - m)
    float4 acc = (float4)(0.0f);  // this lane's stream: output dims 4c … 4c+3
    for (uint tile = first; tile < last; tile += WG) {
        const uint j = tile + lane;
        float s = -INFINITY;
        if (j < last) {
            const float bias = has_mask ? mr[j] : 0.0f;
            if (bias != -INFINITY) {
                const __global KV_T *kr = k0 + j * D;
                float4 dot4 = (float4)(0.0f);
#pragma unroll
                for (uint d = 0; d < D4; d++) dot4 = fma(qs[d], four(kr, d, D), dot4);
                s = fma(scale, (dot4.x + dot4.y) + (dot4.z + dot4.w), bias);
            }
        }
        const float tile_max = across(s, 1, scratch);
        if (tile_max == -INFINITY) continue;   // every key of the tile hidden (uniform): nothing to add
        const float m_new = fmax(m, tile_max);
        const float corr = exp(m - m_new);
        const float e = s == -INFINITY ? 0.0f : exp(s - m_new);
        p[lane] = e;
        l = l * corr + across(e, 0, scratch);   // its barriers also publish p
        m = m_new;
        acc *= corr;
        const uint count = min((uint)WG, last - tile);
        if (stream < streams) {
            for (uint i = stream; i < count; i += streams) {
                const float w = p[i];
                if (w != 0.0f) acc = fma((float4)(w), four(v0 + (tile + i) * D, c, D), acc);   // hidden keys: v never read
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);   // p is read by every item before the next tile writes it
    }
    sums[lane] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lane < D4) {
        float4 o = sums[lane];
        for (uint k = 1; k < streams; k++) o += sums[lane + k * D4];
        if (splits > 1u) {   // a partial softmax for attention_merge: m, l, then the unnormalized sums
            __global float *part = (__global float *)(out_buf + out_off) + (r * splits + split) * (D + 2u);
            if (lane == 0u) { part[0] = m; part[1] = l; }
            const float e[4] = {o.x, o.y, o.z, o.w};
            for (uint i = 0; i < 4u && 4u * lane + i < D; i++) part[2u + 4u * lane + i] = e[i];
            return;
        }
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;   // every key hidden: zeros
        o *= inv;
        const float e[4] = {o.x, o.y, o.z, o.w};
        for (uint i = 0; i < 4u && 4u * lane + i < D; i++) y[4u * lane + i] = e[i];
    }
}

// Flash-decoding's second pass: joins attention_wg's partial softmaxes. Part s of a row is (m_s, l_s, a_s[D]):
// its keys' maximum score, Σ exp(score − m_s) and the unnormalized Σ exp(score − m_s)·v. With M = max m_s and
// w_s = exp(m_s − M) (0 for a part whose keys were all hidden, m_s = −inf), out = Σ w_s·a_s / Σ w_s·l_s; a row
// with every key hidden gives zeros, as one pass does. Parts: f32, part s of row r at (r·splits + s)·(D + 2);
// output f32 [D, rows]; splits ≤ 256. NDRange: global = (rows·64), local = (64): a work-group a row.
__kernel __attribute__((reqd_work_group_size(64, 1, 1)))
void attention_merge(__global const uchar *part_buf, uint part_off, __global uchar *out_buf, uint out_off,
                     uint D, uint rows, uint splits) {
    __local float w[256];        // w_s, the parts' weights
    __local float maxima[64];
    const uint lane = get_local_id(0), r = get_group_id(0), stride = D + 2u;
    const __global float *parts = (const __global float *)(part_buf + part_off) + r * splits * stride;
    __global float *y = (__global float *)(out_buf + out_off) + r * D;
    float mx = -INFINITY;
    for (uint s = lane; s < splits; s += 64u) mx = fmax(mx, parts[s * stride]);
    maxima[lane] = mx;
    barrier(CLK_LOCAL_MEM_FENCE);
    float M = -INFINITY;
    for (uint i = 0; i < 64u; i++) M = fmax(M, maxima[i]);
    for (uint s = lane; s < splits; s += 64u) {
        const float m = parts[s * stride];
        w[s] = m == -INFINITY ? 0.0f : exp(m - M);   // M = -inf too when every part is hidden: no NaN
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    float L = 0.0f;
    for (uint s = 0; s < splits; s++) L += w[s] * parts[s * stride + 1u];
    const float inv = L > 0.0f ? 1.0f / L : 0.0f;   // every key hidden: zeros
    for (uint d = lane; d < D; d += 64u) {
        float o = 0.0f;
        for (uint s = 0; s < splits; s++) o += w[s] * parts[s * stride + 2u + d];
        y[d] = o * inv;
    }
}
