#version 450
// mul_mat: out[m, n, i2, i3] = Σ_k a[k, m, i2 / r2, i3 / r3] · b[k, n, i2, i3], float activations, f32 sums.
// One SPIR-V per weight type: glslc ... -DTYPE_Q4_0=1 (see dequant.glsl). a: [K, M, A2, A3] GGUF rows of
// a_row_bytes; b: [K, N, B2, B3] f32; out: f32 [M, N, B2, B3], y[out_off + m + M*(n + N*(i2 + B2*i3))].
//
// Inputs: a through binding 4 (RGBA32UI; binding 0, R32_UINT, only for the K % 32 tail of f32/f16), b through
// binding 5 (RGBA32UI; binding 1 for the f32/f16 tail). in_off[0] even (4-aligned for f32 a), in_off[1] 4-aligned.
// Push constants after in_off[6], out_off: uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes
//   (r2 = B2 / A2, r3 = B3 / A3). K: a multiple of 32 (256 for K-quants); any K >= 1 for f32/f16.
//
// Each invocation computes a ROWS × COLS tile of out: rows row0 + r*WG (lanes = consecutive rows, so one
// vector of 8 lanes reads 8 rows), columns col0 … col0 + COLS - 1. Per 32-value chunk it loads each of its
// COLS b chunks once (lane-uniform) and dequantizes each of its ROWS weight chunks once, then does
// ROWS × COLS dot products: weights are loaded once per COLS columns, b once per ROWS rows.
// Cost model on lavapipe (measured): a multiply-add is 2 instructions (NIR lowers ffma, so fma() does not
// help); every texel fetch is an out-of-line call (~40 instructions per 16-byte texel, ~10 per b value)
// that is the same for lane-uniform b as for a gather; subgroupBroadcast is far slower than re-fetching.
// So prefill wants big tiles (b fetches / ROWS, dequant / COLS), bounded by JIT time, which grows with
// ROWS × COLS (Q4_1 cold compile: 16×8 tile ≈ 1.3–1.5 s, K-quants ≈ 2–2.5 s; 8×4 ≈ 0.4–0.9 s).
// Specialization constants (defaults in brackets):
//   0 WG   = local_size_x [64], a multiple of 8
//   1 ROWS = rows per invocation [4]
//   2 COLS = columns per invocation [1]
// Host choice on lavapipe: N == 1: WG 32, ROWS 4, COLS 1 (WG 64 when M / 128 >= 16 groups);
// 2 <= N < 8: WG 16, ROWS 8, COLS 4 (COLS = N when N < 4); N >= 8 (prefill): WG 8, ROWS 16, COLS 8.
// Keep WG*ROWS >= 4 so x stays <= 65535 for M = 262144.
// Dispatch: x = ceil(M / (WG*ROWS)), y = ceil(N / COLS), z = B2*B3 (all <= 65535).
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = 64, local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 4;
layout(constant_id = 2) const uint COLS = 1;
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
#include "columns.glsl"

void main() {
    const uint WG = gl_WorkGroupSize.x;
    uint batch = gl_WorkGroupID.z, i2 = batch % pc.B2, i3 = batch / pc.B2;
    uint a_mat = (i3 / pc.r3) * pc.A2 + i2 / pc.r2;
    uint row0 = gl_WorkGroupID.x * WG * ROWS + gl_LocalInvocationID.x, col0 = gl_WorkGroupID.y * COLS;
    // Rows and columns past the end are clamped to the last one (read, never written): no divergent branches.
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
        [[unroll]] for (uint c = 0u; c < COLS; c++) {
            vec4 v[8];
            column_chunk(bcol[c] + 32u * ch, v);
            [[unroll]] for (uint q = 0u; q < 8u; q++) bv[c * 8u + q] = v[q];
        }
        [[unroll]] for (uint r = 0u; r < ROWS; r++) {
            vec4 w[8];
            dequant_chunk(A4, arow[r], ch, w);
            [[unroll]] for (uint c = 0u; c < COLS; c++) {
                vec4 s = w[0] * bv[c * 8u];
                [[unroll]] for (uint q = 1u; q < 8u; q++) s += w[q] * bv[c * 8u + q];
                acc[r * COLS + c] += (s.x + s.y) + (s.z + s.w);
            }
        }
    }
#ifdef FLOAT_WEIGHTS
    // The last K % 32 values, one at a time through the R32 views.
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
