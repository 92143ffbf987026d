/*
 * A complete, minimal EdgeHAL backend plugin in C: copy this folder out of the tree, rename the
 * backend, replace the kernels with your device's. It runs on host memory, implements a handful of
 * ops for real — add and mul (with broadcast), scale, silu, rms_norm and rms_norm·w, get_rows of
 * f32 and q8_0 tables, mul_mat with f32 weights — and declares every other op unsupported, so
 * EdgeHAL runs those on its fallback device.
 *
 * Build: cc -shared -fPIC -O2 -I <EdgeHAL>/Sources/EdgeHALPluginABI/include plugin.c -o libctemplate.so
 * (or `swift build --product CTemplatePlugin` inside EdgeHAL). -DEDGEHAL_TEMPLATE_BUG plants a
 * kernel bug the conformance suite must catch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "c_template_plugin.h"

#ifndef EDGEHAL_TEMPLATE_ABI_MAJOR
#define EDGEHAL_TEMPLATE_ABI_MAJOR EDGEHAL_PLUGIN_ABI_MAJOR  /* tests override it to check refusal */
#endif

struct eh_device_s { int unused; };
struct eh_buffer_s { unsigned char *bytes; uint64_t size; };

/* A node with its tensors resolved to host addresses at compile time. */
typedef struct {
    eh_op op;
    uint32_t input_count;
    eh_tensor_desc in_desc[4];
    const unsigned char *in[4];
    eh_tensor_desc out_desc;
    unsigned char *out;
} compiled_node;

struct eh_program_s { uint32_t count; compiled_node *nodes; };

static void fail(eh_error *error, const char *message) {
    if (error) snprintf(error->message, EH_ERROR_CAPACITY, "%s", message);
}

static int64_t count_of(const eh_tensor_desc *d) { return d->ne[0] * d->ne[1] * d->ne[2] * d->ne[3]; }

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    if (exponent == 0) {                         /* zero or subnormal: mantissa · 2^-24 */
        float v = ldexpf((float)mantissa, -24);
        return sign ? -v : v;
    }
    uint32_t bits = sign | (exponent == 31 ? 0x7F800000u | (mantissa << 13) : ((exponent + 112) << 23) | (mantissa << 13));
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* ---- probe and device ---- */

static eh_status probe(eh_device_info *devices, uint32_t capacity, uint32_t *count, eh_error *error) {
    (void)error;
    *count = 1;
    if (capacity > 0) {
        memset(&devices[0], 0, sizeof devices[0]);
        snprintf(devices[0].name, sizeof devices[0].name, "C template (host memory, scalar C)");
        devices[0].kind = EH_KIND_CPU;
        devices[0].compute_units = 1;
        snprintf(devices[0].features, sizeof devices[0].features, "template c-abi");
    }
    return EH_OK;
}

static eh_status device_open(uint32_t index, eh_device *device, eh_error *error) {
    if (index != 0) { fail(error, "the C template has one device (0)"); return EH_FAILED; }
    *device = calloc(1, sizeof(struct eh_device_s));
    return *device ? EH_OK : EH_OUT_OF_MEMORY;
}

static void device_close(eh_device device) { free(device); }

static int is(const eh_tensor_desc *d, uint32_t type) { return d->type == type; }

static int32_t supports(eh_device device, const eh_node *node) {
    (void)device;
    const eh_tensor *in = node->inputs;
    switch (node->op.code) {
    case EH_OP_ADD: case EH_OP_MUL:
        return is(&in[0].desc, EH_TYPE_F32) && is(&in[1].desc, EH_TYPE_F32);
    case EH_OP_SCALE: case EH_OP_SILU: case EH_OP_RMS_NORM:
        return is(&in[0].desc, EH_TYPE_F32);
    case EH_OP_RMS_NORM_MUL:
        return is(&in[0].desc, EH_TYPE_F32) && is(&in[1].desc, EH_TYPE_F32);
    case EH_OP_GET_ROWS:
        return (is(&in[0].desc, EH_TYPE_F32) || is(&in[0].desc, EH_TYPE_Q8_0)) && is(&in[1].desc, EH_TYPE_I32);
    case EH_OP_MUL_MAT:
        return is(&in[0].desc, EH_TYPE_F32) && is(&in[1].desc, EH_TYPE_F32);
    default:
        return 0;   /* every other op, and codes newer than this plugin: unsupported */
    }
}

