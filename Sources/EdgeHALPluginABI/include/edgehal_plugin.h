/*
 * edgehal_plugin.h — the C ABI between EdgeHAL and a backend plugin (a shared library).
 *
 * A plugin exports one symbol, `edgehal_plugin_entry`, returning a table of function pointers
 * (eh_plugin). Everything that crosses the boundary is a plain C type: opaque handles the plugin
 * owns, structs describing ops and tensors, and error messages the host copies. The host wraps a
 * plugin in the same Backend/Device/DeviceBuffer/Program protocols as its built-in backends, so the
 * executor, fusion, fallback and the conformance suite cannot tell them apart.
 *
 * Versioning: the host refuses a plugin whose abi_major differs from its own. Minor versions only
 * append (new op codes, new fields at the end of eh_plugin after a size check); a plugin answers
 * "unsupported" (supports() returns 0) for an op code it does not know.
 *
 * Ownership and lifetimes:
 *   - devices, buffers and programs are created and freed by the plugin, on the host's request;
 *   - the eh_node arrays passed to supports() and program_compile() live only for the call: copy
 *     what you keep (buffer handles stay valid until buffer_free, which the host calls only after
 *     every program using the buffer is freed);
 *   - on failure a call returns a non-zero eh_status and writes a NUL-terminated message into the
 *     host's eh_error (at most EH_ERROR_CAPACITY bytes including the NUL).
 * Calls on one device come from one thread at a time.
 */
#ifndef EDGEHAL_PLUGIN_H
#define EDGEHAL_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EDGEHAL_PLUGIN_ABI_MAJOR 1
#define EDGEHAL_PLUGIN_ABI_MINOR 5  /* 1.1 appended EH_OP_GEGLU, 1.2 EH_OP_MUL_MAT_ADD, 1.3 EH_OP_RMS_NORM_MUL_MAT and EH_OP_ROPE_SET_ROWS, 1.4 EH_OP_MUL_MAT_GLU, 1.5 EH_OP_MUL_MAT_ROWS; older plugins never see them declared supported */
#define EH_ERROR_CAPACITY 512

typedef int32_t eh_status;
#define EH_OK 0
#define EH_FAILED 1
#define EH_UNSUPPORTED 2
#define EH_OUT_OF_MEMORY 3

/* Element types: ggml's type ids, the numbers GGUF files store. Quantized tensors hold GGUF blocks
   exactly as the file does. */
#define EH_TYPE_F32 0
#define EH_TYPE_F16 1
#define EH_TYPE_Q4_0 2
#define EH_TYPE_Q4_1 3
#define EH_TYPE_Q5_0 6
#define EH_TYPE_Q5_1 7
#define EH_TYPE_Q8_0 8
#define EH_TYPE_Q2_K 10
#define EH_TYPE_Q3_K 11
#define EH_TYPE_Q4_K 12
#define EH_TYPE_Q5_K 13
#define EH_TYPE_Q6_K 14
#define EH_TYPE_I32 26

/* Op codes, with ggml semantics (EdgeHAL's Op documents each; shapes in ggml order, ne[0]
   innermost, tensors contiguous). Parameters per op, in eh_op:
     SCALE          f[0] = factor
     RMS_NORM(_MUL) f[0] = eps
     SOFTMAX        f[0] = scale (inputs: x, optional mask)
     ROPE           f[0] = freq_base, f[1] = freq_scale, i[0] = mode (0 normal, 1 neox), i[1] = n_dims
     CONVERT        i[0] = target type
     PERMUTE        i[0..3] = axes (input axis k becomes output axis i[k])
     ATTENTION      f[0] = scale (inputs: q, k, v, optional mask)
     MUL_MAT_ADD    no parameters (inputs: a, b as MUL_MAT, then r of the product's shape)
     MUL_MAT_GLU    i[0] = activation (0 silu, 1 gelu), i[1] = 1 with a norm folded in (then f[0] = eps)
     MUL_MAT_ROWS   i[0] = rope mode (0 normal, 1 neox, -1 no rope), i[1] = n_dims, i[2] = head_dim, i[3] = flags (1: a norm
                    folded in, f[2] = eps; 2: set_rows into dst), f[0] = freq_base, f[1] = freq_scale
   New codes are only ever appended. */
