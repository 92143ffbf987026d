#version 450
// Fused attention: out = softmax(scale·(q·kᵀ) + mask)·v with an online (streaming) softmax over the keys.
//
// Inputs: 0 = q f32 [D, T, H, Q3]; 1 = k, 2 = v [D, KV, Hkv, K3], f32, or f16 with -DKV_F16=1;
// 3 = mask f32 [KV, m1, m2, m3], element (j, t % m1, h % m2, i3 % m3) (its ne0 must equal KV).
// Output (binding 8): f32 [D, T, H, Q3]. Head h reads kv head h / (H / Hkv), batch i3 kv batch i3 % K3.
// Requires D % 4 == 0 and D ≤ 256.
// Bindings used: 0–3 (R32_UINT), 5 and 6 (RGBA32UI views of k and v) and 8. When has_mask = 0,
// binding 3 must still hold a valid view (bind input 0's again); it is never read.
//
// Push constants (std430, 68 bytes):
//   uint in_off[6]; uint out_off;             // the contract words (README.md)
//   uint D, T, H, Q3, KV, Hkv, K3, m1, m2, m3, has_mask;
//   float scale;
// Specialization constants: 0 = local_size_x (a multiple of 8; 8 is best), 1 = NB, the number of 4-dim
// blocks per row the code is unrolled for: set it to D / 4. Any NB ≥ D / 4 is correct (the default 64
// covers every D ≤ 256) but does NB / (D / 4) times the work.
// Dispatch: x = ceil(H · T / local_size_x), y = Q3, z = 1 workgroups (each ≤ 65535).
//
// Why this shape (lavapipe, Mesa 22.3): an `if` never skips work there (both sides run under an execution
// mask; only loops branch), subgroup reductions and shuffles are scalar loops over the lanes, and texel
// fetches are vector gathers. So one invocation owns one query row, (kv head, token, head in group) order,
// and walks the keys itself: q and the output accumulators live in its registers (blocks unrolled to NB),
// the softmax state is per lane, and no cross-lane operation happens inside the key loop. Keys go four at
// a time, so the accumulators are rescaled once per four keys. Neighbouring lanes share a kv head and
// neighbouring tokens, so their k / v fetches hit the same cache lines. Before the key loop each lane scans
// its mask row for its first and last visible key, and the subgroup walks only the union of those ranges
// (causal prefill, mostly masked caches). A row with every key masked gives zeros.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint NB = 64;

layout(binding = 0) uniform usamplerBuffer Q;
layout(binding = 1) uniform usamplerBuffer K;
layout(binding = 2) uniform usamplerBuffer V;
layout(binding = 3) uniform usamplerBuffer MASK;
layout(binding = 5) uniform usamplerBuffer K4;
layout(binding = 6) uniform usamplerBuffer V4;
layout(binding = 8) writeonly buffer Y { float y[]; };

layout(push_constant) uniform PC {
    uint in_off[6];
    uint out_off;
    uint D, T, H, Q3, KV, Hkv, K3, m1, m2, m3, has_mask;
    float scale;
} pc;

#include "words.glsl"

const float NEG_INF = -1.0 / 0.0;
const uint MAXB = 64;  // 4-dim blocks at D = 256

// Block expansion: every use is a literal index, guarded by the specialization constant NB (folded away).
#define B8(M, o) M((o)) M(((o) + 1u)) M(((o) + 2u)) M(((o) + 3u)) M(((o) + 4u)) M(((o) + 5u)) M(((o) + 6u)) M(((o) + 7u))
#define FOR_EACH_BLOCK(M) B8(M, 0u) B8(M, 8u) B8(M, 16u) B8(M, 24u) B8(M, 32u) B8(M, 40u) B8(M, 48u) B8(M, 56u)

