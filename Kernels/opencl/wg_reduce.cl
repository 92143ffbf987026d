// Work-group reductions shared by the GPU family's kernels (the host prepends this file to
// attention_wg.cl and rows_wg.cl). Needs -DWG=w, the local size, a power of two.

// The work-group's maximum (is_max) or sum of x, through local memory; every item gets it.
inline float across(float x, int is_max, __local float *scratch) {
    const uint lid = get_local_id(0);
    scratch[lid] = x;
    for (uint half_ = WG / 2u; half_ > 0u; half_ /= 2u) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < half_) scratch[lid] = is_max ? fmax(scratch[lid], scratch[lid + half_]) : scratch[lid] + scratch[lid + half_];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const float r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);   // scratch is free again
    return r;
}