/* ---- buffers: host memory ---- */

static eh_status buffer_create(eh_device device, uint64_t bytes, eh_buffer *buffer, eh_error *error) {
    (void)device;
    struct eh_buffer_s *b = calloc(1, sizeof *b);
    if (b) b->bytes = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    if (!b || !b->bytes) { free(b); fail(error, "out of host memory"); return EH_OUT_OF_MEMORY; }
    b->size = bytes;
    *buffer = b;
    return EH_OK;
}

static void buffer_free(eh_device device, eh_buffer buffer) {
    (void)device;
    if (buffer) free(buffer->bytes);
    free(buffer);
}

static eh_status buffer_write(eh_device device, eh_buffer b, uint64_t offset, const void *bytes, uint64_t count, eh_error *error) {
    (void)device;
    if (offset > b->size || count > b->size - offset) { fail(error, "write outside the buffer"); return EH_FAILED; }
    memcpy(b->bytes + offset, bytes, count);
    return EH_OK;
}

static eh_status buffer_read(eh_device device, eh_buffer b, uint64_t offset, void *bytes, uint64_t count, eh_error *error) {
    (void)device;
    if (offset > b->size || count > b->size - offset) { fail(error, "read outside the buffer"); return EH_FAILED; }
    memcpy(bytes, b->bytes + offset, count);
    return EH_OK;
}

/* ---- kernels ---- */

static void binary(const compiled_node *n, int multiply) {
    const float *a = (const float *)n->in[0], *b = (const float *)n->in[1];
    float *y = (float *)n->out;
    const int64_t *ne = n->in_desc[0].ne, *be = n->in_desc[1].ne;
    int64_t i = 0;
    for (int64_t i3 = 0; i3 < ne[3]; i3++)
        for (int64_t i2 = 0; i2 < ne[2]; i2++)
            for (int64_t i1 = 0; i1 < ne[1]; i1++) {
                const float *br = b + (((i3 % be[3]) * be[2] + i2 % be[2]) * be[1] + i1 % be[1]) * be[0];
                for (int64_t i0 = 0; i0 < ne[0]; i0++, i++) {
                    float bv = br[i0 % be[0]];
                    y[i] = multiply ? a[i] * bv : a[i] + bv;
                }
            }
}

static void rms_norm(const compiled_node *n, const float *weight) {
    const float *x = (const float *)n->in[0];
    float *y = (float *)n->out;
    int64_t k = n->in_desc[0].ne[0], rows = count_of(&n->in_desc[0]) / k;
    for (int64_t r = 0; r < rows; r++) {
        double sum = 0;
        for (int64_t i = 0; i < k; i++) sum += (double)x[r * k + i] * x[r * k + i];
#ifdef EDGEHAL_TEMPLATE_BUG
        double mean = sum / (double)(k - 1);   /* the planted bug: an off-by-one in the mean */
#else
        double mean = sum / (double)k;
#endif
        double denominator = sqrt(mean + n->op.f[0]);
        for (int64_t i = 0; i < k; i++) {
            double v = x[r * k + i] / denominator;
            y[r * k + i] = (float)(weight ? v * weight[i] : v);
        }
    }
}

static void get_rows(const compiled_node *n) {
    const eh_tensor_desc *t = &n->in_desc[0];
    const int32_t *ids = (const int32_t *)n->in[1];
    int64_t k = t->ne[0], rows = t->ne[1], count = n->in_desc[1].ne[0];
    size_t row_bytes = t->type == EH_TYPE_F32 ? (size_t)k * 4 : (size_t)k / 32 * 34;
    float *y = (float *)n->out;
    for (int64_t j = 0; j < count; j++) {
        float *dst = y + j * k;
        if (ids[j] < 0 || ids[j] >= rows) { for (int64_t i = 0; i < k; i++) dst[i] = NAN; continue; }
        const unsigned char *row = n->in[0] + (size_t)ids[j] * row_bytes;
        if (t->type == EH_TYPE_F32) { memcpy(dst, row, (size_t)k * 4); continue; }
        for (int64_t b = 0; b < k / 32; b++) {           /* q8_0: fp16 d, then 32 int8 codes */
            const unsigned char *block = row + b * 34;
            uint16_t dh;
            memcpy(&dh, block, 2);
            float d = half_to_float(dh);
            for (int q = 0; q < 32; q++) dst[b * 32 + q] = d * (float)(int8_t)block[2 + q];
        }
    }
}

