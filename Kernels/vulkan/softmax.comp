#version 450
// y = softmax(x·scale + mask) along ne0, one workgroup per row.
//
// Inputs: 0 = x f32 [K, ne1, ne2, ne3]; 1 = mask f32 [K, m1, m2, m3], element (i, i1 % m1, i2 % m2, i3 % m3).
// Output (binding 8): y f32, same shape as x.
// Bindings used: 0, 1 (R32_UINT) and 8. When has_mask = 0, binding 1 must still hold a valid view
// (bind input 0's again); it is never read.
//
// Push constants (std430, 56 bytes):
//   uint in_off[6]; uint out_off;             // the contract words (README.md)
//   uint K, ne1, ne2, ne3, m1, m2, m3, has_mask;
//   float scale;
// Specialization constant 0: local_size_x, default 8 (a multiple of 8). On lavapipe one subgroup per
// row is fastest: a workgroup's subgroups run one after another on one thread, so more lanes per row
// only add barriers.
// Dispatch: (ne1, ne2, ne3) workgroups; each ≤ 65535.
//
// Three passes over the row (texel fetches are cheap): maximum, Σ exp(s - max), write. A row whose
// maximum is -inf (fully masked) becomes zeros.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x = 8, local_size_x_id = 0) in;  // gl_WorkGroupSize.x: 8 unless specialized

layout(binding = 0) uniform usamplerBuffer X;
layout(binding = 1) uniform usamplerBuffer M;
layout(binding = 8) writeonly buffer Y { float y[]; };

layout(push_constant) uniform PC {
    uint in_off[6];
    uint out_off;
    uint K, ne1, ne2, ne3, m1, m2, m3, has_mask;
    float scale;
} pc;

shared float partial[gl_WorkGroupSize.x / 8];

// Combines one value per subgroup across the workgroup (a no-op for a single subgroup).
float workgroupMax(float v) {
    v = subgroupMax(v);
    if (gl_NumSubgroups == 1) return v;
    if (subgroupElect()) partial[gl_SubgroupID] = v;
    barrier();
    v = partial[0];
    for (uint i = 1; i < gl_NumSubgroups; i++) v = max(v, partial[i]);
    barrier();  // partial is reused by the next reduction
    return v;
}

float workgroupSum(float v) {
    v = subgroupAdd(v);
    if (gl_NumSubgroups == 1) return v;
    if (subgroupElect()) partial[gl_SubgroupID] = v;
    barrier();
    v = 0.0;
    for (uint i = 0; i < gl_NumSubgroups; i++) v += partial[i];
    return v;
}

void main() {
    const uint i1 = gl_WorkGroupID.x, i2 = gl_WorkGroupID.y, i3 = gl_WorkGroupID.z;
    const uint row = ((i3 * pc.ne2 + i2) * pc.ne1 + i1) * pc.K;
    const uint xBase = pc.in_off[0] / 4 + row;
    const uint mBase = pc.in_off[1] / 4 + (((i3 % pc.m3) * pc.m2 + i2 % pc.m2) * pc.m1 + i1 % pc.m1) * pc.K;
    const bool masked = pc.has_mask != 0;
    const uint lane = gl_LocalInvocationID.x;

    // fma: one rounding, and the same value in every pass.
#define SCORE(i) fma(uintBitsToFloat(texelFetch(X, int(xBase + (i))).r), pc.scale, \
                     masked ? uintBitsToFloat(texelFetch(M, int(mBase + (i))).r) : 0.0)

    float m = -1.0 / 0.0;
    for (uint i = lane; i < pc.K; i += gl_WorkGroupSize.x) m = max(m, SCORE(i));
    m = workgroupMax(m);

    const uint yBase = pc.out_off + row;
    if (m == -1.0 / 0.0) {
        for (uint i = lane; i < pc.K; i += gl_WorkGroupSize.x) y[yBase + i] = 0.0;
        return;
    }

    float sum = 0.0;
    for (uint i = lane; i < pc.K; i += gl_WorkGroupSize.x) sum += exp(SCORE(i) - m);
    const float inv = 1.0 / workgroupSum(sum);

    for (uint i = lane; i < pc.K; i += gl_WorkGroupSize.x) y[yBase + i] = exp(SCORE(i) - m) * inv;
}
