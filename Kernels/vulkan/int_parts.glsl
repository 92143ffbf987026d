// The weights of one 8-value part (parts.glsl's parts: values 4p … 4p + 3 and 16 + 4p … 16 + 4p + 3 of a 32-value
// block, p = u % 4) as packed signed bytes, for the int8 mat-vec (mul_mat_vec.comp -DI8=1), whose activations
// quantize_q8.comp turned into bytes of one scale a block. Included after parts.glsl (a_word, a_f16).
//
//   void int_part(uint row, uint u, out uint lo, out uint hi, out float d, out float m)
//       lo, hi: the part's codes, byte i of lo value 4p + i, byte i of hi value 16 + 4p + i, as signed bytes;
//       d, m: its block's scale and min, so value = d · code + m (m = 0 for the types without one: HAS_MIN false).
//
// Why: a GPU with an integer dot product (VK_KHR_shader_integer_dot_product; NVIDIA's dp4a) multiplies and adds 4
// byte pairs in one instruction, where the float mat-vec converts every code to float and spends a multiply-add on
// each. The sum of a part is d·dx·Σ code·qx (+ m·dx·Σ qx): two dot products and one float multiply-add a part
// instead of eight, and the activations load a quarter of the bytes. ggml's CUDA backend decodes quantized
// weights this way (mmvq against q8_1 activations). Only the 32-value block types have it: their codes are 4 or
// 5 bits (8 for q8_0) under one scale a block; the K-quants' sub-block scales keep the float mat-vec.
#ifndef INT_PARTS_GLSL
#define INT_PARTS_GLSL

// 4 packed unsigned bytes, each below 128 + k, minus k from each byte: no byte borrows from its neighbour,
// because each is first lifted by 128 and the lift is taken off again by the xor.
uint bytes_minus(uint v, uint k) { return ((v | 0x80808080u) - k * 0x01010101u) ^ 0x80808080u; }

// Bits 0 … 3 of `bits` as bit 4 of bytes 0 … 3: a q5 block's fifth bits for the 4 values of a word.
uint fifth_bytes(uint bits) {
    return ((bits & 1u) << 4u) | ((bits & 2u) << 11u) | ((bits & 4u) << 18u) | ((bits & 8u) << 25u);
}

#if defined(TYPE_Q4_0)
const bool HAS_MIN = false;
void int_part(uint row, uint u, out uint lo, out uint hi, out float d, out float m) {
    uint b = row + BLOCK_BYTES * (u >> 2);
    uint qs = a_word(b + 2u + 4u * (u & 3u));
    d = a_f16(b);
    m = 0.0;
    lo = bytes_minus(qs & 0x0F0F0F0Fu, 8u);
    hi = bytes_minus((qs >> 4u) & 0x0F0F0F0Fu, 8u);
}

#elif defined(TYPE_Q4_1)
const bool HAS_MIN = true;
void int_part(uint row, uint u, out uint lo, out uint hi, out float d, out float m) {
    uint b = row + BLOCK_BYTES * (u >> 2);
    vec2 dm = unpackHalf2x16(a_word(b));
    uint qs = a_word(b + 4u + 4u * (u & 3u));
    d = dm.x;
    m = dm.y;
    lo = qs & 0x0F0F0F0Fu;   // 0 … 15: the same bytes signed or not
    hi = (qs >> 4u) & 0x0F0F0F0Fu;
}

#elif defined(TYPE_Q5_0)
const bool HAS_MIN = false;
void int_part(uint row, uint u, out uint lo, out uint hi, out float d, out float m) {
    uint b = row + BLOCK_BYTES * (u >> 2), p = u & 3u;
    uint qh = a_word(b + 2u), qs = a_word(b + 6u + 4u * p);
    d = a_f16(b);
    m = 0.0;
    lo = bytes_minus((qs & 0x0F0F0F0Fu) | fifth_bytes(qh >> (4u * p)), 16u);
    hi = bytes_minus(((qs >> 4u) & 0x0F0F0F0Fu) | fifth_bytes(qh >> (16u + 4u * p)), 16u);
}

#elif defined(TYPE_Q5_1)
const bool HAS_MIN = true;
void int_part(uint row, uint u, out uint lo, out uint hi, out float d, out float m) {
    uint b = row + BLOCK_BYTES * (u >> 2), p = u & 3u;
    vec2 dm = unpackHalf2x16(a_word(b));
    uint qh = a_word(b + 4u), qs = a_word(b + 8u + 4u * p);
    d = dm.x;
    m = dm.y;
    lo = (qs & 0x0F0F0F0Fu) | fifth_bytes(qh >> (4u * p));   // 0 … 31
    hi = ((qs >> 4u) & 0x0F0F0F0Fu) | fifth_bytes(qh >> (16u + 4u * p));
}

#elif defined(TYPE_Q8_0)
const bool HAS_MIN = false;
void int_part(uint row, uint u, out uint lo, out uint hi, out float d, out float m) {
    uint b = row + BLOCK_BYTES * (u >> 2), p = u & 3u;
    d = a_f16(b);
    m = 0.0;
    lo = a_word(b + 2u + 4u * p);
    hi = a_word(b + 18u + 4u * p);
}

#else
#error "int_parts.glsl: the int8 mat-vec takes q4_0, q4_1, q5_0, q5_1 and q8_0 weights"
#endif

// Σ of 4 signed byte products: OpSDot on packed 4×8-bit vectors (SPV_KHR_integer_dot_product), which glslang
// reaches through GL_EXT_spirv_intrinsics. The host runs these variants only on a device that enabled
// VK_KHR_shader_integer_dot_product's shaderIntegerDotProduct.
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6018, 6019], id = 4450)
int sdot_packed(uint a, uint b, spirv_literal int packed_vector_format);
int dot4(uint a, uint b) { return sdot_packed(a, b, 0); }

#endif
