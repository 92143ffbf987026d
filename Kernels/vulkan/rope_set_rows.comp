#version 450
// rope_set_rows (GPU family): dst[:, ids[r]] = rope(x)[:, r] in place — set_rows of a decode step's roped keys,
// so the rope and the cache write are one dispatch and the barrier between them is gone. x [hd, heads, tokens,
// ne3] as rope.comp (rope.glsl: the rotation), its rows r (hd values each, in memory order) written to dst row
// ids[r]; ids outside [0, rows) write nothing, as set_rows.comp. -DOUT_F16 converts to f16, rounding to nearest even.
// Inputs: 0 dst (not read: it is the output binding), 1 x f32, 2 positions i32 [tokens], 3 ids i32 [rows of x].
// Push constants after the contract words: uint hd, heads, tokens, ne3, n_dims, neox; float freq_scale,
// log2_base_over_dims; uint rows (dst's). Dispatch: x = min(ceil(hd/2 · heads · tokens · ne3 / 64), 4096); grid-stride loop.
#extension GL_EXT_shader_16bit_storage : enable
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : enable
layout(local_size_x = 64) in;
layout(binding = 1) uniform usamplerBuffer X;
layout(binding = 2) uniform usamplerBuffer P;
layout(binding = 3) uniform usamplerBuffer I;
#ifdef OUT_F16
layout(binding = 8) writeonly buffer Y { uint16_t y[]; };
#else
layout(binding = 8) writeonly buffer Y { float y[]; };
#endif
layout(push_constant) uniform PC {
    uint in_off[6]; uint out_off;
    uint hd; uint heads; uint tokens; uint ne3; uint n_dims; uint neox; float freq_scale; float log2_base_over_dims;
    uint rows;
} pc;
#include "common.glsl"
#define X_OFF pc.in_off[1]
#define P_OFF pc.in_off[2]
#include "rope.glsl"

void store(uint at, float v) {
#ifdef OUT_F16
    y[pc.out_off + at] = uint16_t(f32_to_f16(v));
#else
    y[pc.out_off + at] = v;
#endif
}

void main() {
    uint n = pc.hd / 2u * pc.heads * pc.tokens * pc.ne3;
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) {
        uint row = i / (pc.hd / 2u);
        int r = i32_at(I, pc.in_off[3] + 4u * row);
        if (r < 0 || uint(r) >= pc.rows) continue;
        uint a, b;
        float ya, yb;
        rope_pair(i, a, b, ya, yb);
        // a and b index x, whose row `row` lands on dst row r.
        store(uint(r) * pc.hd + (a - row * pc.hd), ya);
        store(uint(r) * pc.hd + (b - row * pc.hd), yb);
    }
}
