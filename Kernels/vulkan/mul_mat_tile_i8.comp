#version 450
// mul_mat_tile_i8 (GPU family, N > 8: prefill, quantized weights, integer dot products): mul_mat_tile.comp's
// contract, tiles and output mapping (a workgroup of 256 computes a 128 × 16·TN tile, each invocation 8 rows × TN
// columns), with the weights and activations as signed bytes: input 1 is quantize_q8.comp's output for the
// N·B2·B3 columns of b (codes, block scales), and the weights' codes come from int_parts.glsl.
// Per 32-value chunk of K: every invocation decodes two 8-value parts of one weight row into shared words (sa: 8
// words a row, k-major; the row's scales and mins beside them) and loads TN / 2 words of activation codes (sb, the
// columns' scales beside them); then each invocation takes 8 steps of 4 values, each a packed dot product for every
// one of its 8·TN outputs (two 16-byte loads of weight words, TN / 4 of activation words), into integer sums that
// are scaled into the float accumulators once a chunk — twice for the types with 16-value sub-blocks (SPLIT), each
// half with its own weight scale. With a min (HAS_MIN) each column's Σ codes of the half adds m · dx · Σ qx.
// Why: a packed dot product does 4 multiply-adds in one instruction and the shared tiles hold bytes, not floats
// (a quarter of the shared-memory loads a multiply-add of mul_mat_tile.comp); on GPUs with integer dot products
// ggml's Vulkan backend prefills quantized weights the same way (mul_mmq against q8_1 activations) where it has
// no cooperative matrices. It has not yet run on a GPU.
// Push constants after in_off[6], out_off: uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes (r2 = B2 / A2, r3 = B3 / A3).
// Specialization constant 0: TN, columns an invocation (4 or 8) [8].
// Dispatch: x = ceil(M / 128), y = ceil(N / (16·TN)), z = B2*B3. Shared memory: about 12 KiB.
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_spirv_intrinsics : require
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint TN = 8;
layout(binding = 9) readonly buffer AW { uint a32[]; };
layout(binding = 10) readonly buffer BQ { uint bq32[]; };
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC {
    uint in_off[6]; uint out_off;
    uint K, M, N, B2, B3, r2, r3, A2, a_row_bytes;
} pc;
#include "parts.glsl"
#include "int_parts.glsl"

const uint BM = 128u, BK = 32u;
shared uint sa[8u * BM];        // [k / 4][m]: word q of a row's chunk is values 4q … 4q + 3 (q < 4: lo halves)
shared vec2 sad[BM], sam[BM];   // each row's scales and mins of the chunk's halves
shared uint sb[8u * 128u];      // [k / 4][n], BN of each 128 used
shared float sbd[128u];         // each column's activation scale of the chunk

