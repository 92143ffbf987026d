// The activations' bytes for the int8 mat-vec, one scale a 32-value block (ggml's q8_1 scale, without its sums):
// d = max |x| / 127 and codes round(x / d) to even, −127 … 127. quantize_q8.comp (a dispatch of its own) and
// mul_mat_vec.comp's in-workgroup quantization (-DI8=1, XQ > 1) both use these, so they make the same bytes.
#ifndef Q8_GLSL
#define Q8_GLSL

// 4 values times the inverse scale (0 for an all-zero block) as 4 signed bytes, value t in byte t.
uint q8_pack(vec4 scaled) {
    uvec4 b = uvec4(ivec4(roundEven(scaled))) & 0xFFu;
    return b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u);
}

// A block's 32 values (8 quads) as 8 words of codes; returns its scale.
float q8_block(vec4 v[8], out uint words[8]) {
    float amax = 0.0;
    for (uint i = 0u; i < 8u; i++) amax = max(amax, max(max(abs(v[i].x), abs(v[i].y)), max(abs(v[i].z), abs(v[i].w))));
    const float d = amax / 127.0, id = d != 0.0 ? 1.0 / d : 0.0;
    for (uint i = 0u; i < 8u; i++) words[i] = q8_pack(v[i] * id);
    return d;
}
#endif
