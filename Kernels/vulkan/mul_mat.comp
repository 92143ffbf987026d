#version 450
// mul_mat: out[m, n, i2, i3] = Σ_k a[k, m, i2 / r2, i3 / r3] · b[k, n, i2, i3], f32 accumulation.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 4;
layout(constant_id = 2) const uint COLS = 1;
layout(binding = 0) uniform usamplerBuffer A;
layout(binding = 1) uniform usamplerBuffer B;
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC {
    uint in_off[4]; uint out_off;
    uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes;
} pc;
#include "dequant.glsl"

vec4 b4(uint i) {
    return uintBitsToFloat(uvec4(texelFetch(B, int(i)).x, texelFetch(B, int(i + 1u)).x,
                                 texelFetch(B, int(i + 2u)).x, texelFetch(B, int(i + 3u)).x));
}

void main() {
    const uint WG = gl_WorkGroupSize.x;
    uint batch = gl_WorkGroupID.z, i2 = batch % pc.B2, i3 = batch / pc.B2;
    uint a_mat = (i3 / pc.r3) * pc.A2 + i2 / pc.r2;
    uint row0 = gl_WorkGroupID.x * WG * ROWS + gl_LocalInvocationID.x, col0 = gl_WorkGroupID.y * COLS;
    uint arow[ROWS], bcol[COLS];
    [[unroll]] for (uint r = 0u; r < ROWS; r++)
        arow[r] = pc.in_off[0] + (a_mat * pc.M + min(row0 + r * WG, pc.M - 1u)) * pc.a_row_bytes;
    [[unroll]] for (uint c = 0u; c < COLS; c++)
        bcol[c] = pc.in_off[1] / 4u + pc.K * (min(col0 + c, pc.N - 1u) + pc.N * batch);
    float acc[ROWS * COLS];
    [[unroll]] for (uint i = 0u; i < ROWS * COLS; i++) acc[i] = 0.0;

    uint chunks = pc.K / 32u;
    for (uint ch = 0u; ch < chunks; ch++) {
        vec4 bv[COLS * 8u];
        [[unroll]] for (uint c = 0u; c < COLS; c++)
            [[unroll]] for (uint q = 0u; q < 8u; q++) bv[c * 8u + q] = b4(bcol[c] + 32u * ch + 4u * q);
        [[unroll]] for (uint r = 0u; r < ROWS; r++) {
            vec4 w[8];
            dequant_chunk(A, arow[r], ch, w);
            [[unroll]] for (uint c = 0u; c < COLS; c++) {
                vec4 s = w[0] * bv[c * 8u];
                [[unroll]] for (uint q = 1u; q < 8u; q++) s += w[q] * bv[c * 8u + q];
                acc[r * COLS + c] += (s.x + s.y) + (s.z + s.w);
            }
        }
    }
#ifdef FLOAT_WEIGHTS
    for (uint k = chunks * 32u; k < pc.K; k++) {
        [[unroll]] for (uint r = 0u; r < ROWS; r++) {
            float w = value_at(A, arow[r], k);
            [[unroll]] for (uint c = 0u; c < COLS; c++)
                acc[r * COLS + c] += w * uintBitsToFloat(texelFetch(B, int(bcol[c] + k)).x);
        }
    }
#endif
    [[unroll]] for (uint r = 0u; r < ROWS; r++)
        [[unroll]] for (uint c = 0u; c < COLS; c++) {
            uint m = row0 + r * WG, n = col0 + c;
            if (m < pc.M && n < pc.N) y[pc.out_off + m + pc.M * (n + pc.N * batch)] = acc[r * COLS + c];
        }
}
