// Elementwise kernels: unary (scale, silu, gelu, copy), f32 ⇄ f16 conversion, binary (add, mul, swiglu, geglu)
// with ggml broadcast, set_rows (in place) and permute (ggml_cont of ggml_permute).
//
// Arguments follow README.md: (buffer, byte offset) per tensor, inputs then output, then the scalars
// listed per kernel below. Shapes are ggml's (ne0 innermost), tensors contiguous.
//
// NDRange (every kernel): 1-D, one work-item per span of SPAN = 64 consecutive elements along ne0 (a row
// is split into ceil(ne0 / 64) spans), done as float8 (or half8 / ushort8) steps plus a scalar tail.
// 64 rather than 8 per work-item amortises the index divisions: binary ran 3–5× faster on PoCL.
//   items   unary, convert_*:  ceil(n / 64)
//           binary, permute:   ceil(ne0 / 64) · ne1 · ne2 · ne3
//           set_rows:          ceil(K / 64) · N
//   global = items rounded up to a multiple of local; local = 64 (any size works: work-items past
//   `items` return at once, and there are no barriers). items = 0: enqueue nothing.
//
// Build options:
//   (none)       all kernels, f32 set_rows destination and f32 permute
//   -DOUT_F16=1  set_rows writes an f16 destination (round to nearest even, ≥ 65520 → ±inf)
//   -DF16=1      permute moves f16 elements (also an f16 → f16 copy: identity strides)
// Both options only change set_rows / permute; the other kernels are the same in every build.
//
// f16 data is read with vload_half* and written with vstore_half*_rte (no cl_khr_fp16 on PoCL); vload8,
// vload_half8 etc. need only element alignment, so any offset the contract allows is fine.

#define SPAN 64u
#define CF32(buf, off) ((__global const float *)((buf) + (off)))
#define F32(buf, off) ((__global float *)((buf) + (off)))

// 0: x·s, 1: silu, 2: gelu (tanh form), 3: copy. gelu's 0.5·(1 + tanh(u)) is written 1 / (1 + e^(−2u)):
// no cancellation for negative x, and e^(−2u) = inf gives x/inf = −0 instead of tanh's inf/inf NaN.
// 1.5957691216057308 = 2·√(2/π).
#define DEFINE_UNARY(T)                                                                              \
    T unary_##T(T x, uint op, float s) {                                                             \
        if (op == 0u) return x * s;                                                                  \
        if (op == 1u) return x / (1.0f + exp(-x));                                                   \
        if (op == 2u) return x / (1.0f + exp(-1.5957691216057308f * (x + 0.044715f * x * x * x)));   \
        return x;                                                                                    \
    }
DEFINE_UNARY(float)
DEFINE_UNARY(float8)

// 0: a + b, 1: a·b (single IEEE operations: correctly rounded), 2: swiglu silu(a)·b, 3: geglu gelu(a)·b.
#define DEFINE_BINARY(T)                                                                             \
    T binary_##T(T a, T b, uint op) {                                                                \
        if (op == 0u) return a + b;                                                                  \
        if (op == 1u) return a * b;                                                                  \
        if (op == 2u) return a / (1.0f + exp(-a)) * b;                                               \
        return unary_##T(a, 2u, 0.0f) * b;                                                           \
    }
DEFINE_BINARY(float)
DEFINE_BINARY(float8)

// unary: x f32 [n] → out f32 [n]. Scalars: uint n, uint op, float s (used by op 0 only).
__kernel void unary(__global const uchar *x, uint x_off, __global uchar *out, uint out_off,
                    uint n, uint op, float s) {
    uint i = SPAN * (uint)get_global_id(0);
    if (i >= n) return;
    __global const float *xp = CF32(x, x_off);
    __global float *yp = F32(out, out_off);
    uint end = min(i + SPAN, n);
    for (; end - i >= 8u; i += 8u) vstore8(unary_float8(vload8(0, xp + i), op, s), 0, yp + i);
    for (; i < end; i++) yp[i] = unary_float(xp[i], op, s);
}

// convert_f32_f16: x f32 [n] → out f16 [n], round to nearest even. Scalars: uint n.
__kernel void convert_f32_f16(__global const uchar *x, uint x_off, __global uchar *out, uint out_off, uint n) {
    uint i = SPAN * (uint)get_global_id(0);
    if (i >= n) return;
    __global const float *xp = CF32(x, x_off);
    __global half *yp = (__global half *)(out + out_off);
    uint end = min(i + SPAN, n);
    for (; end - i >= 8u; i += 8u) vstore_half8_rte(vload8(0, xp + i), 0, yp + i);
    for (; i < end; i++) vstore_half_rte(xp[i], 0, yp + i);
}

// convert_f16_f32: x f16 [n] → out f32 [n] (exact). Scalars: uint n.
__kernel void convert_f16_f32(__global const uchar *x, uint x_off, __global uchar *out, uint out_off, uint n) {
    uint i = SPAN * (uint)get_global_id(0);
    if (i >= n) return;
    __global const half *xp = (__global const half *)(x + x_off);
    __global float *yp = F32(out, out_off);
    uint end = min(i + SPAN, n);
    for (; end - i >= 8u; i += 8u) vstore8(vload_half8(0, xp + i), 0, yp + i);
    for (; i < end; i++) yp[i] = vload_half(0, xp + i);
}

