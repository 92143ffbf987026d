#version 450
// Rotary position embedding of x [hd, heads, tokens, ne3] at positions (i32 [tokens]). One invocation per
// pair slot j < hd/2 of a row (rope.glsl: the rotation, its modes and its angle).
// Push constants after the contract words: uint hd, heads, tokens, ne3, n_dims, neox; float freq_scale,
// log2_base_over_dims. Dispatch: x = min(ceil(hd/2 · heads · tokens · ne3 / 64), 4096); grid-stride loop.
layout(local_size_x = 64) in;
layout(binding = 0) uniform usamplerBuffer X;
layout(binding = 1) uniform usamplerBuffer P;
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC {
    uint in_off[6]; uint out_off;
    uint hd; uint heads; uint tokens; uint ne3; uint n_dims; uint neox; float freq_scale; float log2_base_over_dims;
} pc;
#include "common.glsl"
#define X_OFF pc.in_off[0]
#define P_OFF pc.in_off[1]
#include "rope.glsl"

void main() {
    uint n = pc.hd / 2u * pc.heads * pc.tokens * pc.ne3;
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) {
        uint a, b;
        float ya, yb;
        rope_pair(i, a, b, ya, yb);
        y[pc.out_off + a] = ya;
        y[pc.out_off + b] = yb;
    }
}
