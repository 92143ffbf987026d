#version 450
// mul_mat_vec (GPU family, N ≤ 8): out[m, n, i2, i3] = Σ_k a[k, m, i2 / r2, i3 / r3] · b[k, n, i2, i3], the contract
// of mul_mat.comp (same push constants and results to f32 rounding) shaped for GPUs instead of lavapipe.
// One SPIR-V per weight type: glslc ... -DTYPE_Q4_0=1 (see parts.glsl).
// Push constants after in_off[6], out_off: uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes (r2 = B2 / A2, r3 = B3 / A3),
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
// HEADS = 1 (the mul_mat_vec_rows_* variants, -DHEADS=1, and _rows_f16_* with -DOUT_F16=1; mul_mat_rows): a decode
// step's projection to heads [hd, M/hd, N] with what follows it — rope at each column's position, and the write of
// its heads into a cache's rows (set_rows, f32 or f16) — applied as the sums are written, so the rope and cache
// dispatches between a layer's projections and its attention (and their barrier stage) are gone. A lane group takes
// ROWS / 2 rope pairs (ROWS even) instead of ROWS consecutive rows: both members of a pair end in the same lane,
// which turns them together. Pair q is pair j = q % (hd/2) of head q / (hd/2), rows (2j, 2j+1) of the head, or
// (j, j + n_dims/2) for NeoX's rotated pairs — the pairs rope.glsl's rope_pair turns. The positions and ids are
// inputs pos_in and ids_in (2, 3 or 4: after x and a norm's w), read through bindings 11–13.
//
// I8 = 1 (the mul_mat_vec_*i8_* variants, -DI8=1; every quantized type): the activations as signed bytes of
// one scale a 32-value block (quantize_q8.comp's format; with NORM of x·w, beside Σ x²), and each part's sum two
// integer dot products (int_parts.glsl) scaled once. Where they come from, specialization constant 5 (XQ) says:
//   XQ > 1: the workgroup quantizes b itself into shared memory (XQ = COLS · K/4 words of codes, then COLS · K/32
//           scales) before its rows start — no dispatch and barrier stage of its own, at the cost of every
//           workgroup reading b (from cache: b is K floats a column) and spending a few steps on it;
//   XQ = 1: quantize_q8 ran before, and input 1 is its output (input 2, w, is not read then).
// The epilogues (residual, norm, glu, heads) are the float path's.
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
//              (the dequantized weights are not kept across columns then, so it suits COLS = 1); HEADS: even
//   4 NORM   = 1 for rms_norm_mul_mat [0]
// Host choice: VulkanMatMulKernels.matVec. The texel-buffer kernel this replaced (32 values a lane from
// realigned RGBA texels) ran at about an eighth of an H200's bandwidth whatever its geometry (1B Q4_0
// decode: 2048×8192 in 22.8 µs, 414 GB/s); this one has not yet run on a GPU.
// Dispatch: row groups g = ceil(M / (ROWS · WG / LANES)); x = min(g, 65535), y = ceil(g / x), z = B2*B3.
// Group g's rows: g·ROWS·S + r·S + slot for r < ROWS, slot < S = WG / LANES.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#ifndef GLU
#define GLU 0
#endif
#ifndef HEADS
#define HEADS 0
#endif
#ifndef I8
#define I8 0
#else
#extension GL_EXT_spirv_intrinsics : require
#endif
#ifdef OUT_F16
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : require
#endif
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
    uint in_off[6]; uint out_off;
    uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes, residual;
    float eps;
#if HEADS
    // hd: values a head; rope: 0 none, 1 normal, 2 neox; dst_rows: the cache's rows (set_rows); pos_in, ids_in: the
    // inputs holding positions and ids (0: none).
    uint hd, n_dims, rope, dst_rows, pos_in, ids_in;
    float freq_scale, log2_base_over_dims;