// binary: a f32 [ne0, ne1, ne2, ne3], b f32 [be0, be1, be2, be3] repeated to a's shape (b's index is each
// of a's modulo b's extent) → out f32 with a's shape. swiglu (op 2) and geglu (op 3) take a = gate, b = up, same shapes.
// Scalars: uint ne0, ne1, ne2, ne3, be0, be1, be2, be3, op.
__kernel void binary(__global const uchar *a, uint a_off, __global const uchar *b, uint b_off,
                     __global uchar *out, uint out_off,
                     uint ne0, uint ne1, uint ne2, uint ne3, uint be0, uint be1, uint be2, uint be3, uint op) {
    uint spans = (ne0 + SPAN - 1u) / SPAN, g = (uint)get_global_id(0);
    uint row = g / spans, i0 = SPAN * (g % spans);
    if (row >= ne1 * ne2 * ne3) return;
    uint i1 = row % ne1, i2 = (row / ne1) % ne2, i3 = row / ne1 / ne2;
    uint brow = ((i3 % be3) * be2 + i2 % be2) * be1 + i1 % be1;
    __global const float *ap = CF32(a, a_off) + row * ne0;
    __global const float *bp = CF32(b, b_off) + brow * be0;
    __global float *yp = F32(out, out_off) + row * ne0;
    uint end = min(i0 + SPAN, ne0);
    if (be0 == ne0)
        for (; end - i0 >= 8u; i0 += 8u) vstore8(binary_float8(vload8(0, ap + i0), vload8(0, bp + i0), op), 0, yp + i0);
    for (; i0 < end; i0++) yp[i0] = binary_float(ap[i0], bp[i0 % be0], op);
}

// set_rows, in place (ggml_set_rows): dst [K, R] (f32, or f16 with -DOUT_F16; not read — the output is
// dst's own memory, bound again as `out`), src f32 [K, N], ids i32 [N]: out[:, ids[j]] = src[:, j];
// ids outside [0, R) write nothing. Scalars: uint K, R, N.
__kernel void set_rows(__global const uchar *dst, uint dst_off, __global const uchar *src, uint src_off,
                       __global const uchar *ids, uint ids_off, __global uchar *out, uint out_off,
                       uint K, uint R, uint N) {
    uint spans = (K + SPAN - 1u) / SPAN, g = (uint)get_global_id(0);
    uint j = g / spans, c = SPAN * (g % spans);
    if (j >= N) return;
    int r = ((__global const int *)(ids + ids_off))[j];
    if (r < 0 || (uint)r >= R) return;
    __global const float *sp = CF32(src, src_off) + j * K;
    uint end = min(c + SPAN, K);
#ifdef OUT_F16
    __global half *yp = (__global half *)(out + out_off) + (uint)r * K;
    for (; end - c >= 8u; c += 8u) vstore_half8_rte(vload8(0, sp + c), 0, yp + c);
    for (; c < end; c++) vstore_half_rte(sp[c], 0, yp + c);
#else
    __global float *yp = F32(out, out_off) + (uint)r * K;
    for (; end - c >= 8u; c += 8u) vstore8(vload8(0, sp + c), 0, yp + c);
    for (; c < end; c++) yp[c] = sp[c];
#endif
}

// Elements move as raw bits (NaN payloads included).
#ifdef F16
typedef ushort elem_t;
#else
typedef uint elem_t;
#endif

// permute: ggml_cont(ggml_permute(x, axes)), f32 (f16 with -DF16): x [ne0, ne1, ne2, ne3] element
// (i0, i1, i2, i3) goes to out element i0·s0 + i1·s1 + i2·s2 + i3·s3, s_k being the output stride of the
// axis input axis k becomes. Scalars: uint ne0, ne1, ne2, ne3, s0, s1, s2, s3.
__kernel void permute(__global const uchar *x, uint x_off, __global uchar *out, uint out_off,
                      uint ne0, uint ne1, uint ne2, uint ne3, uint s0, uint s1, uint s2, uint s3) {
    uint spans = (ne0 + SPAN - 1u) / SPAN, g = (uint)get_global_id(0);
    uint row = g / spans, i0 = SPAN * (g % spans);
    if (row >= ne1 * ne2 * ne3) return;
    uint i1 = row % ne1, i2 = (row / ne1) % ne2, i3 = row / ne1 / ne2;
    __global const elem_t *xp = (__global const elem_t *)(x + x_off) + row * ne0;
    __global elem_t *yp = (__global elem_t *)(out + out_off) + i1 * s1 + i2 * s2 + i3 * s3;
    uint end = min(i0 + SPAN, ne0);
    // Reads are contiguous along i0; writes are too only when axis 0 stays innermost.
    if (s0 == 1u)
        for (; end - i0 >= 8u; i0 += 8u) vstore8(vload8(0, xp + i0), 0, yp + i0);
    for (; i0 < end; i0++) yp[i0 * s0] = xp[i0];
}
