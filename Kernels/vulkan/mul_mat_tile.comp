#version 450
// mul_mat_tile (GPU family, N > 8: prefill): out[m, n, i2, i3] = Σ_k a[k, m, i2 / r2, i3 / r3] · b[k, n, i2, i3], the
// contract of mul_mat.comp (same push constants; inputs as storage buffers, bindings 9 and 10, as mul_mat_vec.comp),
// shaped for GPUs: a workgroup of 256 computes a 128 × BN tile of out (BN = 16·TN columns: 64 or 128), each
// invocation 8 rows × TN columns held in registers.
// Per 32-value chunk of K: every invocation dequantizes two 8-value parts of one weight row (parts.glsl; row
// t % 128, parts t / 128 and t / 128 + 2) and loads TN / 2 vec4 of activations, into shared memory stored k-major
// (sa[k][m], sb[k][n]: a warp's stores go to consecutive words, conflict-free); then 32 steps each read 8 weights and
// TN activations (two and TN / 4 16-byte shared loads) for 8·TN multiply-adds. A weight chunk is dequantized once
// per BN columns, an activation chunk loaded once per 128 rows.
// Why this shape: the 64 × 64 tile it replaced gave each invocation 4 × 4 outputs (8 shared loads for 64
// multiply-adds: bound by shared-memory bandwidth), had 64 of 256 invocations dequantize a whole 32-value chunk
// each while the rest waited, and read its inputs through texel fetches; on an H200 it prefilled a 1B Q4_0 model
// at about a fifth of llama.cpp's Vulkan backend (session 3). With 8·TN outputs an invocation, multiply-adds
// outnumber shared loads 16 to 1 (TN = 8) and every invocation shares the loading. It has not yet run on a GPU.
// Shared memory: 32 KiB (the host uses it where the device has that much; mul_mat.comp elsewhere).
// One SPIR-V per weight type: glslc ... -DTYPE_Q4_0=1 (see parts.glsl).
// Push constants after in_off[6], out_off: uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes (r2 = B2 / A2, r3 = B3 / A3).
// Specialization constant 0: TN, columns an invocation (4 or 8) [8].
// Dispatch: x = ceil(M / 128), y = ceil(N / (16·TN)), z = B2*B3.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint TN = 8;
layout(binding = 9) readonly buffer AW { uint a32[]; };
layout(binding = 10) readonly buffer BW { float b32[]; };
layout(binding = 10) readonly buffer BW4 { vec4 b128[]; };
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC {
    uint in_off[6]; uint out_off;
    uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes;
} pc;
#include "parts.glsl"

const uint BM = 128u, BK = 32u;
shared float sa[BK * BM];          // [k][m]
shared float sb[BK * 128u];        // [k][n], BN of each 128 used

// Four floats of shared array s at i (a multiple of 4): one 16-byte load where the compiler can.
#define QUAD(s, i) vec4(s[(i)], s[(i) + 1u], s[(i) + 2u], s[(i) + 3u])

