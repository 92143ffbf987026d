// K and V reads of the attention kernels (attention_wg.comp, attention_tile.comp): f32, or f16 with -DKV_F16=1.
// Include after common.glsl.
#if KV_F16
#define KV_BYTES 2u
#define KV_AT(t, byte_off) f16_at(t, byte_off)
#else
#define KV_BYTES 4u
#define KV_AT(t, byte_off) f32_at(t, byte_off)
#endif

// Values off … off + 3 (a byte offset) of k or v: one fetch from the RGBA view when aligned, else four.
vec4 four(usamplerBuffer t4, usamplerBuffer t1, uint off, bool aligned) {
#if KV_F16
    if (aligned) {
        uvec4 w = texelFetch(t4, int(off >> 4));
        uvec2 h = (off & 8u) != 0u ? w.zw : w.xy;
        return vec4(unpackHalf2x16(h.x), unpackHalf2x16(h.y));
    }
#else
    if (aligned) return uintBitsToFloat(texelFetch(t4, int(off >> 4)));
#endif
    return vec4(KV_AT(t1, off), KV_AT(t1, off + KV_BYTES), KV_AT(t1, off + 2u * KV_BYTES), KV_AT(t1, off + 3u * KV_BYTES));
}
