// get_rows: out[:, j] = row ids[j] of the table, dequantized; a row of NaN for an id outside [0, R).
// Built from dequant.cl + this file (the host prepends dequant.cl) with one -DTYPE_*=1.
// Tensors: table [K, R] of the type (rows of row_bytes), ids i32 [N], out f32 [K, N].
// Arguments after the tensors: uint K, R, N, row_bytes. K: a multiple of 32 (256 for K-quants); any K >= 1
// for f32/f16.
// One work-item per 32-value chunk of an output row (the last one of an f32/f16 row may be partial).
// NDRange: global = (ceil(K / 32), N), local = NULL (any; no barriers).

__kernel void get_rows(__global const uchar *table, uint table_off, __global const uchar *ids, uint ids_off,
                       __global uchar *out, uint out_off, uint K, uint R, uint N, uint row_bytes) {
    uint c = get_global_id(0), j = get_global_id(1);
    int id = ((__global const int *)(ids + ids_off))[j];
    bool inside = id >= 0 && (uint)id < R;
    __global const uchar *row = table + table_off + (size_t)(inside ? (uint)id : 0) * row_bytes;
    __global float *y = (__global float *)(out + out_off) + (size_t)j * K;
    uint n = min(32u, K - 32 * c);
    if (!inside) {
        for (uint i = 0; i < n; i++) y[32 * c + i] = as_float(0x7FC00000u);  // Swift's Float.nan (PoCL's NAN is 0x7FFFFFFF)
        return;
    }
#ifdef FLOAT_WEIGHTS
    if (n < 32) {
        for (uint i = 0; i < n; i++) y[32 * c + i] = value_at(row, 32 * c + i);
        return;
    }
#endif
    float8 v[4];
    dequant_chunk(row, c, v);
    for (int q = 0; q < 4; q++) vstore8(v[q], 4 * c + q, y);
}
