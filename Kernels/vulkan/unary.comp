#version 450
// Elementwise f32 → f32 (scale, silu, gelu) and the f32 ⇄ f16 conversions (-DIN_F16, -DOUT_F16).
// Push constants after the contract words: uint n (elements), uint op (0 scale·s, 1 silu, 2 gelu, 3 copy), float s.
// Dispatch: x = min(ceil(n / 64), 4096); a grid-stride loop covers the rest.
#extension GL_EXT_shader_16bit_storage : enable
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : enable
layout(local_size_x = 64) in;
layout(binding = 0) uniform usamplerBuffer X;
#ifdef OUT_F16
layout(binding = 8) writeonly buffer Y { uint16_t y[]; };
#else
layout(binding = 8) writeonly buffer Y { float y[]; };
#endif
layout(push_constant) uniform PC { uint in_off[6]; uint out_off; uint n; uint op; float s; } pc;
#include "common.glsl"

void main() {
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) {
#ifdef IN_F16
        float x = f16_at(X, pc.in_off[0] + 2u * i);
#else
        float x = f32_at(X, pc.in_off[0] + 4u * i);
#endif
        float v;
        if (pc.op == 0u) v = x * pc.s;
        else if (pc.op == 1u) v = x / (1.0 + exp(-x));
        else if (pc.op == 2u) v = gelu(x);
        else v = x;
#ifdef OUT_F16
        y[pc.out_off + i] = uint16_t(f32_to_f16(v));
#else
        y[pc.out_off + i] = v;
#endif
    }
}
