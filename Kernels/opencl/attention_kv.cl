// K and V reads of the attention kernels (attention_wg.cl, attention_tile.cl): f32, or f16 with -DKV_F16=1.
// Built before them (the host concatenates the files).

#if KV_F16
#define KV_T half
#define LOAD_KV4(p) vload_half4(0, (p))
#define LOAD_KV1(p) vload_half(0, (p))
#else
#define KV_T float
#define LOAD_KV4(p) vload4(0, (p))
#define LOAD_KV1(p) (*(p))
#endif

// Values 4c … 4c+3 of a row of D (zeros past D).
inline float4 four(const __global KV_T *row, uint c, uint D) {
    if (4u * c + 3u < D) return LOAD_KV4(row + 4u * c);
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (uint e = 0; 4u * c + e < D; e++) t[e] = LOAD_KV1(row + 4u * c + e);
    return vload4(0, t);
}
