#version 450
// rms_norm (GPU family) along ne0, optionally times a weight [ne0] (the fused rms_norm·w): one workgroup of WG
// invocations a row, lanes striding the row (consecutive lanes on consecutive values: coalesced), the sum of
// squares added within each subgroup, then across the subgroups through shared memory in subgroup order
// (deterministic). rms_norm.comp's 8 lanes walk a decode row 256 values each, latency-bound on a GPU
// (70 µs per call on an H200 at 2048 values).
// Push constants after the contract words: uint k (row length), uint rows, uint has_weight, float eps.
// Specialization constant 0: WG = local_size_x [256].
// Dispatch: x = min(rows, 65535) workgroups; a workgroup-stride loop covers the rest.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
layout(local_size_x = 256, local_size_x_id = 0) in;
layout(binding = 0) uniform usamplerBuffer X;
layout(binding = 1) uniform usamplerBuffer W;
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC { uint in_off[6]; uint out_off; uint k; uint rows; uint has_weight; float eps; } pc;
#include "common.glsl"

// One slot per subgroup: WG ≤ 256 invocations make at most 256 subgroups, whatever the subgroup size.
shared float sums[256];

void main() {
    const uint WG = gl_WorkGroupSize.x;
    uint lane = gl_LocalInvocationID.x;
    for (uint row = gl_WorkGroupID.x; row < pc.rows; row += gl_NumWorkGroups.x) {
        uint base = pc.in_off[0] + 4u * row * pc.k;
        float sum = 0.0;
        for (uint i = lane; i < pc.k; i += WG) {
            float v = f32_at(X, base + 4u * i);
            sum += v * v;
        }
        sum = subgroupAdd(sum);
        if (subgroupElect()) sums[gl_SubgroupID] = sum;
        barrier();
        float total = 0.0;
        for (uint s = 0u; s < gl_NumSubgroups; s++) total += sums[s];
        barrier();   // every lane has read the sums before the next row writes them
        // x / sqrt(mean + eps), divided rather than multiplied by an inverse, as the reference does.
        float denominator = sqrt(total / float(pc.k) + pc.eps);
        for (uint i = lane; i < pc.k; i += WG) {
            float v = f32_at(X, base + 4u * i) / denominator;
            if (pc.has_weight != 0u) v *= f32_at(W, pc.in_off[1] + 4u * i);
            y[pc.out_off + row * pc.k + i] = v;
        }
    }
}
