#version 450
// rms_norm along ne0, optionally times a weight [ne0] (the fused rms_norm·w): one subgroup of 8 per row,
// lanes striding the row (8 consecutive values: one vector gather on lavapipe) and a subgroup sum —
// no barrier, which lavapipe runs as a coroutine switch.
// Push constants after the contract words: uint k (row length), uint rows, uint has_weight, float eps.
// Dispatch: x = min(rows, 65535) workgroups of 8; a workgroup-stride loop covers the rest.
#extension GL_KHR_shader_subgroup_arithmetic : require
layout(local_size_x = 8) in;
layout(binding = 0) uniform usamplerBuffer X;
layout(binding = 1) uniform usamplerBuffer W;
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC { uint in_off[6]; uint out_off; uint k; uint rows; uint has_weight; float eps; } pc;
#include "common.glsl"

void main() {
    uint lane = gl_LocalInvocationID.x;
    for (uint row = gl_WorkGroupID.x; row < pc.rows; row += gl_NumWorkGroups.x) {
        uint base = pc.in_off[0] + 4u * row * pc.k;
        float sum = 0.0;
        for (uint i = lane; i < pc.k; i += 8u) {
            float v = f32_at(X, base + 4u * i);
            sum += v * v;
        }
        sum = subgroupAdd(sum);
        // x / sqrt(mean + eps), divided rather than multiplied by an inverse, as the reference does.
        float denominator = sqrt(sum / float(pc.k) + pc.eps);
        for (uint i = lane; i < pc.k; i += 8u) {
            float v = f32_at(X, base + 4u * i) / denominator;
            if (pc.has_weight != 0u) v *= f32_at(W, pc.in_off[1] + 4u * i);
            y[pc.out_off + row * pc.k + i] = v;
        }
    }
}