static void mul_mat(const compiled_node *n) {
    const float *a = (const float *)n->in[0], *b = (const float *)n->in[1];
    const int64_t *ae = n->in_desc[0].ne, *be = n->in_desc[1].ne;
    float *y = (float *)n->out;
    int64_t k = ae[0], m = ae[1], r2 = be[2] / ae[2], r3 = be[3] / ae[3];
    for (int64_t i3 = 0; i3 < be[3]; i3++)
        for (int64_t i2 = 0; i2 < be[2]; i2++)
            for (int64_t j = 0; j < be[1]; j++) {
                const float *col = b + ((i3 * be[2] + i2) * be[1] + j) * k;
                for (int64_t i = 0; i < m; i++) {
                    const float *row = a + (((i3 / r3) * ae[2] + i2 / r2) * m + i) * k;
                    float sum = 0;
                    for (int64_t q = 0; q < k; q++) sum += row[q] * col[q];
                    y[((i3 * be[2] + i2) * be[1] + j) * m + i] = sum;
                }
            }
}

static void run_node(const compiled_node *n) {
    int64_t count = count_of(&n->out_desc);
    const float *x = (const float *)n->in[0];
    float *y = (float *)n->out;
    switch (n->op.code) {
    case EH_OP_ADD: binary(n, 0); break;
    case EH_OP_MUL: binary(n, 1); break;
    case EH_OP_SCALE: for (int64_t i = 0; i < count; i++) y[i] = x[i] * n->op.f[0]; break;
    case EH_OP_SILU: for (int64_t i = 0; i < count; i++) y[i] = x[i] / (1.0f + expf(-x[i])); break;
    case EH_OP_RMS_NORM: rms_norm(n, NULL); break;
    case EH_OP_RMS_NORM_MUL: rms_norm(n, (const float *)n->in[1]); break;
    case EH_OP_GET_ROWS: get_rows(n); break;
    case EH_OP_MUL_MAT: mul_mat(n); break;
    }
}

/* ---- programs ---- */

static eh_status program_compile(eh_device device, const eh_node *nodes, uint32_t count, eh_program *program, eh_error *error) {
    struct eh_program_s *p = calloc(1, sizeof *p);
    if (p) p->nodes = calloc(count ? count : 1, sizeof *p->nodes);
    if (!p || !p->nodes) { if (p) free(p); fail(error, "out of host memory"); return EH_OUT_OF_MEMORY; }
    p->count = count;
    for (uint32_t i = 0; i < count; i++) {
        const eh_node *node = &nodes[i];
        if (!supports(device, node) || node->input_count > 4) {
            free(p->nodes); free(p);
            fail(error, "program_compile got an op this plugin declared unsupported");
            return EH_UNSUPPORTED;
        }
        compiled_node *c = &p->nodes[i];   /* the node arrays are only valid during this call: copy */
        c->op = node->op;
        c->input_count = node->input_count;
        for (uint32_t j = 0; j < node->input_count; j++) {
            c->in_desc[j] = node->inputs[j].desc;
            c->in[j] = node->inputs[j].buffer->bytes + node->inputs[j].offset;
        }
        c->out_desc = node->output.desc;
        c->out = node->output.buffer->bytes + node->output.offset;
    }
    *program = p;
    return EH_OK;
}

static eh_status program_run(eh_device device, eh_program program, eh_error *error) {
    (void)device; (void)error;
    for (uint32_t i = 0; i < program->count; i++) run_node(&program->nodes[i]);
    return EH_OK;
}

static void program_free(eh_device device, eh_program program) {
    (void)device;
    if (program) free(program->nodes);
    free(program);
}

static const eh_plugin table = {
    .abi_major = EDGEHAL_TEMPLATE_ABI_MAJOR,
    .abi_minor = EDGEHAL_PLUGIN_ABI_MINOR,
    .name = "ctemplate",
    .version = "1.0.0",
    .probe = probe,
    .device_open = device_open,
    .device_close = device_close,
    .supports = supports,
    .buffer_create = buffer_create,
    .buffer_free = buffer_free,
    .buffer_write = buffer_write,
    .buffer_read = buffer_read,
    .program_compile = program_compile,
    .program_run = program_run,
    .program_free = program_free,
};

__attribute__((visibility("default"))) const eh_plugin *edgehal_plugin_entry(void) { return &table; }