#endif
} pc;
#if HEADS
#ifdef OUT_F16
layout(binding = 8) writeonly buffer Y16 { uint16_t y16[]; };
#endif
layout(binding = 11) readonly buffer I2 { int i32_2[]; };
layout(binding = 12) readonly buffer I3 { int i32_3[]; };
layout(binding = 13) readonly buffer I4 { int i32_4[]; };
// Element i of i32 input `which` (2, 3 or 4).
int input_i32(uint which, uint i) {
    const uint w = pc.in_off[which] / 4u + i;
    return which == 2u ? i32_2[w] : which == 3u ? i32_3[w] : i32_4[w];
}
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
#if I8
#include "int_parts.glsl"
#include "q8.glsl"
layout(binding = 10) readonly buffer BQ { uint bq32[]; };   // input 1 as quantize_q8's words (XQ = 1)
layout(constant_id = 5) const uint XQ = 1;
shared uint xs[XQ];                // XQ > 1: column c's codes at c · K/4 …
shared float xsd[XQ / 8u + 1u];    // and its block scales at c · K/32 …
// Word i of the codes and block j's scale, from shared memory or quantize_q8's output (indices include the column's base).
uint x_word(uint i) { return XQ > 1u ? xs[i] : bq32[i]; }
float x_scale(uint j) { return XQ > 1u ? xsd[j] : uintBitsToFloat(bq32[j]); }
#endif
#include "common.glsl"
#include "rope.glsl"

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

#if HEADS
// The pair holding the lane group's row r: pair r / 2 of the group's ROWS / 2.
uint head_pair(uint group, uint r, uint S, uint slot) {
    return (group * (ROWS / 2u) + r / 2u) * S + slot;
}

// Member r % 2 of the lane group's pair (head_pair): its row, or M past the last pair.
uint head_row(uint group, uint r, uint S, uint slot) {
    const uint q = head_pair(group, r, S, slot), half_hd = pc.hd / 2u, j = q % half_hd;
    if (q >= pc.M / 2u) return pc.M;
    const uint base = q / half_hd * pc.hd;
    return pc.rope == 2u && j < pc.n_dims / 2u ? base + j + (r & 1u) * (pc.n_dims / 2u) : base + 2u * j + (r & 1u);
}

// Value v of row `row`, column c: into the output [hd, M/hd, N], or the cache row ids names for the column's head
// (ids outside [0, dst_rows) write nothing, as set_rows).
void put(uint row, uint c, float v) {
    uint at = row + pc.M * c;
    if (pc.ids_in != 0u) {
        const int d = input_i32(pc.ids_in, c * (pc.M / pc.hd) + row / pc.hd);
        if (d < 0 || uint(d) >= pc.dst_rows) return;
        at = uint(d) * pc.hd + row % pc.hd;
    }
#ifdef OUT_F16
    y16[pc.out_off + at] = uint16_t(f32_to_f16(v));
#else
    y[pc.out_off + at] = v;
#endif
}
#endif

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
#if HEADS
    // A lane group's rows are ROWS / 2 rope pairs instead (head_row); a_mat is 0 (2-D).
    [[unroll]] for (uint r = 0u; r < ROWS; r++) {
        rows[r] = head_row(group, r, S, slot);
        arows[r] = pc.in_off[0] + min(rows[r], pc.M - 1u) * pc.a_row_bytes;
    }