void main() {
    const uint BN = 16u * TN;
    uint batch = gl_WorkGroupID.z, i2 = batch % pc.B2, i3 = batch / pc.B2;
    uint a_mat = (i3 / pc.r3) * pc.A2 + i2 / pc.r2;
    uint m0 = gl_WorkGroupID.x * BM, n0 = gl_WorkGroupID.y * BN;
    uint tid = gl_LocalInvocationID.x, tr = tid % 16u, tc = tid / 16u;
    // Loading: weight row m0 + t % 128 (clamped to the last row: read, never written), parts t / 128 and t / 128 + 2.
    const uint lrow = tid % BM, lpart = tid / BM;
    const uint arow = pc.in_off[0] + (a_mat * pc.M + min(m0 + lrow, pc.M - 1u)) * pc.a_row_bytes;
    // Activations: vec4 v = t + 256·i of the chunk is column v % BN (clamped), values 4·(v / BN) … + 3.
    const uint bbase = pc.in_off[1] / 4u + pc.K * pc.N * batch;
    const bool aligned = ((pc.in_off[1] / 4u) & 3u) == 0u && (pc.K & 3u) == 0u;
    float acc[8u * TN];
    [[unroll]] for (uint i = 0u; i < 8u * TN; i++) acc[i] = 0.0;

    const uint chunks = pc.K / BK;
    for (uint ch = 0u; ch < chunks; ch++) {
        barrier();   // the previous chunk has been used by every invocation
        [[unroll]] for (uint h = 0u; h < 2u; h++) {
            const uint p = lpart + 2u * h;
            vec4 lo, hi;
            dequant_part(arow, 4u * ch + p, lo, hi);
            [[unroll]] for (uint e = 0u; e < 4u; e++) {
                sa[(4u * p + e) * BM + lrow] = lo[e];
                sa[(16u + 4u * p + e) * BM + lrow] = hi[e];
            }
        }
        [[unroll]] for (uint i = 0u; i < TN / 2u; i++) {
            const uint v = tid + 256u * i, col = v % BN, q = v / BN;
            const uint w = bbase + pc.K * min(n0 + col, pc.N - 1u) + BK * ch + 4u * q;
            const vec4 x = aligned ? b128[w >> 2] : vec4(b32[w], b32[w + 1u], b32[w + 2u], b32[w + 3u]);
            [[unroll]] for (uint e = 0u; e < 4u; e++) sb[(4u * q + e) * BN + col] = x[e];
        }
        barrier();
        [[unroll]] for (uint k = 0u; k < BK; k++) {
            const vec4 a0 = QUAD(sa, k * BM + 4u * tr), a1 = QUAD(sa, k * BM + 64u + 4u * tr);
            [[unroll]] for (uint jq = 0u; jq < TN / 4u; jq++) {
                const vec4 b = QUAD(sb, k * BN + 64u * jq + 4u * tc);
                [[unroll]] for (uint j = 0u; j < 4u; j++) {
                    const uint c = (4u * jq + j) * 8u;
                    [[unroll]] for (uint i = 0u; i < 4u; i++) {
                        acc[c + i] += a0[i] * b[j];
                        acc[c + 4u + i] += a1[i] * b[j];
                    }
                }
            }
        }
    }
    // Row i < 8 of this invocation: m0 + 4·tr + i (i < 4), m0 + 64 + 4·tr + i − 4; column j < TN: n0 + 64·(j / 4) + 4·tc + j % 4.
#ifdef FLOAT_WEIGHTS
    // The last K % 32 values, read directly (a few per row and column).
    for (uint k = chunks * BK; k < pc.K; k++) {
        float w[8];
        [[unroll]] for (uint i = 0u; i < 8u; i++) {
            const uint row = m0 + 4u * tr + i % 4u + 64u * (i / 4u);
            w[i] = value_at(pc.in_off[0] + (a_mat * pc.M + min(row, pc.M - 1u)) * pc.a_row_bytes, k);
        }
        [[unroll]] for (uint j = 0u; j < TN; j++) {
            const float x = b32[bbase + pc.K * min(n0 + 64u * (j / 4u) + 4u * tc + j % 4u, pc.N - 1u) + k];
            [[unroll]] for (uint i = 0u; i < 8u; i++) acc[j * 8u + i] += w[i] * x;
        }
    }
#endif
    [[unroll]] for (uint j = 0u; j < TN; j++) {
        const uint col = n0 + 64u * (j / 4u) + 4u * tc + j % 4u;
        [[unroll]] for (uint i = 0u; i < 8u; i++) {
            const uint row = m0 + 4u * tr + i % 4u + 64u * (i / 4u);
            if (row < pc.M && col < pc.N) y[pc.out_off + row + pc.M * (col + pc.N * batch)] = acc[j * 8u + i];
        }
    }
}
