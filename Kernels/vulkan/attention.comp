#version 450
// Fused attention: out = softmax(scale·(q·kᵀ) + mask)·v with an online (streaming) softmax over the keys.
//
// Inputs: 0 = q f32 [D, T, H, Q3]; 1 = k, 2 = v [D, KV, Hkv, K3], f32, or f16 with -DKV_F16=1;
// 3 = mask f32 [KV, m1, m2, m3], element (j, t % m1, h % m2, i3 % m3) (its ne0 must equal KV).
// Output (binding 8): f32 [D, T, H, Q3]. Head h reads kv head h / (H / Hkv), batch i3 kv batch i3 % K3.
// Requires D % 4 == 0 and D ≤ 256.
// Bindings used: 0–3 (R32_UINT), 5 and 6 (RGBA32UI views of k and v; f32 only) and 8. When has_mask = 0,
// binding 3 must still hold a valid view (bind input 0's again); it is never read.
//
// Push constants (std430, 68 bytes):
//   uint in_off[4]; uint out_off;             // the contract words (README.md)
//   uint D, T, H, Q3, KV, Hkv, K3, m1, m2, m3, has_mask;
//   float scale;
// No specialization constants: local_size_x is 8, one subgroup (the device's subgroup size must be ≥ 8).
// Dispatch: x = ceil(T · (H / Hkv) / 4), y = Hkv, z = Q3 workgroups (each ≤ 65535).
//
// A workgroup serves 4 query rows that share one kv head: rows r = 4·x … 4·x + 3 of the (t, head in
// group) list, r = t · (H / Hkv) + head in group, so each k and v block read serves 4 rows (GQA heads of
// a token, then neighbouring tokens) and per-row values travel as the components of a vec4.
// Lane i owns the 4-dim blocks i, i + 8, … of q and of the output accumulators, so k and v rows are read
// as contiguous 8-lane gathers of 16-byte texels and a score is a subgroup sum. No barrier anywhere.
// Per chunk of 8 keys the scores are gathered one key per lane, so the maximum, the exponentials and the
// rescaling happen once per chunk. Keys (and chunks) masked with -inf for all 4 rows are skipped before
// any k or v is read (causal prefill, mostly masked caches). A row with every key masked gives zeros.
// Private arrays are only indexed by fully unrolled loops: llvmpipe turns a dynamically indexed private
// array into a chain of branches.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_KHR_shader_subgroup_vote : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x = 8) in;

layout(binding = 0) uniform usamplerBuffer Q;
layout(binding = 1) uniform usamplerBuffer K;
layout(binding = 2) uniform usamplerBuffer V;
layout(binding = 3) uniform usamplerBuffer MASK;
layout(binding = 5) uniform usamplerBuffer K4;
layout(binding = 6) uniform usamplerBuffer V4;
layout(binding = 8) writeonly buffer Y { float y[]; };

layout(push_constant) uniform PC {
    uint in_off[4];
    uint out_off;
    uint D, T, H, Q3, KV, Hkv, K3, m1, m2, m3, has_mask;
    float scale;
} pc;

#include "words.glsl"

const uint LANES = 8;
const uint ROWS = 4;                      // query rows per workgroup: the components of a vec4
const uint BLOCKS = 256 / 4 / LANES;      // 4-dim blocks per lane at D = 256
const float NEG_INF = -1.0 / 0.0;
// glslc leaves loops nested two deep in non-unrolled ones rolled, whatever [[unroll]] says.
#define FOR_EACH_BLOCK(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

#if KV_F16
#define KV_BYTES 2u
// Dims 4b … 4b + 3 of the row starting at byte `row` (2-aligned): three fetches, the third the second
// again when the row is 4-aligned.
vec4 kv_block(usamplerBuffer t, usamplerBuffer t4, uint row, uint b, bool aligned16) {
    const uint at = row + 8u * b;
    const int i = int(at >> 2);
    const uint r0 = texelFetch(t, i).x, r1 = texelFetch(t, i + 1).x, r2 = texelFetch(t, i + 1 + int((at >> 1) & 1u)).x;
    return vec4(unpackHalf2x16(funnel_word(r0, r1, at)), unpackHalf2x16(funnel_word(r1, r2, at)));
}
#else
#define KV_BYTES 4u
// Dims 4b … 4b + 3 of the row starting at byte `row`: one 16-byte texel when the tensor is 16-aligned.
vec4 kv_block(usamplerBuffer t, usamplerBuffer t4, uint row, uint b, bool aligned16) {
    const uint at = row + 16u * b;
    uvec4 w;
    if (aligned16) {
        w = texelFetch(t4, int(at >> 4));
    } else {
        const int i = int(at >> 2);
        w = uvec4(texelFetch(t, i).x, texelFetch(t, i + 1).x, texelFetch(t, i + 2).x, texelFetch(t, i + 3).x);
    }
    return uintBitsToFloat(w);
}
#endif

