#version 450
// Fused attention (GPU family): out = softmax(scale·(q·kᵀ) + mask)·v, the contract of attention.comp (same inputs,
// push constants, output and masks; a row with every key masked gives zeros) shaped for GPUs.
//
// One workgroup of WG invocations per query row: the keys go WG at a time (a tile), lane i scoring key
// tile·WG + i (q from shared memory, its k row read whole); the tile's maximum and sum are reduced over
// subgroups and then across them in shared memory, the running maximum rescales what came before (online
// softmax); then each lane accumulates its output dims d = lane, lane + WG, … over the tile's keys, the
// lanes of a key reading consecutive values of its v row (coalesced). attention.comp's one lane a row,
// walking every key alone, keeps 9 lanes of a GPU busy in a SmolLM2 decode step (14 % of Vulkan's decode
// time on an H200).
//
// Inputs: 0 = q f32 [D, T, H, Q3]; 1 = k, 2 = v [D, KV, Hkv, K3], f32, or f16 with -DKV_F16=1;
// 3 = mask f32 [KV, m1, m2, m3], element (j, t % m1, h % m2, i3 % m3). Output f32 [D, T, H, Q3].
// Head h reads kv head h / (H / Hkv), batch i3 kv batch i3 % K3. Requires D ≤ 256 (and D % 4 == 0, as attention.comp).
// Push constants after in_off[4], out_off: uint D, T, H, Q3, KV, Hkv, K3, m1, m2, m3, has_mask; float scale.
// Specialization constant 0: WG = local_size_x [128], a multiple of the subgroup size, 2·WG ≥ 256.
// Dispatch: rows = H·T; x = min(rows, 65535), y = ceil(rows / x), z = Q3.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x = 128, local_size_x_id = 0) in;
layout(binding = 0) uniform usamplerBuffer Q;
layout(binding = 1) uniform usamplerBuffer K;
layout(binding = 2) uniform usamplerBuffer V;
layout(binding = 3) uniform usamplerBuffer MASK;
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC {
    uint in_off[4];
    uint out_off;
    uint D, T, H, Q3, KV, Hkv, K3, m1, m2, m3, has_mask;
    float scale;
} pc;
#include "common.glsl"

#if KV_F16
#define KV_BYTES 2u
#define KV_AT(t, byte_off) f16_at(t, byte_off)
#else
#define KV_BYTES 4u
#define KV_AT(t, byte_off) f32_at(t, byte_off)
#endif

const float NEG_INF = -1.0 / 0.0;
shared float qs[256];       // the query row
shared float p[gl_WorkGroupSize.x];   // the tile's exp(score - max)
shared float part[gl_WorkGroupSize.x];   // per-subgroup partial maxima, then sums

// The workgroup's maximum (or sum) of x: within subgroups, then across them in subgroup order.
float across(float x, bool isMax) {
    float s = isMax ? subgroupMax(x) : subgroupAdd(x);
    if (subgroupElect()) part[gl_SubgroupID] = s;
    barrier();
    float r = part[0];
    for (uint i = 1u; i < gl_NumSubgroups; i++) r = isMax ? max(r, part[i]) : r + part[i];
    barrier();
    return r;
}

void main() {
    const uint WG = gl_WorkGroupSize.x, lane = gl_LocalInvocationID.x;
    const uint D = pc.D, KV = pc.KV, T = pc.T, group = pc.H / pc.Hkv, rows = pc.H * T;
    const uint r = gl_WorkGroupID.x + gl_NumWorkGroups.x * gl_WorkGroupID.y, i3 = gl_WorkGroupID.z;
    if (r >= rows) return;   // whole workgroups only: the barriers below stay uniform
    const uint h = r / T, t = r % T, g = h / group;
    const uint outRow = ((i3 * pc.H + h) * T + t) * D;
    const uint maskRow = pc.in_off[3] + 4u * (((i3 % pc.m3) * pc.m2 + h % pc.m2) * pc.m1 + t % pc.m1) * KV;
    const uint kvRow0 = ((i3 % pc.K3) * pc.Hkv + g) * KV * D;
    const uint kBase = pc.in_off[1] + KV_BYTES * kvRow0, vBase = pc.in_off[2] + KV_BYTES * kvRow0;

    for (uint d = lane; d < D; d += WG) qs[d] = f32_at(Q, pc.in_off[0] + 4u * (outRow + d));
    barrier();

    float m = NEG_INF;            // running maximum of the row's scores
    float l = 0.0;                // Σ exp(s - m)
    float acc0 = 0.0, acc1 = 0.0; // output dims lane and lane + WG
    for (uint tile = 0u; tile < KV; tile += WG) {
        const uint j = tile + lane;
        float s = NEG_INF;
        if (j < KV) {
            const float bias = pc.has_mask != 0u ? f32_at(MASK, maskRow + 4u * j) : 0.0;
            if (bias != NEG_INF) {
                float dotqk = 0.0;
                const uint kRow = kBase + KV_BYTES * j * D;
                for (uint d = 0u; d < D; d++) dotqk += qs[d] * KV_AT(K, kRow + KV_BYTES * d);
                s = pc.scale * dotqk + bias;
            }
        }
        const float mNew = max(m, across(s, true));
        const float mRef = mNew == NEG_INF ? 0.0 : mNew;
        const float corr = exp(m - mRef);
        const float e = s == NEG_INF ? 0.0 : exp(s - mRef);
        p[lane] = e;
        l = l * corr + across(e, false);
        m = mNew;
        // across() ended with a barrier, after which p is complete.
        acc0 *= corr;
        acc1 *= corr;
        const uint count = min(WG, KV - tile);
        for (uint i = 0u; i < count; i++) {
            const float w = p[i];
            if (w != 0.0) {
                const uint vRow = vBase + KV_BYTES * (tile + i) * D;
                if (lane < D) acc0 += w * KV_AT(V, vRow + KV_BYTES * lane);
                if (lane + WG < D) acc1 += w * KV_AT(V, vRow + KV_BYTES * (lane + WG));
            }
        }
        barrier();   // p is read by every lane before the next tile writes it
    }
    const float inv = l > 0.0 ? 1.0 / l : 0.0;   // every key masked: zeros
    if (lane < D) y[pc.out_off + outRow + lane] = acc0 * inv;
    if (lane + WG < D) y[pc.out_off + outRow + lane + WG] = acc1 * inv;
}
