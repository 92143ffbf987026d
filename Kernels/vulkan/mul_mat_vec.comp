#version 450
// mul_mat_vec (GPU family, N ≤ 8): out[m, n, i2, i3] = Σ_k a[k, m, i2 / r2, i3 / r3] · b[k, n, i2, i3], the contract
// of mul_mat.comp (same bindings, push constants and results to f32 rounding) shaped for GPUs instead of lavapipe.
// One SPIR-V per weight type: glslc ... -DTYPE_Q4_0=1 (see dequant.glsl).
// Push constants after in_off[4], out_off: uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes (r2 = B2 / A2, r3 = B3 / A3).
//
// A row is LANES consecutive invocations splitting K: lane l takes 32-value chunks l, l + LANES, … so the lanes
// of a row read consecutive blocks (one coalesced span per step, where mul_mat.comp's one-lane-a-row walk makes
// every lane of a warp touch a different row), each chunk dequantized once for all N ≤ COLS columns; the
// lanes' partial sums are added in shared memory (a tree, LANES → 1). A workgroup holds WG / LANES rows.
// Where a row's LANES are exactly one subgroup (the host picks LANES = 32 on NVIDIA), subgroupAdd replaces
// the shared-memory tree and its log2(LANES) barriers.
// Specialization constants (defaults in brackets):
//   0 WG     = local_size_x [128]: rows per group × LANES
//   1 LANES  = invocations a row [32], a power of two ≤ WG
//   2 COLS   = columns, N ≤ COLS ≤ 8 [1]
//   3 ROWS   = rows a lane group takes [1]: with ROWS > 1 each activation chunk is read once for ROWS rows
//              (the dequantized weights are not kept across columns then, so it suits COLS = 1)
// Host choice: VulkanMatMulKernels.matVec. Measured on an H200 (1B Q4_0 decode, per-shape timestamps): LANES 16,
// 32 or 64, workgroups of 128 or 256 and two chunks loaded per step all within ±8 % of the default; 8 lanes
// 1.5–2× slower. 2048×8192 Q4_0 takes 22.8 µs (414 GB/s), the 2048×128256 output 273 µs (541 GB/s): about
// an eighth of the card's bandwidth, so the next step is the kernel's loads, not its geometry.
// Dispatch: row groups g = ceil(M / (ROWS · WG / LANES)); x = min(g, 65535), y = ceil(g / x), z = B2*B3.
// Group g's rows: g·ROWS·S + r·S + slot for r < ROWS, slot < S = WG / LANES.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
layout(local_size_x = 128, local_size_x_id = 0) in;
layout(constant_id = 1) const uint LANES = 32;
layout(constant_id = 2) const uint COLS = 1;
layout(constant_id = 3) const uint ROWS = 1;
layout(binding = 0) uniform usamplerBuffer A;
layout(binding = 1) uniform usamplerBuffer B;
layout(binding = 4) uniform usamplerBuffer A4;
layout(binding = 5) uniform usamplerBuffer B4;
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC {
    uint in_off[4]; uint out_off;
    uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes;
} pc;
#include "dequant.glsl"
#define COLUMNS_ALIGNED_FAST_PATH 1
#include "columns.glsl"

shared float partial[gl_WorkGroupSize.x * COLS * ROWS];

