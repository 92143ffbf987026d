#version 450
// mul_mat_vec (GPU family, N ≤ 8): out[m, n, i2, i3] = Σ_k a[k, m, i2 / r2, i3 / r3] · b[k, n, i2, i3], the contract
// of mul_mat.comp (same push constants and results to f32 rounding) shaped for GPUs instead of lavapipe.
// One SPIR-V per weight type: glslc ... -DTYPE_Q4_0=1 (see parts.glsl).
// Push constants after in_off[4], out_off: uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes (r2 = B2 / A2, r3 = B3 / A3),
// residual: 1 for mul_mat_add, whose input 2 (binding 11, f32 of the output's shape) is added to each sum as
// it is written — the layer's residual add without a dispatch and a barrier of its own; eps (a float): rms_norm's.
// NORM = 1 (rms_norm_mul_mat): b is x, input 2 the norm weight w [K], and the product is a·(rms_norm(x)·w). Each
// part's activations are multiplied by w as they are loaded, and their squares summed beside the dot product:
// a row's lanes load every value of x once, so the same reduction that adds their dot products gives Σ x², and
// the row's sum is scaled by 1/sqrt(Σ x²/K + eps) as it is written. The norm costs one more load a part (w),
// not a dispatch and a barrier before every mat-vec that reads it.
// GLU = 1 (the mul_mat_vec_glu_* variants, -DGLU=1; mul_mat_glu): two matrices of one type and shape, gate (input 0)
// and up (the last input: 2, or 3 after NORM's w), and the output act(gate·x̂)·(up·x̂), act silu (residual word 0)
// or gelu (1). A lane takes both matrices' rows for every activation part it loads — up's rows are accumulator rows
// ROWS … 2·ROWS − 1, read through parts.glsl's A32 from the other binding — so x is loaded once for both, and a
// layer's gate, up and glu are one dispatch and one barrier stage where they were three dispatches and two stages.
//
// Inputs come through storage buffers (bindings 9 and 10), not texel buffers: GPUs load words from memory
// directly, where a texel fetch goes through the texture path and the 16-byte windows dequant.glsl realigns.
// A row is LANES consecutive invocations splitting K in parts of 8 values (parts.glsl): lane l takes parts
// l, l + LANES, …, so the 4 lanes of a 32-value block read neighbouring code words and a subgroup's load
// covers one contiguous span; activations are two 16-byte loads a part (b's columns 16-byte aligned, as
// every decode step's are; 4-byte loads otherwise). Each part is dequantized once for all N ≤ COLS columns.
// The lanes' partial sums are added by subgroupAdd where a row's LANES are exactly one subgroup (the host
// picks LANES = 32 on NVIDIA), else in shared memory (a tree, LANES → 1).
// Specialization constants (defaults in brackets):
//   0 WG     = local_size_x [128]: rows per group × LANES
//   1 LANES  = invocations a row [32], a power of two ≤ WG
//   2 COLS   = columns, N ≤ COLS ≤ 8 [1]
//   3 ROWS   = rows a lane group takes [1]: with ROWS > 1 each activation part is loaded once for ROWS rows
//              (the dequantized weights are not kept across columns then, so it suits COLS = 1)
//   4 NORM   = 1 for rms_norm_mul_mat [0]
// Host choice: VulkanMatMulKernels.matVec. The texel-buffer kernel this replaced (32 values a lane from
// realigned RGBA texels) ran at about an eighth of an H200's bandwidth whatever its geometry (1B Q4_0
// decode: 2048×8192 in 22.8 µs, 414 GB/s); this one has not yet run on a GPU.
// Dispatch: row groups g = ceil(M / (ROWS · WG / LANES)); x = min(g, 65535), y = ceil(g / x), z = B2*B3.
// Group g's rows: g·ROWS·S + r·S + slot for r < ROWS, slot < S = WG / LANES.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
layout(local_size_x = 128, local_size_x_id = 0) in;
layout(constant_id = 1) const uint LANES = 32;
layout(constant_id = 2) const uint COLS = 1;
layout(constant_id = 3) const uint ROWS = 1;
layout(constant_id = 4) const uint NORM = 0;
layout(binding = 9) readonly buffer AW { uint a32[]; };
layout(binding = 10) readonly buffer BW { float b32[]; };
layout(binding = 10) readonly buffer BW4 { vec4 b128[]; };
layout(binding = 11) readonly buffer RW { float r32[]; };
layout(binding = 11) readonly buffer RW4 { vec4 r128[]; };
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC {
    uint in_off[4]; uint out_off;
    uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes, residual;
    float eps;
} pc;
#ifndef GLU
#define GLU 0
#endif
#if GLU
layout(binding = 11) readonly buffer UW2 { uint up32_2[]; };   // up without a norm: input 2
layout(binding = 12) readonly buffer UW3 { uint up32_3[]; };   // up after the norm's w: input 3
bool from_up = false;   // which matrix parts.glsl reads: set before each row's dequantization
#define A32(i) (from_up ? (NORM != 0u ? up32_3[i] : up32_2[i]) : a32[i])
#define READ_UP(r) from_up = (r) >= ROWS
#define UP_SUM(r, c) acc[(ROWS + (r)) * COLS + (c)]
#else
#define READ_UP(r)
#define UP_SUM(r, c) 1.0
#endif
#include "parts.glsl"
#include "common.glsl"