void main() {
    const uint BN = 16u * TN;
    uint batch = gl_WorkGroupID.z, i2 = batch % pc.B2, i3 = batch / pc.B2;
    uint a_mat = (i3 / pc.r3) * pc.A2 + i2 / pc.r2;
    uint m0 = gl_WorkGroupID.x * BM, n0 = gl_WorkGroupID.y * BN;
    uint tid = gl_LocalInvocationID.x, tr = tid % 16u, tc = tid / 16u;
    const uint lrow = tid % BM, lpart = tid / BM;
    const uint arow = pc.in_off[0] + (a_mat * pc.M + min(m0 + lrow, pc.M - 1u)) * pc.a_row_bytes;
    // quantize_q8's layout: column c's codes at c · K/4, its scales after all C columns' codes.
    const uint C = pc.N * pc.B2 * pc.B3, q0 = pc.in_off[1] / 4u, KB = pc.K / 32u;
    float acc[8u * TN];
    [[unroll]] for (uint i = 0u; i < 8u * TN; i++) acc[i] = 0.0;

    for (uint ch = 0u; ch < KB; ch++) {
        barrier();   // the previous chunk has been used by every invocation
        [[unroll]] for (uint h = 0u; h < 2u; h++) {
            const uint p = lpart + 2u * h;
            uint lo, hi;
            vec2 d, m;
            int_part(arow, 4u * ch + p, lo, hi, d, m);
            sa[p * BM + lrow] = lo;
            sa[(4u + p) * BM + lrow] = hi;
            if (p == 0u) {
                sad[lrow] = d;
                sam[lrow] = m;
            }
        }
        [[unroll]] for (uint i = 0u; i < TN / 2u; i++) {
            const uint v = tid + 256u * i, col = v % BN, q = v / BN;
            const uint c = min(n0 + col, pc.N - 1u) + pc.N * batch;
            sb[q * BN + col] = bq32[q0 + c * (pc.K / 4u) + 8u * ch + q];
            if (q == 0u) sbd[col] = uintBitsToFloat(bq32[q0 + C * (pc.K / 4u) + c * KB + ch]);
        }
        barrier();
        // Halves of the chunk folded apart (SPLIT) or together: words [4h, 4h + 4) or all 8.
        [[unroll]] for (uint h = 0u; h < (SPLIT ? 2u : 1u); h++) {
            int isum[8u * TN];
            [[unroll]] for (uint i = 0u; i < 8u * TN; i++) isum[i] = 0;
            vec2 sx[TN];   // Σ codes of each column (for a min), over the words taken
            [[unroll]] for (uint j = 0u; j < TN; j++) sx[j] = vec2(0.0);
            [[unroll]] for (uint q = (SPLIT ? 4u * h : 0u); q < (SPLIT ? 4u * h + 4u : 8u); q++) {
                const uvec4 a0 = uvec4(sa[q * BM + 4u * tr], sa[q * BM + 4u * tr + 1u], sa[q * BM + 4u * tr + 2u], sa[q * BM + 4u * tr + 3u]);
                const uvec4 a1 = uvec4(sa[q * BM + 64u + 4u * tr], sa[q * BM + 65u + 4u * tr], sa[q * BM + 66u + 4u * tr], sa[q * BM + 67u + 4u * tr]);
                [[unroll]] for (uint jq = 0u; jq < TN / 4u; jq++) {
                    const uint bi = q * BN + 64u * jq + 4u * tc;
                    const uvec4 b = uvec4(sb[bi], sb[bi + 1u], sb[bi + 2u], sb[bi + 3u]);
                    [[unroll]] for (uint j = 0u; j < 4u; j++) {
                        const uint c = (4u * jq + j) * 8u;
                        if (HAS_MIN) sx[4u * jq + j][q / 4u] += float(dot4(b[j], 0x01010101u));
                        [[unroll]] for (uint i = 0u; i < 4u; i++) {
                            isum[c + i] += dot4(a0[i], b[j]);
                            isum[c + 4u + i] += dot4(a1[i], b[j]);
                        }
                    }
                }
            }
            // acc += dx · (d · Σ code·qx + m · Σ qx), with the weights' scale and min of this half (.x: the first).
            [[unroll]] for (uint j = 0u; j < TN; j++) {
                const float dx = sbd[64u * (j / 4u) + 4u * tc + j % 4u];
                [[unroll]] for (uint i = 0u; i < 8u; i++) {
                    const uint row = 4u * tr + i % 4u + 64u * (i / 4u);
                    const vec2 d = sad[row], m = sam[row];
                    float sum = (h == 0u ? d.x : d.y) * float(isum[j * 8u + i]);
                    if (HAS_MIN) sum += SPLIT ? (h == 0u ? m.x * sx[j].x : m.y * sx[j].y) : m.x * sx[j].x + m.y * sx[j].y;
                    acc[j * 8u + i] += dx * sum;
                }
            }
        }
    }
    // Row i < 8 of this invocation: m0 + 4·tr + i (i < 4), m0 + 64 + 4·tr + i − 4; column j < TN: n0 + 64·(j / 4) + 4·tc + j % 4.
    [[unroll]] for (uint j = 0u; j < TN; j++) {
        const uint col = n0 + 64u * (j / 4u) + 4u * tc + j % 4u;
        [[unroll]] for (uint i = 0u; i < 8u; i++) {
            const uint row = m0 + 4u * tr + i % 4u + 64u * (i / 4u);
            if (row < pc.M && col < pc.N) y[pc.out_off + row + pc.M * (col + pc.N * batch)] = acc[j * 8u + i];
        }
    }
}
