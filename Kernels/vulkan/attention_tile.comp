#version 450
// Fused attention for prefill (GPU family): out = softmax(scale·(q·kᵀ) + mask)·v, the contract of attention.comp
// (same inputs, push constants up to scale, output and masks; a row with every key masked gives zeros), with
// the queries tiled: attention_wg.comp gives every query row a workgroup that reads all of its keys and values,
// so a prefill of T tokens reads a head's K and V T times over; here a workgroup takes BR consecutive tokens of
// one head and reads each key tile once for all of them (BR times fewer K/V loads, from shared memory after).
//
// One workgroup (WG invocations) per (tile of BR tokens, head, batch). Per tile of BC keys:
// 1. the tile's k rows go to shared memory (4 values a fetch where aligned), rows padded by one vec4 so the
//    lanes of step 2, which read different rows, fall in different banks;
// 2. the BR × BC scores: lane i takes scores i, i + WG, … (key fastest), q and k from shared memory;
// 3. one lane a token updates its running maximum and sum (online softmax), turns its scores into
//    exp(s − m) and leaves the factor that rescales what came before; a tile where no token sees a key stops here;
// 4. the tile's v rows replace the k rows, and each lane adds Σ p·v to the output values it owns (token
//    i = e / D4, dims 4(e % D4) … +3 for e = lane, lane + WG, …: consecutive lanes, consecutive dims).
// A masked key adds nothing, whatever its v holds (an unwritten cache row may hold NaN).
//
// Inputs: 0 = q f32 [D, T, H, Q3]; 1 = k, 2 = v [D, KV, Hkv, K3], f32, or f16 with -DKV_F16=1;
// 3 = mask f32 [KV, m1, m2, m3], element (j, t % m1, h % m2, i3 % m3). Output f32 [D, T, H, Q3].
// Head h reads kv head h / (H / Hkv), batch i3 kv batch i3 % K3. Requires D ≤ 256, D % 4 == 0 (as attention.comp).
// Push constants after in_off[6], out_off: uint D, T, H, Q3, KV, Hkv, K3, m1, m2, m3, has_mask; float scale.
// Specialization constants: 0 WG = local_size_x [128]; 1 D4 = D / 4 [16]; 2 BR tokens a workgroup [16];
// 3 BC keys a tile [64]. The host keeps BR ≤ WG, BR·D4 ≤ 4·WG (four output vec4s a lane) and the shared
// arrays within the device's limit (VulkanAttentionKernels.queryTile).
// Dispatch: (ceil(T / BR), H, Q3).
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x = 128, local_size_x_id = 0) in;
layout(constant_id = 1) const uint D4 = 16;
layout(constant_id = 2) const uint BR = 16;
layout(constant_id = 3) const uint BC = 64;
layout(binding = 0) uniform usamplerBuffer Q;
layout(binding = 1) uniform usamplerBuffer K;
layout(binding = 2) uniform usamplerBuffer V;
layout(binding = 3) uniform usamplerBuffer MASK;
layout(binding = 5) uniform usamplerBuffer K4;   // k and v again, as RGBA32UI views
layout(binding = 6) uniform usamplerBuffer V4;
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC {
    uint in_off[6];
    uint out_off;
    uint D, T, H, Q3, KV, Hkv, K3, m1, m2, m3, has_mask;
    float scale;
} pc;
#include "common.glsl"
#include "attention_kv.glsl"

const float NEG_INF = -1.0 / 0.0;
const uint KS = D4 + 1u;              // a k or v row's stride in kv (padded)
const uint NACC = 4u;                 // output vec4s a lane at most (BR·D4 ≤ 4·WG)
shared vec4 qs[BR * D4];              // the tile's query rows
shared vec4 kv[BC * KS];              // the key tile's k rows, then its v rows
shared float p[BR * BC];              // scores, then exp(s − m)
shared float rowMax[BR], rowSum[BR], rescale[BR];
shared uint live;                     // some token sees some key of the tile

// Rows first … first + BC − 1 of k or v (from byte base) into kv; rows past KV are zeros.
void loadRows(usamplerBuffer t4, usamplerBuffer t1, uint base, uint first, bool aligned) {
    const uint WG = gl_WorkGroupSize.x, lane = gl_LocalInvocationID.x;
    for (uint e = lane; e < BC * D4; e += WG) {
        const uint j = e / D4, d = e % D4;
        kv[j * KS + d] = first + j < pc.KV ? four(t4, t1, base + KV_BYTES * ((first + j) * pc.D + 4u * d), aligned) : vec4(0.0);
    }
}

