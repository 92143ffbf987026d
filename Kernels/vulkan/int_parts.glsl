// The weights of one 8-value part (parts.glsl's parts: values 4p … 4p + 3 and 16 + 4p … 16 + 4p + 3 of a 32-value
// chunk, p = u % 4) as packed signed bytes, for the int8 mat-vec (mul_mat_vec.comp -DI8=1), whose activations are
// bytes of one scale a 32-value block (q8.glsl). Included after parts.glsl (a_word, a_half, a_byte, a_f16).
//
//   void int_part(uint row, uint u, out uint lo, out uint hi, out vec2 d, out vec2 m)
//       lo, hi: the part's codes, byte i of lo value 4p + i, byte i of hi value 16 + 4p + i, as signed bytes;
//       d, m: the scales and mins of lo (.x) and hi (.y), value = d · code + m. The 32-value block types and
//       q4_K/q5_K (32-value sub-blocks) give one scale for both; q2_K, q3_K and q6_K (16-value sub-blocks) two.
//       HAS_MIN is false for the types whose m is always 0 (the mat-vec then skips the min's sums); SPLIT is true
//       for the types whose halves have scales of their own (the prefill tile folds each half's sums apart then).
//
// Why: a GPU with an integer dot product (VK_KHR_shader_integer_dot_product; NVIDIA's dp4a) multiplies and adds 4
// byte pairs in one instruction, where the float mat-vec converts every code to float and spends a multiply-add on
// each. A part's sum is dx·(d·Σ code·qx + m·Σ qx) for each half: two dot products (four with a min) and a few float
// operations a part instead of eight multiply-adds and conversions, and the activations load a quarter of the
// bytes. ggml's CUDA backend decodes quantized weights this way (mmvq against q8_1 activations). Every 32-value
// activation block lies in one chunk of a K-quant's super-block, so the same activation bytes serve every type.
#ifndef INT_PARTS_GLSL
#define INT_PARTS_GLSL

// 4 packed unsigned bytes, each below 128, minus k ≤ 128 from each byte: no byte borrows from its neighbour,
// because each is first lifted by 128 and the lift is taken off again by the xor.
uint bytes_minus(uint v, uint k) { return ((v | 0x80808080u) - k * 0x01010101u) ^ 0x80808080u; }

// Bits 0 … 3 of `bits` as bit 4 of bytes 0 … 3: a q5 block's fifth bits for the 4 values of a word.
uint fifth_bytes(uint bits) {
    return ((bits & 1u) << 4u) | ((bits & 2u) << 11u) | ((bits & 4u) << 18u) | ((bits & 8u) << 25u);
}

#if defined(TYPE_Q4_0)
const bool HAS_MIN = false;
const bool SPLIT = false;
void int_part(uint row, uint u, out uint lo, out uint hi, out vec2 d, out vec2 m) {
    uint b = row + BLOCK_BYTES * (u >> 2);
    uint qs = a_word(b + 2u + 4u * (u & 3u));
    d = vec2(a_f16(b));
    m = vec2(0.0);
    lo = bytes_minus(qs & 0x0F0F0F0Fu, 8u);
    hi = bytes_minus((qs >> 4u) & 0x0F0F0F0Fu, 8u);
}

#elif defined(TYPE_Q4_1)
const bool HAS_MIN = true;
const bool SPLIT = false;
void int_part(uint row, uint u, out uint lo, out uint hi, out vec2 d, out vec2 m) {
    uint b = row + BLOCK_BYTES * (u >> 2);
    vec2 dm = unpackHalf2x16(a_word(b));
    uint qs = a_word(b + 4u + 4u * (u & 3u));
    d = dm.xx;
    m = dm.yy;
    lo = qs & 0x0F0F0F0Fu;   // 0 … 15: the same bytes signed or not
    hi = (qs >> 4u) & 0x0F0F0F0Fu;
}

#elif defined(TYPE_Q5_0)
const bool HAS_MIN = false;
const bool SPLIT = false;
void int_part(uint row, uint u, out uint lo, out uint hi, out vec2 d, out vec2 m) {
    uint b = row + BLOCK_BYTES * (u >> 2), p = u & 3u;
    uint qh = a_word(b + 2u), qs = a_word(b + 6u + 4u * p);
    d = vec2(a_f16(b));
    m = vec2(0.0);
    lo = bytes_minus((qs & 0x0F0F0F0Fu) | fifth_bytes(qh >> (4u * p)), 16u);
    hi = bytes_minus(((qs >> 4u) & 0x0F0F0F0Fu) | fifth_bytes(qh >> (16u + 4u * p)), 16u);
}

#elif defined(TYPE_Q5_1)
const bool HAS_MIN = true;
const bool SPLIT = false;
void int_part(uint row, uint u, out uint lo, out uint hi, out vec2 d, out vec2 m) {
    uint b = row + BLOCK_BYTES * (u >> 2), p = u & 3u;
    vec2 dm = unpackHalf2x16(a_word(b));
    uint qh = a_word(b + 4u), qs = a_word(b + 8u + 4u * p);
    d = dm.xx;
    m = dm.yy;
    lo = (qs & 0x0F0F0F0Fu) | fifth_bytes(qh >> (4u * p));   // 0 … 31
    hi = ((qs >> 4u) & 0x0F0F0F0Fu) | fifth_bytes(qh >> (16u + 4u * p));
}

