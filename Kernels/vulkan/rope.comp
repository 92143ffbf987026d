#version 450
// Rotary position embedding of x [hd, heads, tokens, ne3] at positions (i32 [tokens]). One invocation per
// pair slot j < hd/2 of a row: normal mode rotates (2j, 2j+1), NeoX (j, j + n_dims/2); slots past
// n_dims/2 copy elements 2j, 2j+1 unchanged.
// θ = p·freq_scale·base^(−2j/n_dims) with base^(−2j/n_dims) = exp2(−2j·log2_base_over_dims) (the host
// computes log2(base)/n_dims in double). θ is reduced modulo 2π in two parts before sin/cos, so positions
// of 32k and more keep only θ's own f32 rounding error.
// Push constants after the contract words: uint hd, heads, tokens, ne3, n_dims, neox; float freq_scale,
// log2_base_over_dims. Dispatch: x = min(ceil(hd/2 · heads · tokens · ne3 / 64), 4096); grid-stride loop.
layout(local_size_x = 64) in;
layout(binding = 0) uniform usamplerBuffer X;
layout(binding = 1) uniform usamplerBuffer P;
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC {
    uint in_off[4]; uint out_off;
    uint hd; uint heads; uint tokens; uint ne3; uint n_dims; uint neox; float freq_scale; float log2_base_over_dims;
} pc;
#include "common.glsl"

void main() {
    uint half_hd = pc.hd / 2u;
    uint n = half_hd * pc.heads * pc.tokens * pc.ne3;
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) {
        uint j = i % half_hd, row = i / half_hd;
        uint base = row * pc.hd;
        if (j >= pc.n_dims / 2u) {
            y[pc.out_off + base + 2u * j] = f32_at(X, pc.in_off[0] + 4u * (base + 2u * j));
            y[pc.out_off + base + 2u * j + 1u] = f32_at(X, pc.in_off[0] + 4u * (base + 2u * j + 1u));
            continue;
        }
        uint t = (row / pc.heads) % pc.tokens;
        float p = float(i32_at(P, pc.in_off[1] + 4u * t));
        float theta = p * pc.freq_scale * exp2(-float(2u * j) * pc.log2_base_over_dims);
        // 2π = 6.28125 + 0.0019353071795864769: k·6.28125 is exact for |k| < 2^16.
        float k = round(theta * 0.15915494309189535);
        float r = (theta - k * 6.28125) - k * 0.0019353071795864769;
        float c = cos(r), s = sin(r);
        uint a = pc.neox != 0u ? j : 2u * j;
        uint b = pc.neox != 0u ? j + pc.n_dims / 2u : 2u * j + 1u;
        float x0 = f32_at(X, pc.in_off[0] + 4u * (base + a));
        float x1 = f32_at(X, pc.in_off[0] + 4u * (base + b));
        y[pc.out_off + base + a] = x0 * c - x1 * s;
        y[pc.out_off + base + b] = x0 * s + x1 * c;
    }
}
