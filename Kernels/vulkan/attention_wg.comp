#version 450
// Fused attention (GPU family): out = softmax(scale·(q·kᵀ) + mask)·v, the contract of attention.comp (same inputs,
// push constants, output and masks; a row with every key masked gives zeros) shaped for GPUs.
//
// One workgroup of WG invocations per query row; the keys go WG at a time (a tile):
// - scores: lane i scores key tile·WG + i, reading its k row 4 values a fetch (q from shared memory);
//   the tile's maximum and sum are reduced over subgroups and across them in shared memory, and the
//   running maximum rescales what came before (online softmax); a tile with every key masked stops there;
// - values: the lanes form WG / (D/4) streams of D/4 lanes, stream s taking the tile's keys s, s + streams, …
//   and lane c of a stream output dims 4c … 4c+3, so a stream reads a v row as one coalesced span and
//   every load of a lane is independent of the one before; the streams' sums meet in shared memory.
// The first version walked the tile's keys one after another over 64 one-value fetches each: 79 µs a
// decode call on an H200 for a 1B model's 32 heads at 161 keys (the 4-value reads need K and V 16-byte
// aligned, 8 for f16; other offsets take one-value reads, same arithmetic).
//
// Inputs: 0 = q f32 [D, T, H, Q3]; 1 = k, 2 = v [D, KV, Hkv, K3], f32, or f16 with -DKV_F16=1;
// 3 = mask f32 [KV, m1, m2, m3], element (j, t % m1, h % m2, i3 % m3). Output f32 [D, T, H, Q3].
// Head h reads kv head h / (H / Hkv), batch i3 kv batch i3 % K3. Requires D ≤ 256, D % 4 == 0 (as attention.comp).
// Push constants after in_off[6], out_off: uint D, T, H, Q3, KV, Hkv, K3, m1, m2, m3, has_mask; float scale.
// Specialization constants: 0 WG = local_size_x [128], a multiple of the subgroup size, ≥ 64; 1 D4 = D / 4 [16],
// so the q·k loop is unrolled and a lane issues its D/4 loads of a k row back to back instead of waiting for
// each before the next (a decode call at 128 keys was 17 µs on an H200 with the loop bound read at run time).
// Split keys (flash-decoding): push words chunk and splits after scale. Workgroup z = i3·splits + split takes keys
// split·chunk … min(KV, (split+1)·chunk) − 1 (chunk a multiple of WG); with splits > 1 it writes, in place of the
// output, its partial softmax at float (i3·rows + r)·splits + split times (D + 2): the chunk's maximum m, its
// Σ exp(s − m), then the D unnormalized Σ exp(s − m)·v (attention_merge.comp joins them). A decode step has a few
// dozen rows, one workgroup each; splitting a long cache's keys is what gives a GPU's other cores work.
// Dispatch: rows = H·T; x = min(rows, 65535), y = ceil(rows / x), z = Q3·splits.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x = 128, local_size_x_id = 0) in;
layout(constant_id = 1) const uint D4 = 16;
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
    uint chunk, splits;
} pc;
#include "common.glsl"
#include "attention_kv.glsl"