#define EH_OP_MUL_MAT 1
#define EH_OP_GET_ROWS 2
#define EH_OP_ADD 3
#define EH_OP_MUL 4
#define EH_OP_SCALE 5
#define EH_OP_RMS_NORM 6
#define EH_OP_SOFTMAX 7
#define EH_OP_ROPE 8
#define EH_OP_SILU 9
#define EH_OP_GELU 10
#define EH_OP_CONVERT 11
#define EH_OP_PERMUTE 12
#define EH_OP_SET_ROWS 13
#define EH_OP_RMS_NORM_MUL 14
#define EH_OP_SWIGLU 15
#define EH_OP_ATTENTION 16
#define EH_OP_GEGLU 17 /* 1.1: gate, up → gelu(gate)·up */
#define EH_OP_MUL_MAT_ADD 18 /* 1.2: a, b, r → mul_mat(a, b) + r (r f32 of the product's shape) */
#define EH_OP_RMS_NORM_MUL_MAT 19 /* 1.3: a, x, w → mul_mat(a, rms_norm(x)·w) (w f32 [ne0]; f[0] = eps) */
#define EH_OP_ROPE_SET_ROWS 20 /* 1.3: dst, x, positions, ids → set_rows(dst, rope(x) as [ne0, rows], ids) in place (parameters as ROPE) */
#define EH_OP_MUL_MAT_GLU 21 /* 1.4: gate, x, [w,] up → act(mul_mat(gate, x̂))·mul_mat(up, x̂), x̂ = x or rms_norm(x)·w (up: gate's type and shape) */
#define EH_OP_MUL_MAT_ROWS 22 /* 1.5: a, x, [w,] [positions,] [ids, dst] → mul_mat(a, x̂) as heads [head_dim, M/head_dim, N], roped, as the output or set_rows into dst */

/* Device kinds, as `auto` ranks them: accelerators first, emulations below the native CPU. */
#define EH_KIND_GPU 0
#define EH_KIND_INTEGRATED 1
#define EH_KIND_CPU 2
#define EH_KIND_EMULATED 3

typedef struct eh_device_s *eh_device;
typedef struct eh_buffer_s *eh_buffer;
typedef struct eh_program_s *eh_program;

typedef struct {
    uint32_t code;
    float f[4];
    int32_t i[4];
} eh_op;

typedef struct {
    uint32_t type;
    uint32_t reserved;
    int64_t ne[4];
} eh_tensor_desc;

/* A tensor bound to device memory; buffer is NULL in supports() queries. */
typedef struct {
    eh_tensor_desc desc;
    eh_buffer buffer;
    uint64_t offset;
} eh_tensor;

/* One op with its inputs (in the order EdgeHAL's Op documents) and its output. An op that updates
   an input in place (SET_ROWS) has its output bound to that input's memory. */
typedef struct {
    eh_op op;
    uint32_t input_count;
    const eh_tensor *inputs;
    eh_tensor output;
} eh_node;

typedef struct {
    char name[128];
    uint32_t kind;
    uint32_t compute_units;
    uint64_t memory_bytes;        /* 0: not reported */
    char features[256];           /* space-separated capability flags */
} eh_device_info;

typedef struct {
    char message[EH_ERROR_CAPACITY];
} eh_error;

typedef struct eh_plugin {
    uint32_t abi_major;           /* EDGEHAL_PLUGIN_ABI_MAJOR the plugin was built against */
    uint32_t abi_minor;
    const char *name;             /* lower-case backend name, as EDGEHAL_BACKEND selects it */
    const char *version;

    /* Describes up to `capacity` devices; *count = how many there are. A plugin that cannot run on
       this machine returns EH_UNSUPPORTED with the reason in `error`. */
    eh_status (*probe)(eh_device_info *devices, uint32_t capacity, uint32_t *count, eh_error *error);
    eh_status (*device_open)(uint32_t index, eh_device *device, eh_error *error);
    void (*device_close)(eh_device device);
    /* 1 when the device runs this op on these types and shapes exactly, else 0 (never guess). */
    int32_t (*supports)(eh_device device, const eh_node *node);

    eh_status (*buffer_create)(eh_device device, uint64_t bytes, eh_buffer *buffer, eh_error *error);
    void (*buffer_free)(eh_device device, eh_buffer buffer);
    eh_status (*buffer_write)(eh_device device, eh_buffer buffer, uint64_t offset, const void *bytes, uint64_t count,
                              eh_error *error);
    eh_status (*buffer_read)(eh_device device, eh_buffer buffer, uint64_t offset, void *bytes, uint64_t count,
                             eh_error *error);

    /* Compiles a partition — nodes in execution order, every tensor bound to this device's buffers —
       into a program run any number of times. */
    eh_status (*program_compile)(eh_device device, const eh_node *nodes, uint32_t count, eh_program *program,
                                 eh_error *error);
    eh_status (*program_run)(eh_device device, eh_program program, eh_error *error);
    void (*program_free)(eh_device device, eh_program program);
} eh_plugin;

/* The one exported symbol. */
#define EDGEHAL_PLUGIN_ENTRY "edgehal_plugin_entry"
typedef const eh_plugin *(*eh_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