// Dims 4b … 4b + 3 of the row starting at byte `row` (clamped to the last block `last`).
#if KV_F16
#define KV_BYTES 2u
// Row 16-aligned and D % 8 == 0: one 16-byte texel holds blocks 2c and 2c + 1.
vec4 kv_fast(usamplerBuffer t, usamplerBuffer t4, uint row, uint b) {
    const uvec4 w = texelFetch(t4, int((row >> 4) + (b >> 1)));
    const uvec2 h = (b & 1u) != 0u ? w.zw : w.xy;
    return vec4(unpackHalf2x16(h.x), unpackHalf2x16(h.y));
}
// Any 2-aligned row: three fetches (the third the second again when the block is 4-aligned).
vec4 kv_slow(usamplerBuffer t, usamplerBuffer t4, uint row, uint b) {
    const uint at = row + 8u * b;
    const int i = int(at >> 2);
    const uint r0 = texelFetch(t, i).x, r1 = texelFetch(t, i + 1).x, r2 = texelFetch(t, i + 1 + int((at >> 1) & 1u)).x;
    return vec4(unpackHalf2x16(funnel_word(r0, r1, at)), unpackHalf2x16(funnel_word(r1, r2, at)));
}
#else
#define KV_BYTES 4u
vec4 kv_fast(usamplerBuffer t, usamplerBuffer t4, uint row, uint b) {
    return uintBitsToFloat(texelFetch(t4, int((row >> 4) + b)));
}
vec4 kv_slow(usamplerBuffer t, usamplerBuffer t4, uint row, uint b) {
    const int i = int((row >> 2) + 4u * b);
    return uintBitsToFloat(uvec4(texelFetch(t, i).x, texelFetch(t, i + 1).x, texelFetch(t, i + 2).x, texelFetch(t, i + 3).x));
}
#endif

// The key loop, four keys per step, with FETCH reading k and v blocks.
#define KEY_LOOP(FETCH)                                                                                    \
    for (uint j = jBegin; j < jEnd; j += 4u) {                                                            \
        uint kr[4];                                                                                        \
        vec4 bias;                                                                                         \
        [[unroll]] for (uint u = 0; u < 4u; u++) {                                                        \
            const uint jj = min(j + u, KV - 1u);                                                          \
            kr[u] = rowBytes * jj;                                                                         \
            const float b = masked ? float_at(MASK, maskRow + 4u * jj) : 0.0;                             \
            bias[u] = (valid && j + u < KV) ? b : NEG_INF;                                                 \
        }                                                                                                  \
        vec4 s = vec4(0.0);                                                                                \
        FOR_EACH_BLOCK(QK_BLOCK_##FETCH)                                                                   \
        s = pc.scale * s + bias;                                                                           \
        const float mNew = max(max(m, max(s.x, s.y)), max(s.z, s.w));                                    \
        const float mRef = mNew == NEG_INF ? 0.0 : mNew;                                                  \
        const float corr = exp(m - mRef);                                                                  \
        const vec4 p = mix(vec4(0.0), exp(s - mRef), notEqual(s, vec4(NEG_INF)));                         \
        l = l * corr + ((p.x + p.y) + (p.z + p.w));                                                        \
        m = mNew;                                                                                          \
        FOR_EACH_BLOCK(PV_BLOCK_##FETCH)                                                                   \
    }

#define QK(FETCH, b) if (b < NB) {                                                                         \
        const uint bb = min(uint(b), nBlocks - 1u);                                                        \
        s += vec4(dot(q[b], FETCH(K, K4, kBase + kr[0], bb)), dot(q[b], FETCH(K, K4, kBase + kr[1], bb)),  \
                  dot(q[b], FETCH(K, K4, kBase + kr[2], bb)), dot(q[b], FETCH(K, K4, kBase + kr[3], bb))); \
    }
#define PV(FETCH, b) if (b < NB) {                                                                         \
        const uint bb = min(uint(b), nBlocks - 1u);                                                        \
        acc[b] = acc[b] * corr + p.x * FETCH(V, V4, vBase + kr[0], bb) + p.y * FETCH(V, V4, vBase + kr[1], bb) \
                               + p.z * FETCH(V, V4, vBase + kr[2], bb) + p.w * FETCH(V, V4, vBase + kr[3], bb); \
    }