// Accumulated rows a lane group takes: ROWS, and with GLU up's ROWS after gate's.
const uint AR = ROWS * (GLU + 1u);
shared float partial[gl_WorkGroupSize.x * COLS * (ROWS * (GLU + 1u) + NORM)];

// The 4 activations at word w: one 16-byte load where every column starts 16-byte aligned (`aligned`,
// uniform), else 4 word loads.
vec4 b_quad(uint w, bool aligned) {
    if (aligned) return b128[w >> 2];
    return vec4(b32[w], b32[w + 1u], b32[w + 2u], b32[w + 3u]);
}

// The norm weights k … k + 3 (NORM): one 16-byte load where w starts 16-byte aligned, else 4 word loads.
vec4 w_quad(uint k, bool aligned) {
    uint w = pc.in_off[2] / 4u + k;
    if (aligned) return r128[w >> 2];
    return vec4(r32[w], r32[w + 1u], r32[w + 2u], r32[w + 3u]);
}

// The activations of a part at word `at` (lo, then hi 16 values on): for NORM times the norm weights, their
// squares added to `squares` first.
void load_b(uint at, bool aligned, vec4 wlo, vec4 whi, inout float squares, out vec4 blo, out vec4 bhi) {
    blo = b_quad(at, aligned);
    bhi = b_quad(at + 16u, aligned);
    if (NORM != 0u) {
        squares += dot(blo, blo) + dot(bhi, bhi);
        blo *= wlo;
        bhi *= whi;
    }
}

// Writes output element i (an index into the output, from its start): the sum, plus r's element i for mul_mat_add,
// or times 1/sqrt(Σ x²/K + eps) of its column (`squares`) for rms_norm_mul_mat; with GLU act(sum)·up, both sums
// normed first (silu written as the swiglu kernel writes it, gelu common.glsl's).
void store(uint i, float sum, float up, float squares) {
    if (NORM != 0u) {
        const float inv = inversesqrt(squares / float(pc.K) + pc.eps);
        sum *= inv;
        up *= inv;
    }
#if GLU
    y[pc.out_off + i] = pc.residual == 0u ? sum / (1.0 + exp(-sum)) * up : gelu(sum) * up;
#else
    y[pc.out_off + i] = pc.residual != 0u ? sum + r32[pc.in_off[2] / 4u + i] : sum;
#endif
}