void main() {
    const uint WG = gl_WorkGroupSize.x, S = WG / LANES;
    uint batch = gl_WorkGroupID.z, i2 = batch % pc.B2, i3 = batch / pc.B2;
    uint a_mat = (i3 / pc.r3) * pc.A2 + i2 / pc.r2;
    uint lane = gl_LocalInvocationID.x % LANES, slot = gl_LocalInvocationID.x / LANES;
    uint group = gl_WorkGroupID.x + gl_NumWorkGroups.x * gl_WorkGroupID.y;
    uint rows[ROWS], arows[ROWS];
    [[unroll]] for (uint r = 0u; r < ROWS; r++) {
        rows[r] = (group * ROWS + r) * S + slot;
        // A row past the end reads the last row (never written): every invocation reaches the barriers.
        arows[r] = pc.in_off[0] + (a_mat * pc.M + min(rows[r], pc.M - 1u)) * pc.a_row_bytes;
    }
    uint bcol[COLS];
    [[unroll]] for (uint c = 0u; c < COLS; c++) bcol[c] = pc.in_off[1] / 4u + pc.K * (min(c, pc.N - 1u) + pc.N * batch);
    float acc[ROWS * COLS];
    [[unroll]] for (uint i = 0u; i < ROWS * COLS; i++) acc[i] = 0.0;

    uint chunks = pc.K / 32u;
    for (uint ch = lane; ch < chunks; ch += LANES) {
        if (ROWS == 1u) {   // a specialization constant: one of the two loops is compiled
            vec4 w[8];
            dequant_chunk(A4, arows[0], ch, w);
            [[unroll]] for (uint c = 0u; c < COLS; c++) {
                vec4 v[8];
                column_chunk(bcol[c] + 32u * ch, v);
                vec4 s = w[0] * v[0];
                [[unroll]] for (uint q = 1u; q < 8u; q++) s += w[q] * v[q];
                acc[c] += (s.x + s.y) + (s.z + s.w);
            }
        } else {
            [[unroll]] for (uint c = 0u; c < COLS; c++) {
                vec4 v[8];
                column_chunk(bcol[c] + 32u * ch, v);
                [[unroll]] for (uint r = 0u; r < ROWS; r++) {
                    vec4 w[8];
                    dequant_chunk(A4, arows[r], ch, w);
                    vec4 s = w[0] * v[0];
                    [[unroll]] for (uint q = 1u; q < 8u; q++) s += w[q] * v[q];
                    acc[r * COLS + c] += (s.x + s.y) + (s.z + s.w);
                }
            }
        }
    }
#ifdef FLOAT_WEIGHTS
    // The last K % 32 values, spread over the lanes through the R32 views.
    for (uint k = chunks * 32u + lane; k < pc.K; k += LANES) {
        [[unroll]] for (uint r = 0u; r < ROWS; r++) {
            float w = value_at(A, arows[r], k);
            [[unroll]] for (uint c = 0u; c < COLS; c++) acc[r * COLS + c] += w * uintBitsToFloat(texelFetch(B, int(bcol[c] + k)).x);
        }
    }
#endif
    if (gl_SubgroupSize == LANES) {   // uniform: a row is one subgroup
        [[unroll]] for (uint i = 0u; i < ROWS * COLS; i++) acc[i] = subgroupAdd(acc[i]);
        [[unroll]] for (uint r = 0u; r < ROWS; r++) {
            uint row = rows[r];
            if (lane == 0u && row < pc.M) {
                [[unroll]] for (uint c = 0u; c < COLS; c++)
                    if (c < pc.N) y[pc.out_off + row + pc.M * (c + pc.N * batch)] = acc[r * COLS + c];
            }
        }
        return;
    }
    const uint RC = ROWS * COLS, base = gl_LocalInvocationID.x * RC;
    [[unroll]] for (uint i = 0u; i < RC; i++) partial[base + i] = acc[i];
    for (uint half_ = LANES / 2u; half_ > 0u; half_ /= 2u) {
        barrier();
        if (lane < half_) {
            [[unroll]] for (uint i = 0u; i < RC; i++) partial[base + i] += partial[base + half_ * RC + i];
        }
    }
    barrier();
    [[unroll]] for (uint r = 0u; r < ROWS; r++) {
        uint row = rows[r];
        if (lane == 0u && row < pc.M) {
            [[unroll]] for (uint c = 0u; c < COLS; c++)
                if (c < pc.N) y[pc.out_off + row + pc.M * (c + pc.N * batch)] = partial[base + r * COLS + c];
        }
    }
}