void main() {
    const uint lane = gl_LocalInvocationID.x;
    const uint D = pc.D, KV = pc.KV, group = pc.H / pc.Hkv;
    const uint g = gl_WorkGroupID.y, i3 = gl_WorkGroupID.z;
    const uint kvRow0 = ((i3 % pc.K3) * pc.Hkv + g) * KV * D;
    const uint kBase = pc.in_off[1] + KV_BYTES * kvRow0, vBase = pc.in_off[2] + KV_BYTES * kvRow0;
    const bool kAligned = kBase % 16u == 0u, vAligned = vBase % 16u == 0u;  // D % 4 == 0: every row alike
    const uint rowBytes = KV_BYTES * D;
    const uint nBlocks = D / 4u, blocksPerLane = (nBlocks + LANES - 1u) / LANES;
    // A lane past the last block reads the last block again with q = 0; its sums are never written.
    uint blk[BLOCKS];
    [[unroll]] for (uint i = 0; i < BLOCKS; i++) blk[i] = min(lane + LANES * i, nBlocks - 1u);

    uint outRow[ROWS], maskRow[ROWS];
    bvec4 valid;
    vec4 q[ROWS][BLOCKS], acc[ROWS][BLOCKS];
    [[unroll]] for (uint r = 0; r < ROWS; r++) {
        const uint rr = gl_WorkGroupID.x * ROWS + r;
        valid[r] = rr < pc.T * group;
        const uint t = valid[r] ? rr / group : 0u, h = g * group + rr % group;
        outRow[r] = ((i3 * pc.H + h) * pc.T + t) * D;
        maskRow[r] = pc.in_off[3] + 4u * (((i3 % pc.m3) * pc.m2 + h % pc.m2) * pc.m1 + t % pc.m1) * KV;
        [[unroll]] for (uint i = 0; i < BLOCKS; i++) {
            acc[r][i] = vec4(0.0);
            q[r][i] = vec4(0.0);
            if (i < blocksPerLane && valid[r] && lane + LANES * i < nBlocks) {
                const uint at = pc.in_off[0] + 4u * (outRow[r] + 4u * (lane + LANES * i));
                q[r][i] = vec4(float_at(Q, at), float_at(Q, at + 4u), float_at(Q, at + 8u), float_at(Q, at + 12u));
            }
        }
    }
    const bool masked = pc.has_mask != 0u;
    vec4 m = vec4(NEG_INF);  // running maximum of each row's scores (the same in every lane)
    vec4 l = vec4(0.0);      // this lane's share of each row's Σ exp(s - m)

    for (uint j0 = 0; j0 < KV; j0 += LANES) {
        const uint n = min(LANES, KV - j0), j = j0 + lane;
        vec4 bias = vec4(NEG_INF);  // row r's mask for key j
        if (lane < n)
            [[unroll]] for (uint r = 0; r < ROWS; r++)
                if (valid[r]) bias[r] = masked ? float_at(MASK, maskRow[r] + 4u * j) : 0.0;
        if (subgroupAll(all(equal(bias, vec4(NEG_INF))))) continue;

        vec4 s = vec4(NEG_INF);  // lane jj ends up with the scores of key j0 + jj
        for (uint jj = 0; jj < n; jj++) {
            const vec4 b = subgroupShuffle(bias, jj);
            if (any(notEqual(b, vec4(NEG_INF)))) {
                const uint kRow = kBase + rowBytes * (j0 + jj);
                vec4 partial = vec4(0.0);
#define SCORE_BLOCK(i) if (i < blocksPerLane) {                                                  \
                    const vec4 k = kv_block(K, K4, kRow, blk[i], kAligned);                      \
                    partial += vec4(dot(q[0][i], k), dot(q[1][i], k), dot(q[2][i], k), dot(q[3][i], k)); \
                }
                FOR_EACH_BLOCK(SCORE_BLOCK)
                const vec4 sj = pc.scale * subgroupAdd(partial) + b;
                if (lane == jj) s = sj;
            }
        }

        const vec4 mNew = max(m, subgroupMax(s));
        const bvec4 seen = notEqual(mNew, vec4(NEG_INF));
        const vec4 corr = mix(vec4(0.0), exp(m - mNew), seen);  // 0 while nothing is seen (m = -inf)
        const vec4 p = mix(vec4(0.0), exp(s - mNew), notEqual(s, vec4(NEG_INF)));
        l = l * corr + p;
        if (any(greaterThan(mNew, m)))
            [[unroll]] for (uint r = 0; r < ROWS; r++)
                [[unroll]] for (uint i = 0; i < BLOCKS; i++)
                    if (i < blocksPerLane) acc[r][i] *= corr[r];
        m = mNew;

        for (uint jj = 0; jj < n; jj++) {
            const vec4 pj = subgroupShuffle(p, jj);
            if (any(notEqual(pj, vec4(0.0)))) {  // else masked (or underflowed) for every row: adds nothing
                const uint vRow = vBase + rowBytes * (j0 + jj);
#define ACCUMULATE_BLOCK(i) if (i < blocksPerLane) {                                              \
                    const vec4 v = kv_block(V, V4, vRow, blk[i], vAligned);                      \
                    acc[0][i] += pj[0] * v; acc[1][i] += pj[1] * v; acc[2][i] += pj[2] * v; acc[3][i] += pj[3] * v; \
                }
                FOR_EACH_BLOCK(ACCUMULATE_BLOCK)
            }
        }
    }

    const vec4 sum = subgroupAdd(l);
    const vec4 inv = mix(vec4(0.0), 1.0 / sum, greaterThan(sum, vec4(0.0)));  // every key masked: zeros
    [[unroll]] for (uint r = 0; r < ROWS; r++) {
        [[unroll]] for (uint i = 0; i < BLOCKS; i++) {
            if (i < blocksPerLane && valid[r] && lane + LANES * i < nBlocks) {
                const uint at = pc.out_off + outRow[r] + 4u * (lane + LANES * i);
                const vec4 o = acc[r][i] * inv[r];
                y[at] = o.x; y[at + 1u] = o.y; y[at + 2u] = o.z; y[at + 3u] = o.w;
            }
        }
    }
}
