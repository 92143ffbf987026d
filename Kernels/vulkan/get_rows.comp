#version 450
// get_rows: out[:, j] = table row ids[j] dequantized, NaN for an id outside the table (as the reference).
// Compiled once per table type (-DTYPE_X, dequant.glsl). One invocation per 32-value chunk of an output
// row (per value for f32/f16 tables, whose rows may have any length).
// Inputs: 0 table [k, rows] (its 16-byte view, binding 4, feeds dequant_chunk), 1 ids i32 [n]. Push constants after the contract words: uint k, rows, n, row_bytes.
// Dispatch: x = min(ceil(items / 64), 4096) with items = n·k/32 (n·k for f32/f16); grid-stride loop.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = 64) in;
layout(binding = 0) uniform usamplerBuffer T;
layout(binding = 1) uniform usamplerBuffer I;
layout(binding = 4) uniform usamplerBuffer T4;
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC { uint in_off[6]; uint out_off; uint k; uint rows; uint n; uint row_bytes; } pc;
#include "dequant.glsl"

void main() {
#ifdef FLOAT_WEIGHTS
    uint per_row = pc.k;
#else
    uint per_row = pc.k / 32u;
#endif
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < per_row * pc.n; i += stride) {
        uint j = i / per_row, c = i % per_row;
        int id = int(texelFetch(I, int((pc.in_off[1] >> 2) + j)).x);
        bool inside = id >= 0 && uint(id) < pc.rows;
        uint row = pc.in_off[0] + (inside ? uint(id) : 0u) * pc.row_bytes;
        uint o = pc.out_off + j * pc.k;
#ifdef FLOAT_WEIGHTS
        y[o + c] = inside ? value_at(T, row, c) : uintBitsToFloat(0x7FC00000u);
#else
        vec4 v[8];
        if (inside) dequant_chunk(T4, row, c, v);
        for (uint q = 0u; q < 8u; q++) {
            for (uint e = 0u; e < 4u; e++) y[o + 32u * c + 4u * q + e] = inside ? v[q][e] : uintBitsToFloat(0x7FC00000u);
        }
#endif
    }
}