#elif defined(TYPE_Q8_0)
const bool HAS_MIN = false;
const bool SPLIT = false;
void int_part(uint row, uint u, out uint lo, out uint hi, out vec2 d, out vec2 m) {
    uint b = row + BLOCK_BYTES * (u >> 2), p = u & 3u;
    d = vec2(a_f16(b));
    m = vec2(0.0);
    lo = a_word(b + 2u + 4u * p);
    hi = a_word(b + 18u + 4u * p);
}

#elif defined(TYPE_Q2_K)
const bool HAS_MIN = true;
const bool SPLIT = true;
void int_part(uint row, uint u, out uint lo, out uint hi, out vec2 d, out vec2 m) {
    uint c = u >> 2, p = u & 3u, b = row + BLOCK_BYTES * (c >> 3), j = c & 7u;
    vec2 dd = unpackHalf2x16(a_word(b + 80u));
    uint sc = a_half(b + 2u * j);
    d = dd.x * vec2(float(sc & 0xFu), float((sc >> 8) & 0xFu));
    m = -dd.y * vec2(float((sc >> 4) & 0xFu), float(sc >> 12));
    uint q = b + 16u + 32u * (j >> 2) + 4u * p, shift = 2u * (j & 3u);
    lo = (a_word(q) >> shift) & 0x03030303u;
    hi = (a_word(q + 16u) >> shift) & 0x03030303u;
}

#elif defined(TYPE_Q3_K)
const bool HAS_MIN = false;
const bool SPLIT = true;
void int_part(uint row, uint u, out uint lo, out uint hi, out vec2 d, out vec2 m) {
    uint c = u >> 2, p = u & 3u, b = row + BLOCK_BYTES * (c >> 3), j = c & 7u;
    float dk = a_f16(b + 108u);
    uint low = a_half(b + 96u + 2u * (j & 3u)) >> (4u * (j >> 2));
    uint high = a_half(b + 104u + 2u * (j & 1u)) >> (2u * (j >> 1));
    d = dk * vec2(float(int((low & 0xFu) | ((high & 3u) << 4)) - 32), float(int(((low >> 8) & 0xFu) | (((high >> 8) & 3u) << 4)) - 32));
    m = vec2(0.0);
    uint q = b + 32u + 32u * (j >> 2) + 4u * p, h = b + 4u * p, shift = 2u * (j & 3u);
    // crumb + 4 · (high bit) − 4: the high bit clear subtracts 4
    lo = bytes_minus(((a_word(q) >> shift) & 0x03030303u) | (((a_word(h) >> j) & 0x01010101u) << 2u), 4u);
    hi = bytes_minus(((a_word(q + 16u) >> shift) & 0x03030303u) | (((a_word(h + 16u) >> j) & 0x01010101u) << 2u), 4u);
}

#elif defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
const bool HAS_MIN = true;
const bool SPLIT = false;
void int_part(uint row, uint u, out uint lo, out uint hi, out vec2 d, out vec2 m) {
    uint c = u >> 2, p = u & 3u, b = row + BLOCK_BYTES * (c >> 3), j = c & 7u;
    vec2 dd = unpackHalf2x16(a_word(b));
    const uvec2 sm = k4_scale_min(b, j);
    d = vec2(dd.x * float(sm.x));
    m = vec2(-dd.y * float(sm.y));
    uint q = b + QS + 32u * (j >> 1) + 4u * p, shift = 4u * (j & 1u);
    lo = (a_word(q) >> shift) & 0x0F0F0F0Fu;
    hi = (a_word(q + 16u) >> shift) & 0x0F0F0F0Fu;
#ifdef TYPE_Q5_K
    lo |= ((a_word(b + 16u + 4u * p) >> j) & 0x01010101u) << 4u;
    hi |= ((a_word(b + 32u + 4u * p) >> j) & 0x01010101u) << 4u;
#endif
}

#elif defined(TYPE_Q6_K)
const bool HAS_MIN = false;
const bool SPLIT = true;
void int_part(uint row, uint u, out uint lo, out uint hi, out vec2 d, out vec2 m) {
    uint c = u >> 2, p = u & 3u, b = row + BLOCK_BYTES * (c >> 3), j = c & 7u, k = j & 3u;
    float dk = a_f16(b + 208u);
    int sc = int(a_half(b + 192u + 2u * j));
    d = dk * vec2(float(bitfieldExtract(sc, 0, 8)), float(bitfieldExtract(sc, 8, 8)));
    m = vec2(0.0);
    uint l = b + 64u * (j >> 2) + 32u * (k & 1u) + 4u * p, g = b + 128u + 32u * (j >> 2) + 4u * p;
    uint ls = 4u * (k >> 1), hsh = 2u * k;
    // 4 low bits and 2 high ones, 0 … 63, minus 32
    lo = bytes_minus(((a_word(l) >> ls) & 0x0F0F0F0Fu) | (((a_word(g) >> hsh) & 0x03030303u) << 4u), 32u);
    hi = bytes_minus(((a_word(l + 16u) >> ls) & 0x0F0F0F0Fu) | (((a_word(g + 16u) >> hsh) & 0x03030303u) << 4u), 32u);
}

#else
#error "int_parts.glsl: the int8 mat-vec takes quantized weights"
#endif

// Σ of 4 signed byte products: OpSDot on packed 4×8-bit vectors (SPV_KHR_integer_dot_product), which glslang
// reaches through GL_EXT_spirv_intrinsics. The host runs these variants only on a device that enabled
// VK_KHR_shader_integer_dot_product's shaderIntegerDotProduct.
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6018, 6019], id = 4450)
int sdot_packed(uint a, uint b, spirv_literal int packed_vector_format);
int dot4(uint a, uint b) { return sdot_packed(a, b, 0); }

#endif
