#version 450
// dst[:, ids[j]] = src[:, j] in place (ggml_set_rows): dst is the output binding; ids outside [0, rows)
// write nothing. -DOUT_F16 converts to f16, rounding to nearest even.
// Inputs: 0 dst (not read), 1 src f32 [k, n], 2 ids i32 [n].
// Push constants after the contract words: uint k, rows, n. Dispatch: x = min(ceil(k·n / 64), 4096); grid-stride loop.
#extension GL_EXT_shader_16bit_storage : enable
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : enable
layout(local_size_x = 64) in;
layout(binding = 1) uniform usamplerBuffer S;
layout(binding = 2) uniform usamplerBuffer I;
#ifdef OUT_F16
layout(binding = 8) writeonly buffer Y { uint16_t y[]; };
#else
layout(binding = 8) writeonly buffer Y { float y[]; };
#endif
layout(push_constant) uniform PC { uint in_off[6]; uint out_off; uint k; uint rows; uint n; } pc;
#include "common.glsl"

void main() {
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < pc.k * pc.n; i += stride) {
        uint j = i / pc.k, c = i % pc.k;
        int r = i32_at(I, pc.in_off[2] + 4u * j);
        if (r < 0 || uint(r) >= pc.rows) continue;
        float v = f32_at(S, pc.in_off[1] + 4u * i);
#ifdef OUT_F16
        y[pc.out_off + uint(r) * pc.k + c] = uint16_t(f32_to_f16(v));
#else
        y[pc.out_off + uint(r) * pc.k + c] = v;
#endif
    }
}