#define QK_BLOCK_kv_fast(b) QK(kv_fast, b)
#define QK_BLOCK_kv_slow(b) QK(kv_slow, b)
#define PV_BLOCK_kv_fast(b) PV(kv_fast, b)
#define PV_BLOCK_kv_slow(b) PV(kv_slow, b)

void main() {
    const uint D = pc.D, KV = pc.KV, T = pc.T, group = pc.H / pc.Hkv, rows = pc.H * T;
    const uint nBlocks = D / 4u;
    const uint r = gl_GlobalInvocationID.x, i3 = gl_WorkGroupID.y;
    const bool valid = r < rows;
    const uint rr = min(r, rows - 1u);
    const uint g = rr / (T * group), rem = rr % (T * group), t = rem / group, h = g * group + rem % group;
    const uint outRow = ((i3 * pc.H + h) * T + t) * D;
    const uint maskRow = pc.in_off[3] + 4u * (((i3 % pc.m3) * pc.m2 + h % pc.m2) * pc.m1 + t % pc.m1) * KV;
    const uint kvRow0 = ((i3 % pc.K3) * pc.Hkv + g) * KV * D;
    const uint kBase = pc.in_off[1] + KV_BYTES * kvRow0, vBase = pc.in_off[2] + KV_BYTES * kvRow0;
    const uint rowBytes = KV_BYTES * D;
    const bool masked = pc.has_mask != 0u;

    vec4 q[MAXB], acc[MAXB];
#define LOAD_Q(b) if (b < NB) {                                                                            \
        const uint at = pc.in_off[0] + 4u * (outRow + 4u * min(uint(b), nBlocks - 1u));                    \
        q[b] = b < nBlocks ? vec4(float_at(Q, at), float_at(Q, at + 4u), float_at(Q, at + 8u), float_at(Q, at + 12u)) : vec4(0.0); \
        acc[b] = vec4(0.0);                                                                                \
    }
    FOR_EACH_BLOCK(LOAD_Q)

    // This lane's visible keys [first, last); the subgroup walks the union of its lanes' ranges.
    uint first = valid && !masked ? 0u : KV, last = valid && !masked ? KV : 0u;
    for (uint j = 0; j < (masked ? KV : 0u); j++) {
        if (valid && float_at(MASK, maskRow + 4u * j) != NEG_INF) { first = min(first, j); last = j + 1u; }
    }
    const uint jBegin = subgroupMin(first), jEnd = subgroupMax(last);

    float m = NEG_INF;  // running maximum of this row's scores
    float l = 0.0;      // Σ exp(s - m)
#if KV_F16
    const bool fast = kBase % 16u == 0u && vBase % 16u == 0u && D % 8u == 0u;
#else
    const bool fast = kBase % 16u == 0u && vBase % 16u == 0u;
#endif
    // Loops, not ifs: lavapipe runs both sides of an if, but a loop that does not run costs one pass.
    const uint once = pc.has_mask | 1u;  // 1, opaque to the compiler
    for (uint i = fast ? 0u : once; i < once; i++) { KEY_LOOP(kv_fast) }
    for (uint i = fast ? once : 0u; i < once; i++) { KEY_LOOP(kv_slow) }

    const float inv = l > 0.0 ? 1.0 / l : 0.0;  // every key masked: zeros
#define STORE(b) if (b < NB) {                                                                             \
        if (valid && b < nBlocks) {                                                                        \
            const uint at = pc.out_off + outRow + 4u * b;                                                  \
            const vec4 o = acc[b] * inv;                                                                   \
            y[at] = o.x; y[at + 1u] = o.y; y[at + 2u] = o.z; y[at + 3u] = o.w;                             \
        }                                                                                                  \
    }
    FOR_EACH_BLOCK(STORE)
}