#endif
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
#if I8
    const uint KB = pc.K / 32u;
    uint xq[COLS], xd[COLS];
    if (XQ > 1u) {   // a specialization constant: quantize b here (quantize_q8's arithmetic, so the same bytes)
        const uint tid = gl_LocalInvocationID.x;
        float sq[COLS];
        [[unroll]] for (uint c = 0u; c < COLS; c++) sq[c] = 0.0;
        for (uint t = tid; t < KB * COLS; t += WG) {
            const uint c = t / KB, j = t % KB;
            vec4 v[8];
            [[unroll]] for (uint i = 0u; i < 8u; i++) {
                vec4 x = b_quad(bcol[c] + 32u * j + 4u * i, aligned);
                if (NORM != 0u) {
                    sq[c] += dot(x, x);
                    x *= w_quad(32u * j + 4u * i, w_aligned);
                }
                v[i] = x;
            }
            uint words[8];
            xsd[c * KB + j] = q8_block(v, words);
            [[unroll]] for (uint i = 0u; i < 8u; i++) xs[c * (pc.K / 4u) + 8u * j + i] = words[i];
        }
        // Σ x² of a column: each invocation's share goes to shared memory, and lane l of every row takes the shares
        // of invocations l, l + LANES, …: the row's reduction below then adds all of them.
        if (NORM != 0u) [[unroll]] for (uint c = 0u; c < COLS; c++) partial[tid * COLS + c] = sq[c];
        barrier();
        [[unroll]] for (uint c = 0u; c < COLS; c++) {
            xq[c] = c * (pc.K / 4u);
            xd[c] = c * KB;
            if (NORM != 0u) for (uint s = 0u; s < S; s++) acc[SQ + c] += partial[(s * LANES + lane) * COLS + c];
        }
        barrier();   // partial is the reduction's again
    } else {
        // Column c's codes, block scales and Σ x² in quantize_q8's layout (C = N·B2·B3 columns).
        const uint C = pc.N * pc.B2 * pc.B3, q0 = pc.in_off[1] / 4u;
        [[unroll]] for (uint c = 0u; c < COLS; c++) {
            const uint col = min(c, pc.N - 1u) + pc.N * batch;
            xq[c] = q0 + col * (pc.K / 4u);
            xd[c] = q0 + C * (pc.K / 4u) + col * KB;
            // The column's Σ x², once: the reduction below adds the lanes' slots as it adds their dot products.
            if (NORM != 0u && lane == 0u) acc[SQ + c] = uintBitsToFloat(bq32[q0 + C * (pc.K / 4u + KB) + col]);
        }
    }
    for (uint u = lane; u < parts; u += LANES) {
        const uint j = u >> 2, p = u & 3u;
        // Every column's bytes of the part, then each row's codes decoded once for all of them.
        uint xlo[COLS], xhi[COLS];
        float dx[COLS];
        vec2 sx[COLS];
        [[unroll]] for (uint c = 0u; c < COLS; c++) {
            xlo[c] = x_word(xq[c] + 8u * j + p);
            xhi[c] = x_word(xq[c] + 8u * j + 4u + p);
            dx[c] = x_scale(xd[c] + j);
            // Σ qx of each half, for a min: the dot product with four ones.
            sx[c] = HAS_MIN ? vec2(float(dot4(xlo[c], 0x01010101u)), float(dot4(xhi[c], 0x01010101u))) : vec2(0.0);
        }
        [[unroll]] for (uint r = 0u; r < AR; r++) {
            uint lo, hi;
            vec2 d, m;
            READ_UP(r);
            int_part(arows[r], u, lo, hi, d, m);
            [[unroll]] for (uint c = 0u; c < COLS; c++)
                acc[r * COLS + c] += dx[c] * (dot(d, vec2(float(dot4(lo, xlo[c])), float(dot4(hi, xhi[c])))) + dot(m, sx[c]));
        }
    }
#else
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
#endif
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
#if HEADS
    // Each pair normed, turned (rows past n_dims, and without rope, as they are) and put.
    [[unroll]] for (uint r = 0u; r < ROWS; r += 2u) {
        if (lane != 0u || rows[r] >= pc.M) continue;
        const uint j = head_pair(group, r, S, slot) % (pc.hd / 2u);
        [[unroll]] for (uint c = 0u; c < COLS; c++) {
            if (c >= pc.N) continue;
            const float inv = NORM != 0u ? inversesqrt(acc[SQ + c] / float(pc.K) + pc.eps) : 1.0;
            vec2 v = vec2(acc[r * COLS + c], acc[(r + 1u) * COLS + c]) * inv;
            if (pc.rope != 0u && j < pc.n_dims / 2u)
                v = rope_turn(v.x, v.y, float(input_i32(pc.pos_in, c)), j, pc.freq_scale, pc.log2_base_over_dims);
            put(rows[r], c, v.x);
            put(rows[r + 1u], c, v.y);
        }
    }
#else
    [[unroll]] for (uint r = 0u; r < ROWS; r++) {
        uint row = rows[r];
        if (lane == 0u && row < pc.M) {
            [[unroll]] for (uint c = 0u; c < COLS; c++)
                if (c < pc.N) store(row + pc.M * (c + pc.N * batch), acc[r * COLS + c], UP_SUM(r, c),
                                    NORM != 0u ? acc[SQ + c] : 0.0);
        }
    }
#endif
}
