// Rope's rotation, shared by rope.comp, rope_set_rows.comp (the GPU family's rope written into a cache) and the
// mat-vec's mul_mat_rows variants.
//
//   vec2 rope_turn(float x0, float x1, float p, uint j, float freq_scale, float log2_base_over_dims)
//       (x0, x1) turned by pair j's angle at position p.
//   void rope_pair(uint i, out uint a, out uint b, out float ya, out float yb)   (where the includer defines X_OFF)
//       slot i: pair j = i % (hd/2) of row i / (hd/2); a and b are the pair's element indices in x, ya and yb
//       their values after rope. Normal mode rotates (2j, 2j+1), NeoX (j, j + n_dims/2); slots past n_dims/2
//       copy elements 2j, 2j+1 unchanged. x [hd, heads, tokens, ne3] and positions (i32 [tokens]) are texel
//       buffers X and P, at byte offsets X_OFF and P_OFF (macros the includer defines); pc holds hd, heads,
//       tokens, n_dims, neox, freq_scale, log2_base_over_dims.
// θ = p·freq_scale·base^(−2j/n_dims) with base^(−2j/n_dims) = exp2(−2j·log2_base_over_dims) (the host computes
// log2(base)/n_dims in double). θ is reduced modulo 2π in two parts before sin/cos, so positions of 32k and
// more keep only θ's own f32 rounding error.
#ifndef ROPE_GLSL
#define ROPE_GLSL

vec2 rope_turn(float x0, float x1, float p, uint j, float freq_scale, float log2_base_over_dims) {
    float theta = p * freq_scale * exp2(-float(2u * j) * log2_base_over_dims);
    // 2π = 6.28125 + 0.0019353071795864769: k·6.28125 is exact for |k| < 2^16.
    float k = round(theta * 0.15915494309189535);
    float r = (theta - k * 6.28125) - k * 0.0019353071795864769;
    float c = cos(r), s = sin(r);
    return vec2(x0 * c - x1 * s, x0 * s + x1 * c);
}

#ifdef X_OFF
void rope_pair(uint i, out uint a, out uint b, out float ya, out float yb) {
    uint half_hd = pc.hd / 2u;
    uint j = i % half_hd, row = i / half_hd;
    uint base = row * pc.hd;
    if (j >= pc.n_dims / 2u) {
        a = base + 2u * j;
        b = a + 1u;
        ya = f32_at(X, X_OFF + 4u * a);
        yb = f32_at(X, X_OFF + 4u * b);
        return;
    }
    uint t = (row / pc.heads) % pc.tokens;
    float p = float(i32_at(P, P_OFF + 4u * t));
    a = base + (pc.neox != 0u ? j : 2u * j);
    b = base + (pc.neox != 0u ? j + pc.n_dims / 2u : 2u * j + 1u);
    vec2 y = rope_turn(f32_at(X, X_OFF + 4u * a), f32_at(X, X_OFF + 4u * b), p, j, pc.freq_scale, pc.log2_base_over_dims);
    ya = y.x;
    yb = y.y;
}
#endif

#endif
