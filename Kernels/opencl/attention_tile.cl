// attention for prefill (GPU family): out = softmax(scale·(q·kᵀ) + mask)·v, the contract of attention.cl (same
// arguments but chunk and splits, masks and results; a row with every key masked gives zeros), with the queries
// tiled: attention_wg gives every query row a work-group that reads all its keys and values, so a prefill of T
// tokens reads a head's K and V T times over; here a work-group takes BR consecutive tokens of one head and reads
// each tile of BC keys once into local memory for all of them (Vulkan's attention_tile.comp, the same steps):
// 1. the tile's k rows into local memory, rows padded by one float4 (the lanes of step 2 read different rows);
// 2. the BR × BC scores, item i taking scores i, i + WG, … (key fastest), q and k from local memory;
// 3. one item a token updates its running maximum and sum (online softmax), turns its scores into exp(s − m)
//    and leaves the factor that rescales what came before; a tile where no token sees a key stops here;
// 4. the tile's v rows over the k rows, and each item adds Σ p·v to the outputs it owns (token e / D4, dims
//    4(e % D4) … +3 for e = item, item + WG, …). A hidden key adds nothing, whatever its v holds.
// Built from attention_kv.cl + this file. Options: -DWG=128 (the local size), -DD4=ceil(D/4), -DBR, -DBC (tokens a
// work-group and keys a tile: KernelFamily.attentionQueryTile keeps BR ≤ WG, BR·D4 ≤ 4·WG and the local arrays
// within 32 KiB), -DKV_F16=1 for f16 K/V.
// NDRange: global = (ceil(T / BR)·WG, H), local = (WG, 1).

#pragma OPENCL FP_CONTRACT ON

#define KS (D4 + 1u)   // a k or v row's stride in kv (padded)
#define NACC 4         // output float4s an item at most

// Rows first … first + BC − 1 of k or v (from row0) into kv; rows past KV are zeros.
inline void load_rows(__local float4 *kv, const __global KV_T *row0, uint first, uint KV, uint D, uint lane) {
    for (uint e = lane; e < BC * D4; e += WG) {
        const uint j = e / D4, d = e % D4;
        kv[j * KS + d] = first + j < KV ? four(row0 + (first + j) * D, d, D) : (float4)(0.0f);
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void attention_tile(__global const uchar *q_buf, uint q_off,
                    __global const uchar *k_buf, uint k_off,
                    __global const uchar *v_buf, uint v_off,
                    __global const uchar *mask_buf, uint mask_off,
                    __global uchar *out_buf, uint out_off,
                    uint D, uint T, uint H, uint KV, uint Hkv, uint has_mask, float scale) {
    __local float4 qs[BR * D4];        // the tile's query rows
    __local float4 kv[BC * KS];        // the key tile's k rows, then its v rows
    __local float p[BR * BC];          // scores, then exp(s − m)
    __local float row_max[BR], row_sum[BR], rescale[BR];
    __local uint live;                 // some token sees some key of the tile
    const uint lane = get_local_id(0), t0 = get_group_id(0) * BR, h = get_group_id(1), g = h / (H / Hkv);
    const uint rows = min((uint)BR, T - t0);   // tokens of this tile
    const __global float *q0 = (const __global float *)(q_buf + q_off) + (h * T + t0) * D;
    const __global KV_T *k0 = (const __global KV_T *)(k_buf + k_off) + g * KV * D;
    const __global KV_T *v0 = (const __global KV_T *)(v_buf + v_off) + g * KV * D;
    const __global float *mask = (const __global float *)(mask_buf + mask_off) + t0 * KV;
    __global float *y = (__global float *)(out_buf + out_off) + (h * T + t0) * D;

    for (uint e = lane; e < BR * D4; e += WG) {
        const uint i = e / D4, d = e % D4;
        float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (uint c = 0; i < rows && c < 4u && 4u * d + c < D; c++) v[c] = q0[i * D + 4u * d + c];
        qs[e] = vload4(0, v);
    }
    if (lane < BR) { row_max[lane] = -INFINITY; row_sum[lane] = 0.0f; }
    float4 acc[NACC];
    for (uint a = 0; a < NACC; a++) acc[a] = (float4)(0.0f);

    for (uint first = 0; first < KV; first += BC) {
        load_rows(kv, k0, first, KV, D, lane);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lane == 0u) live = 0u;   // here, not before the barrier: every item has read the last tile's flag
        // 2. Scores, key fastest.
        for (uint e = lane; e < BR * BC; e += WG) {
            const uint i = e / BC, jj = e % BC, j = first + jj;
            float s = -INFINITY;
            if (i < rows && j < KV) {
                const float bias = has_mask ? mask[i * KV + j] : 0.0f;
                if (bias != -INFINITY) {
                    float4 dot4 = (float4)(0.0f);
#pragma unroll
                    for (uint d = 0; d < D4; d++) dot4 = fma(qs[i * D4 + d], kv[jj * KS + d], dot4);
                    s = fma(scale, (dot4.x + dot4.y) + (dot4.z + dot4.w), bias);
                }
            }
            p[e] = s;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        // 3. Online softmax, one item a token.
        if (lane < BR) {
            float tile_max = -INFINITY;
            for (uint jj = 0; jj < BC; jj++) tile_max = fmax(tile_max, p[lane * BC + jj]);
            const float m = row_max[lane], m_new = fmax(m, tile_max);
            float sum = 0.0f, corr = 1.0f;
            if (m_new != -INFINITY) {
                corr = exp(m - m_new);   // 0 while nothing was seen (m = -inf)
                for (uint jj = 0; jj < BC; jj++) {
                    const float s = p[lane * BC + jj];
                    const float e = s == -INFINITY ? 0.0f : exp(s - m_new);
                    p[lane * BC + jj] = e;
                    sum += e;
                }
                row_max[lane] = m_new;
                row_sum[lane] = row_sum[lane] * corr + sum;
            }
            rescale[lane] = corr;
            if (tile_max != -INFINITY) live = 1u;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (live == 0u) continue;   // no token sees a key of this tile (uniform): nothing to add
        // 4. Values: the v rows over the k rows (every item is past step 2's reads), then Σ p·v.
        load_rows(kv, v0, first, KV, D, lane);
        barrier(CLK_LOCAL_MEM_FENCE);
        const uint count = min((uint)BC, KV - first);
        for (uint a = 0; a < NACC; a++) {
            const uint e = lane + a * WG;
            if (e < BR * D4) {
                const uint i = e / D4, d = e % D4;
                float4 o = acc[a] * rescale[i];
                for (uint jj = 0; jj < count; jj++) {
                    const float w = p[i * BC + jj];
                    if (w > 0.0f) o = fma((float4)(w), kv[jj * KS + d], o);   // hidden keys (0, or -inf before a token
                }                                                              // saw any) add nothing, whatever v holds
                acc[a] = o;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);   // kv and p are read by every item before the next tile writes them
    }
    barrier(CLK_LOCAL_MEM_FENCE);       // row_sum complete (for KV = 0 too)
    for (uint a = 0; a < NACC; a++) {
        const uint e = lane + a * WG;
        const uint i = e / D4, d = e % D4;
        if (e < BR * D4 && i < rows) {
            const float l = row_sum[i];
            const float4 o = acc[a] * (l > 0.0f ? 1.0f / l : 0.0f);   // every key hidden: zeros
            const float v[4] = {o.x, o.y, o.z, o.w};
            for (uint c = 0; c < 4u && 4u * d + c < D; c++) y[i * D + 4u * d + c] = v[c];
        }
    }
}
