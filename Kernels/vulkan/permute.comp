#version 450
// ggml_cont(ggml_permute(x, axes)) for f32 (or f16 with -DF16): element (i0, i1, i2, i3) of x goes to
// output element Σ i_k·s_k, where s_k is the output stride of the axis input axis k becomes.
// Push constants after the contract words: uint ne[4] (x), uint s[4]. Dispatch: x = min(ceil(n / 64), 4096).
#extension GL_EXT_shader_16bit_storage : enable
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : enable
layout(local_size_x = 64) in;
layout(binding = 0) uniform usamplerBuffer X;
#ifdef F16
layout(binding = 8) writeonly buffer Y { uint16_t y[]; };
#else
layout(binding = 8) writeonly buffer Y { float y[]; };
#endif
layout(push_constant) uniform PC { uint in_off[6]; uint out_off; uint ne[4]; uint s[4]; } pc;
#include "common.glsl"

void main() {
    uint n = pc.ne[0] * pc.ne[1] * pc.ne[2] * pc.ne[3];
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) {
        uint i0 = i % pc.ne[0], r = i / pc.ne[0];
        uint i1 = r % pc.ne[1]; r /= pc.ne[1];
        uint i2 = r % pc.ne[2], i3 = r / pc.ne[2];
        uint o = pc.out_off + i0 * pc.s[0] + i1 * pc.s[1] + i2 * pc.s[2] + i3 * pc.s[3];
#ifdef F16
        y[o] = uint16_t(u16_at(X, pc.in_off[0] + 2u * i));
#else
        y[o] = f32_at(X, pc.in_off[0] + 4u * i);
#endif
    }
}
