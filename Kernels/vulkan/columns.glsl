// Activation chunks for the mul_mat kernels: b (f32, binding 5 as RGBA32UI, named B4) read 32 values at a time.
#ifndef COLUMNS_GLSL
#define COLUMNS_GLSL

// The 32 f32 values of b starting at word w (b is always 4-aligned, so no half-word funnel): 9 RGBA texels
// realigned by two select stages on the (uniform) word offset; no texel past word w + 31 is fetched.
void column_chunk(uint w, out vec4 v[8]) {
    uint wo = w & 3u;
    int first = int(w >> 2), last = int((w + 31u) >> 2);
    uint x[36], s2[34];
    [[unroll]] for (int k = 0; k < 9; k++) {
        uvec4 t = texelFetch(B4, min(first + k, last));
        x[4 * k] = t.x; x[4 * k + 1] = t.y; x[4 * k + 2] = t.z; x[4 * k + 3] = t.w;
    }
    [[unroll]] for (int j = 0; j < 34; j++) s2[j] = (wo & 2u) != 0u ? x[j + 2] : x[j];
    [[unroll]] for (int q = 0; q < 8; q++) {
        uvec4 e;
        [[unroll]] for (int i = 0; i < 4; i++) e[i] = (wo & 1u) != 0u ? s2[4 * q + i + 1] : s2[4 * q + i];
        v[q] = uintBitsToFloat(e);
    }
}

#endif
