#version 450
// mul_mat_tile (GPU family, N > 8: prefill): out[m, n, i2, i3] = Σ_k a[k, m, i2 / r2, i3 / r3] · b[k, n, i2, i3], the
// contract of mul_mat.comp (same bindings and push constants), shaped for GPUs: a workgroup of 256 computes a
// 64 × 64 tile of out. Per 32-value chunk of K, 64 invocations dequantize one weight row's chunk each into
// shared memory and 64 load one activation column's chunk each; then every invocation multiplies 4 rows by
// 4 columns from shared memory (rows tr + 16i, columns tc + 16j, so neighbouring invocations read
// neighbouring rows). A weight chunk is dequantized once per 64 columns, an activation chunk read once per
// 64 rows (mul_mat.comp: once per 8 columns and 16 rows, in one invocation's registers).
// One SPIR-V per weight type: glslc ... -DTYPE_Q4_0=1 (see dequant.glsl).
// Push constants after in_off[6], out_off: uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes (r2 = B2 / A2, r3 = B3 / A3).
// Dispatch: x = ceil(M / 64), y = ceil(N / 64), z = B2*B3.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = 256) in;
layout(binding = 0) uniform usamplerBuffer A;
layout(binding = 1) uniform usamplerBuffer B;
layout(binding = 4) uniform usamplerBuffer A4;
layout(binding = 5) uniform usamplerBuffer B4;
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC {
    uint in_off[6]; uint out_off;
    uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes;
} pc;
#include "dequant.glsl"
#define COLUMNS_ALIGNED_FAST_PATH 1
#include "columns.glsl"

const uint TILE = 64u;
shared vec4 sa[TILE * 8u];   // 64 weight rows × one chunk (8 vec4)
shared vec4 sb[TILE * 8u];   // 64 activation columns × one chunk

void main() {
    uint batch = gl_WorkGroupID.z, i2 = batch % pc.B2, i3 = batch / pc.B2;
    uint a_mat = (i3 / pc.r3) * pc.A2 + i2 / pc.r2;
    uint m0 = gl_WorkGroupID.x * TILE, n0 = gl_WorkGroupID.y * TILE;
    uint tid = gl_LocalInvocationID.x, tr = tid % 16u, tc = tid / 16u;
    // Loaders: invocation l < 64 owns weight row m0 + l, 64 ≤ l < 128 activation column n0 + l - 64 (clamped to
    // the last: read, never written).
    uint arow = pc.in_off[0] + (a_mat * pc.M + min(m0 + tid % TILE, pc.M - 1u)) * pc.a_row_bytes;
    uint bcol = pc.in_off[1] / 4u + pc.K * (min(n0 + tid % TILE, pc.N - 1u) + pc.N * batch);
    float acc[16];
    [[unroll]] for (uint i = 0u; i < 16u; i++) acc[i] = 0.0;

    uint chunks = pc.K / 32u;
    for (uint ch = 0u; ch < chunks; ch++) {
        barrier();   // the previous chunk has been used by every invocation
        if (tid < TILE) {
            vec4 w[8];
            dequant_chunk(A4, arow, ch, w);
            [[unroll]] for (uint q = 0u; q < 8u; q++) sa[tid * 8u + q] = w[q];
        } else if (tid < 2u * TILE) {
            vec4 v[8];
            column_chunk(bcol + 32u * ch, v);
            [[unroll]] for (uint q = 0u; q < 8u; q++) sb[(tid - TILE) * 8u + q] = v[q];
        }
        barrier();
        [[unroll]] for (uint q = 0u; q < 8u; q++) {
            vec4 a[4], b[4];
            [[unroll]] for (uint i = 0u; i < 4u; i++) a[i] = sa[(tr + 16u * i) * 8u + q];
            [[unroll]] for (uint j = 0u; j < 4u; j++) b[j] = sb[(tc + 16u * j) * 8u + q];
            [[unroll]] for (uint i = 0u; i < 4u; i++)
                [[unroll]] for (uint j = 0u; j < 4u; j++) acc[i * 4u + j] += dot(a[i], b[j]);
        }
    }
    uint rows[4], cols[4];
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        rows[i] = m0 + tr + 16u * i;
        cols[i] = n0 + tc + 16u * i;
    }
#ifdef FLOAT_WEIGHTS
    // The last K % 32 values, read directly (a few per row and column).
    for (uint k = chunks * 32u; k < pc.K; k++) {
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            float w = value_at(A, pc.in_off[0] + (a_mat * pc.M + min(rows[i], pc.M - 1u)) * pc.a_row_bytes, k);
            [[unroll]] for (uint j = 0u; j < 4u; j++) {
                uint b_at = pc.in_off[1] / 4u + pc.K * (min(cols[j], pc.N - 1u) + pc.N * batch) + k;
                acc[i * 4u + j] += w * uintBitsToFloat(texelFetch(B, int(b_at)).x);
            }
        }
    }
#endif
    [[unroll]] for (uint i = 0u; i < 4u; i++)
        [[unroll]] for (uint j = 0u; j < 4u; j++)
            if (rows[i] < pc.M && cols[j] < pc.N) y[pc.out_off + rows[i] + pc.M * (cols[j] + pc.N * batch)] = acc[i * 4u + j];
}
