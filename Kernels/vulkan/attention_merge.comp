#version 450
// Flash-decoding's second pass: joins the partial softmaxes attention_wg.comp writes when it splits a row's keys
// over `splits` workgroups. Part s of a row is (m_s, l_s, a_s[D]): its keys' maximum score, Σ exp(score − m_s) and
// the unnormalized Σ exp(score − m_s)·v. With M = max m_s and w_s = exp(m_s − M) (0 for a part whose keys were all
// masked, m_s = −inf), out = Σ w_s·a_s / Σ w_s·l_s; a row with every key masked gives zeros, as one pass does.
//
// Input 0 = the parts, f32, (D + 2) floats each, part s of row r (of Q3·rows) at (r·splits + s)·(D + 2).
// Output f32 [D, rows, Q3]. Push constants after in_off[6], out_off: uint D, rows, splits (≤ 256).
// One workgroup of 64 a row: the weights once into shared memory, then lanes over the output dims.
// Dispatch: x = min(rows, 65535), y = ceil(rows / x), z = Q3.

layout(local_size_x = 64) in;
layout(binding = 9) readonly buffer P { float part[]; };
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC {
    uint in_off[6];
    uint out_off;
    uint D, rows, splits;
} pc;

const float NEG_INF = -1.0 / 0.0;
shared float w[256];   // w_s, the parts' weights
shared float maxima[64];

void main() {
    const uint lane = gl_LocalInvocationID.x, S = pc.splits, D = pc.D, stride = D + 2u;
    const uint r = gl_WorkGroupID.x + gl_NumWorkGroups.x * gl_WorkGroupID.y;
    if (r >= pc.rows) return;   // whole workgroups only: the barriers below stay uniform
    const uint row = gl_WorkGroupID.z * pc.rows + r;
    const uint base = pc.in_off[0] / 4u + row * S * stride;

    float mx = NEG_INF;
    for (uint s = lane; s < S; s += 64u) mx = max(mx, part[base + s * stride]);
    maxima[lane] = mx;
    barrier();
    float M = NEG_INF;
    for (uint i = 0u; i < 64u; i++) M = max(M, maxima[i]);
    for (uint s = lane; s < S; s += 64u) {
        const float m = part[base + s * stride];
        w[s] = m == NEG_INF ? 0.0 : exp(m - M);   // M = −inf too when every part is masked: no NaN
    }
    barrier();
    float L = 0.0;
    for (uint s = 0u; s < S; s++) L += w[s] * part[base + s * stride + 1u];
    const float inv = L > 0.0 ? 1.0 / L : 0.0;   // every key masked: zeros
    for (uint d = lane; d < D; d += 64u) {
        float o = 0.0;
        for (uint s = 0u; s < S; s++) o += w[s] * part[base + s * stride + 2u + d];
        y[pc.out_off + row * D + d] = o * inv;
    }
}