void main() {
    const uint WG = gl_WorkGroupSize.x, lane = gl_LocalInvocationID.x;
    const uint D = pc.D, KV = pc.KV, T = pc.T, group = pc.H / pc.Hkv;
    const uint t0 = gl_WorkGroupID.x * BR, h = gl_WorkGroupID.y, i3 = gl_WorkGroupID.z, g = h / group;
    const uint rows = min(BR, T - t0);                        // tokens of this tile
    const uint qRow0 = ((i3 * pc.H + h) * T + t0) * D;        // q and output row of token t0
    const uint maskBase = pc.in_off[3] + 4u * ((i3 % pc.m3) * pc.m2 + h % pc.m2) * pc.m1 * KV;
    const uint kvRow0 = ((i3 % pc.K3) * pc.Hkv + g) * KV * D;
    const uint kBase = pc.in_off[1] + KV_BYTES * kvRow0, vBase = pc.in_off[2] + KV_BYTES * kvRow0;
    const bool aligned = ((kBase | vBase) & (4u * KV_BYTES - 1u)) == 0u;

    for (uint e = lane; e < BR * D4; e += WG) {
        const uint i = e / D4, d = e % D4, q = pc.in_off[0] + 4u * (qRow0 + i * D + 4u * d);
        qs[e] = i < rows ? vec4(f32_at(Q, q), f32_at(Q, q + 4u), f32_at(Q, q + 8u), f32_at(Q, q + 12u)) : vec4(0.0);
    }
    if (lane < BR) { rowMax[lane] = NEG_INF; rowSum[lane] = 0.0; }
    vec4 acc[NACC];
    [[unroll]] for (uint a = 0u; a < NACC; a++) acc[a] = vec4(0.0);

    for (uint first = 0u; first < KV; first += BC) {
        loadRows(K4, K, kBase, first, aligned);
        barrier();
        if (lane == 0u) live = 0u;   // here, not before the barrier: every lane has read the last tile's flag
        // 2. Scores, key fastest.
        for (uint e = lane; e < BR * BC; e += WG) {
            const uint i = e / BC, jj = e % BC, j = first + jj;
            float s = NEG_INF;
            if (i < rows && j < KV) {
                const float bias = pc.has_mask != 0u ? f32_at(MASK, maskBase + 4u * (((t0 + i) % pc.m1) * KV + j)) : 0.0;
                if (bias != NEG_INF) {
                    vec4 dot4 = vec4(0.0);
                    [[unroll]] for (uint d = 0u; d < D4; d++) dot4 += qs[i * D4 + d] * kv[jj * KS + d];
                    s = pc.scale * ((dot4.x + dot4.y) + (dot4.z + dot4.w)) + bias;
                }
            }
            p[e] = s;
        }
        barrier();
        // 3. Online softmax, one lane a token.
        if (lane < BR) {
            float tileMax = NEG_INF;
            for (uint jj = 0u; jj < BC; jj++) tileMax = max(tileMax, p[lane * BC + jj]);
            const float m = rowMax[lane], mNew = max(m, tileMax);
            float sum = 0.0, corr = 1.0;
            if (mNew != NEG_INF) {
                corr = exp(m - mNew);   // 0 while nothing was seen (m = -inf)
                for (uint jj = 0u; jj < BC; jj++) {
                    const float s = p[lane * BC + jj];
                    const float e = s == NEG_INF ? 0.0 : exp(s - mNew);
                    p[lane * BC + jj] = e;
                    sum += e;
                }
                rowMax[lane] = mNew;
                rowSum[lane] = rowSum[lane] * corr + sum;
            }
            rescale[lane] = corr;
            if (tileMax != NEG_INF) live = 1u;
        }
        barrier();
        if (live == 0u) continue;   // no token sees a key of this tile (uniform): p is all -inf, nothing to add
        // 4. Values: the v rows over the k rows (every lane is past step 2's reads), then Σ p·v.
        loadRows(V4, V, vBase, first, aligned);
        barrier();
        const uint count = min(BC, KV - first);
        [[unroll]] for (uint a = 0u; a < NACC; a++) {
            const uint e = lane + a * WG;
            if (e < BR * D4) {
                const uint i = e / D4, d = e % D4;
                vec4 o = acc[a] * rescale[i];
                for (uint jj = 0u; jj < count; jj++) {
                    const float w = p[i * BC + jj];
                    o += w > 0.0 ? w * kv[jj * KS + d] : vec4(0.0);   // a masked key (0, or -inf in a row that saw
                                                                       // none yet) adds nothing, whatever its v holds
                }
                acc[a] = o;
            }
        }
        barrier();   // kv and p are read by every lane before the next tile writes them
    }
    barrier();   // rowSum complete (for KV = 0 too)
    [[unroll]] for (uint a = 0u; a < NACC; a++) {
        const uint e = lane + a * WG;
        if (e < BR * D4) {
            const uint i = e / D4, d = e % D4;
            if (i < rows) {
                const float l = rowSum[i];
                const float inv = l > 0.0 ? 1.0 / l : 0.0;   // every key masked: zeros
                const uint out0 = pc.out_off + qRow0 + i * D + 4u * d;
                y[out0] = acc[a].x * inv;
                y[out0 + 1u] = acc[a].y * inv;
                y[out0 + 2u] = acc[a].z * inv;
                y[out0 + 3u] = acc[a].w * inv;
            }
        }
    }
}
