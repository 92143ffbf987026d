// Rope's angle, shared by norm_rope.cl's rope kernels and mul_mat_vec.cl's -DHEADS=1 variant (a program lists this
// file before them). θ for pairs j (as floats; a scalar caller takes lane 0 of j broadcast) at position p:
// θ = p·freq_scale·2^(−2j·log2_base_over_dims), reduced to about [−π, π].
inline float8 rope_angle(float8 j, float p, float freq_scale, float log2_base_over_dims) {
    const float8 theta = p * freq_scale * exp2(-2.0f * j * log2_base_over_dims);
    // 2π = 6.28125 + 0.0019353071795864769: k·6.28125 is exact for |k| < 2^16.
    const float8 k = rint(theta * 0.15915494309189535f);
    return (theta - k * 6.28125f) - k * 0.0019353071795864769f;
}
