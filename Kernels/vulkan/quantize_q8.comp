#version 450
// quantize_q8 (GPU family): a mat-vec's activations as signed bytes, for the int8 mat-vec (mul_mat_vec.comp -DI8=1).
// Input 0 is b [K, N, B2, B3] (f32, columns of K contiguous), input 1 the norm weight w [K] (NORM = 1: the bytes
// are of x·w, rms_norm_mul_mat's activations before the 1/rms that the mat-vec applies as it writes). For the
// C = N·B2·B3 columns and K / 32 blocks of 32 values each, the output (f32 words from out_off) holds
//   words [0, C·K/4)                      the codes: column c's block j in words c·K/4 + 8j … + 7, value 4i + t
//                                         in byte t of word i (q8.glsl: x / d rounded to even, −127 … 127)
//   floats [C·K/4, C·K/4 + C·K/32)        the scales d = max |x| / 127 of the blocks, column by column
//   floats [C·K/4 + C·K/32, … + C)        each column's Σ x² (of x itself, not x·w: rms_norm's sum)
// The block of 32 and the scale are ggml's q8_1's (its activation format for integer dot products);
// the sums it keeps are not needed here: a part's Σ qx comes from one more dot product (int_parts.glsl).
// One workgroup of WG a column; invocation i takes blocks i, i + WG, ….
// Push constants after in_off[6], out_off: uint K, C.
layout(local_size_x = 128, local_size_x_id = 0) in;
layout(constant_id = 1) const uint NORM = 0;
layout(binding = 9) readonly buffer XW { float x32[]; };
layout(binding = 10) readonly buffer NW { float w32[]; };
layout(binding = 8) writeonly buffer QW { uint q32[]; };
layout(binding = 8) writeonly buffer QF { float qf[]; };
#include "q8.glsl"
layout(push_constant) uniform PC {
    uint in_off[6]; uint out_off;
    uint K, C;
} pc;
shared float squares[gl_WorkGroupSize.x];

void main() {
    const uint WG = gl_WorkGroupSize.x, col = gl_WorkGroupID.x, blocks = pc.K / 32u;
    const uint x0 = pc.in_off[0] / 4u + col * pc.K, w0 = pc.in_off[1] / 4u;
    const uint codes = pc.out_off + col * (pc.K / 4u), scales = pc.out_off + pc.C * (pc.K / 4u) + col * blocks;
    float sq = 0.0;
    for (uint j = gl_LocalInvocationID.x; j < blocks; j += WG) {
        vec4 v[8];
        for (uint i = 0u; i < 8u; i++) {
            const uint at = 32u * j + 4u * i;
            vec4 x = vec4(x32[x0 + at], x32[x0 + at + 1u], x32[x0 + at + 2u], x32[x0 + at + 3u]);
            sq += dot(x, x);
            if (NORM != 0u) x *= vec4(w32[w0 + at], w32[w0 + at + 1u], w32[w0 + at + 2u], w32[w0 + at + 3u]);
            v[i] = x;
        }
        uint words[8];
        qf[scales + j] = q8_block(v, words);
        for (uint i = 0u; i < 8u; i++) q32[codes + 8u * j + i] = words[i];
    }
    squares[gl_LocalInvocationID.x] = sq;
    for (uint half_ = WG / 2u; half_ > 0u; half_ /= 2u) {
        barrier();
        if (gl_LocalInvocationID.x < half_) squares[gl_LocalInvocationID.x] += squares[gl_LocalInvocationID.x + half_];
    }
    if (gl_LocalInvocationID.x == 0u) qf[pc.out_off + pc.C * (pc.K / 4u + blocks) + col] = squares[0];
}
