// Scalar access to R32_UINT texel buffers and exact f16 conversion, shared by the elementwise kernels.

// An f32 (or i32) at a 4-aligned byte offset.
float f32_at(usamplerBuffer t, uint byte_off) { return uintBitsToFloat(texelFetch(t, int(byte_off >> 2)).x); }
int i32_at(usamplerBuffer t, uint byte_off) { return int(texelFetch(t, int(byte_off >> 2)).x); }

// The 16 bits at a 2-aligned byte offset: they always sit inside one 32-bit texel.
uint u16_at(usamplerBuffer t, uint byte_off) {
    uint w = texelFetch(t, int(byte_off >> 2)).x;
    return (byte_off & 2u) != 0u ? w >> 16 : w & 0xFFFFu;
}
float f16_at(usamplerBuffer t, uint byte_off) { return unpackHalf2x16(u16_at(t, byte_off)).x; }

// f32 → f16 bits, rounding to nearest even, overflow to ±inf, NaN kept quiet: done in integers because
// the rounding of SPIR-V's f32→f16 conversions is left to the implementation, and the reference
// (and ggml) round to nearest even.
uint f32_to_f16(float f) {
    uint x = floatBitsToUint(f);
    uint sign = (x >> 16) & 0x8000u;
    uint e = (x >> 23) & 0xFFu;
    uint m = x & 0x7FFFFFu;
    if (e == 0xFFu) return sign | 0x7C00u | (m != 0u ? 0x200u | (m >> 13) : 0u);
    int ex = int(e) - 112;                       // the f16 exponent field
    if (ex >= 31) return sign | 0x7C00u;
    if (ex <= 0) {                               // f16 subnormal (or zero)
        if (ex < -10) return sign;
        m |= 0x800000u;
        uint shift = uint(14 - ex);
        uint h = m >> shift, rem = m & ((1u << shift) - 1u), half_way = 1u << (shift - 1u);
        if (rem > half_way || (rem == half_way && (h & 1u) != 0u)) h += 1u;
        return sign | h;
    }
    uint h = (uint(ex) << 10) | (m >> 13), rem = m & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u)) h += 1u;   // a carry into the exponent gives inf
    return sign | h;
}

// gelu's tanh form written as x·sigmoid(2u): 0.5·(1 + tanh(u)) = 1 / (1 + e^(−2u)), with no
// cancellation for negative x and no inf/inf for large |x| (a naive tanh gives NaN there).
float gelu(float x) {
    float u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
    return x / (1.0 + exp(-2.0 * u));
}