const float NEG_INF = -1.0 / 0.0;
shared vec4 qs[64];                      // the query row
shared float p[gl_WorkGroupSize.x];      // the tile's exp(score - max)
shared float part[gl_WorkGroupSize.x];   // per-subgroup partial maxima, then sums
shared vec4 sums[gl_WorkGroupSize.x];    // the value streams' partial outputs

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
    const uint r = gl_WorkGroupID.x + gl_NumWorkGroups.x * gl_WorkGroupID.y;
    const uint i3 = gl_WorkGroupID.z / pc.splits, split = gl_WorkGroupID.z % pc.splits;
    const uint first = split * pc.chunk, last = min(KV, first + pc.chunk);   // this workgroup's keys
    if (r >= rows) return;   // whole workgroups only: the barriers below stay uniform
    const uint h = r / T, t = r % T, g = h / group;
    const uint outRow = ((i3 * pc.H + h) * T + t) * D;
    const uint maskRow = pc.in_off[3] + 4u * (((i3 % pc.m3) * pc.m2 + h % pc.m2) * pc.m1 + t % pc.m1) * KV;
    const uint kvRow0 = ((i3 % pc.K3) * pc.Hkv + g) * KV * D;
    const uint kBase = pc.in_off[1] + KV_BYTES * kvRow0, vBase = pc.in_off[2] + KV_BYTES * kvRow0;
    const bool aligned = ((kBase | vBase) & (4u * KV_BYTES - 1u)) == 0u;
    const uint streams = WG / D4, stream = lane / D4, c = lane % D4;

    for (uint d = lane; d < D4; d += WG) {
        const uint q = pc.in_off[0] + 4u * (outRow + 4u * d);
        qs[d] = vec4(f32_at(Q, q), f32_at(Q, q + 4u), f32_at(Q, q + 8u), f32_at(Q, q + 12u));
    }
    barrier();

    float m = NEG_INF;            // running maximum of the row's scores
    float l = 0.0;                // Σ exp(s - m)
    vec4 acc = vec4(0.0);         // this lane's stream: output dims 4c … 4c+3
    for (uint tile = first; tile < last; tile += WG) {
        const uint j = tile + lane;
        float s = NEG_INF;
        if (j < last) {
            const float bias = pc.has_mask != 0u ? f32_at(MASK, maskRow + 4u * j) : 0.0;
            if (bias != NEG_INF) {
                const uint kRow = kBase + KV_BYTES * j * D;
                vec4 dot4 = vec4(0.0);
                [[unroll]] for (uint d = 0u; d < D4; d++) dot4 += qs[d] * four(K4, K, kRow + 4u * KV_BYTES * d, aligned);
                s = pc.scale * ((dot4.x + dot4.y) + (dot4.z + dot4.w)) + bias;
            }
        }
        const float tileMax = across(s, true);
        if (tileMax == NEG_INF) continue;   // every key of the tile masked (uniform): nothing to add
        const float mNew = max(m, tileMax);
        const float corr = exp(m - mNew);
        const float e = s == NEG_INF ? 0.0 : exp(s - mNew);
        p[lane] = e;
        l = l * corr + across(e, false);
        m = mNew;
        // across() ended with a barrier, after which p is complete.
        acc *= corr;
        const uint count = min(WG, last - tile);
        if (stream < streams) {
            for (uint i = stream; i < count; i += streams) {
                const float w = p[i];
                const vec4 v = four(V4, V, vBase + KV_BYTES * ((tile + i) * D + 4u * c), aligned);
                acc += w != 0.0 ? w * v : vec4(0.0);   // a masked key adds nothing, whatever its v holds
            }
        }
        barrier();   // p is read by every lane before the next tile writes it
    }
    sums[lane] = acc;
    barrier();
    if (lane < D4) {
        vec4 o = sums[lane];
        for (uint k = 1u; k < streams; k++) o += sums[lane + k * D4];
        if (pc.splits > 1u) {   // a partial softmax for attention_merge.comp: m, l, then the unnormalized sums
            const uint part0 = pc.out_off + ((i3 * rows + r) * pc.splits + split) * (D + 2u);
            if (lane == 0u) { y[part0] = m; y[part0 + 1u] = l; }
            const uint at = part0 + 2u + 4u * lane;
            y[at] = o.x; y[at + 1u] = o.y; y[at + 2u] = o.z; y[at + 3u] = o.w;
            return;
        }
        const float inv = l > 0.0 ? 1.0 / l : 0.0;   // every key masked: zeros
        const uint out0 = pc.out_off + outRow + 4u * lane;
        y[out0] = o.x * inv;
        y[out0 + 1u] = o.y * inv;
        y[out0 + 2u] = o.z * inv;
        y[out0 + 3u] = o.w * inv;
    }
}