void main() {
    const uint WG = gl_WorkGroupSize.x, S = WG / LANES;
    uint batch = gl_WorkGroupID.z, i2 = batch % pc.B2, i3 = batch / pc.B2;
    uint a_mat = (i3 / pc.r3) * pc.A2 + i2 / pc.r2;
    uint lane = gl_LocalInvocationID.x % LANES, slot = gl_LocalInvocationID.x / LANES;
    uint group = gl_WorkGroupID.x + gl_NumWorkGroups.x * gl_WorkGroupID.y;
    uint rows[ROWS], arows[AR];
    [[unroll]] for (uint r = 0u; r < AR; r++) {
        if (r < ROWS) rows[r] = (group * ROWS + r) * S + slot;
        // A row past the end reads the last row (never written): every invocation reaches the barriers.
        // Accumulator rows past ROWS (GLU) are up's rows: the same rows of the last input.
        const uint a_off = r < ROWS ? pc.in_off[0] : pc.in_off[NORM != 0u ? 3 : 2];
        arows[r] = a_off + (a_mat * pc.M + min((group * ROWS + r % ROWS) * S + slot, pc.M - 1u)) * pc.a_row_bytes;
    }
    uint bcol[COLS];
    [[unroll]] for (uint c = 0u; c < COLS; c++) bcol[c] = pc.in_off[1] / 4u + pc.K * (min(c, pc.N - 1u) + pc.N * batch);
    bool aligned = ((pc.in_off[1] / 4u) & 3u) == 0u && (pc.K & 3u) == 0u;
    bool w_aligned = ((pc.in_off[2] / 4u) & 3u) == 0u;
    // acc: AR × COLS dot products, then each column's Σ x² at AR·COLS + c (summed and reduced for NORM only;
    // the slots exist either way, since load_b's inout argument is written back whatever NORM is).
    const uint SQ = AR * COLS;
    float acc[(AR + 1u) * COLS];
    [[unroll]] for (uint i = 0u; i < (AR + 1u) * COLS; i++) acc[i] = 0.0;

    uint parts = pc.K / 32u * 4u;
    for (uint u = lane; u < parts; u += LANES) {
        uint k = 32u * (u >> 2) + 4u * (u & 3u);   // lo is values k … k + 3, hi k + 16 … k + 19
        vec4 wlo = vec4(1.0), whi = vec4(1.0);
        if (NORM != 0u) { wlo = w_quad(k, w_aligned); whi = w_quad(k + 16u, w_aligned); }
        if (AR == 1u) {   // a specialization constant: one of the two loops is compiled
            vec4 lo, hi;
            dequant_part(arows[0], u, lo, hi);
            [[unroll]] for (uint c = 0u; c < COLS; c++) {
                vec4 blo, bhi;
                load_b(bcol[c] + k, aligned, wlo, whi, acc[SQ + c], blo, bhi);
                acc[c] += dot(lo, blo) + dot(hi, bhi);
            }
        } else {
            [[unroll]] for (uint c = 0u; c < COLS; c++) {
                vec4 blo, bhi;
                load_b(bcol[c] + k, aligned, wlo, whi, acc[SQ + c], blo, bhi);
                [[unroll]] for (uint r = 0u; r < AR; r++) {
                    vec4 lo, hi;
                    READ_UP(r);
                    dequant_part(arows[r], u, lo, hi);
                    acc[r * COLS + c] += dot(lo, blo) + dot(hi, bhi);
                }
            }
        }
    }
#ifdef FLOAT_WEIGHTS
    // The last K % 32 values, spread over the lanes.
    for (uint k = pc.K / 32u * 32u + lane; k < pc.K; k += LANES) {
        const float nw = NORM != 0u ? r32[pc.in_off[2] / 4u + k] : 1.0;
        [[unroll]] for (uint c = 0u; c < COLS; c++) {
            const float x = b32[bcol[c] + k];
            if (NORM != 0u) acc[SQ + c] += x * x;
            [[unroll]] for (uint r = 0u; r < AR; r++) {
                READ_UP(r);
                acc[r * COLS + c] += value_at(arows[r], k) * (x * nw);
            }
        }
    }
#endif
    const uint RC = (AR + NORM) * COLS;
    if (gl_SubgroupSize == LANES) {   // uniform: a row is one subgroup
        [[unroll]] for (uint i = 0u; i < RC; i++) acc[i] = subgroupAdd(acc[i]);
    } else {
        const uint base = gl_LocalInvocationID.x * RC;
        [[unroll]] for (uint i = 0u; i < RC; i++) partial[base + i] = acc[i];
        for (uint half_ = LANES / 2u; half_ > 0u; half_ /= 2u) {
            barrier();
            if (lane < half_) {
                [[unroll]] for (uint i = 0u; i < RC; i++) partial[base + i] += partial[base + half_ * RC + i];
            }
        }
        barrier();
        [[unroll]] for (uint i = 0u; i < RC; i++) acc[i] = partial[base + i];   // lane 0's are the row's sums
    }
    [[unroll]] for (uint r = 0u; r < ROWS; r++) {
        uint row = rows[r];
        if (lane == 0u && row < pc.M) {
            [[unroll]] for (uint c = 0u; c < COLS; c++)
                if (c < pc.N) store(row + pc.M * (c + pc.N * batch), acc[r * COLS + c], UP_SUM(r, c),
                                    NORM != 0u ? acc[SQ + c] : 0.0);
        }
    }
}
