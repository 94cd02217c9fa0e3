/* deepseek_backend.h: the C ABI between the deepseek core and a hardware backend plugin.
 *
 * A backend fills one `ds_backend_table` and hands it to the core (from Python through the
 * `deepseek_backend_load` hook, usually built with cffi). The core mirrors these structs in
 * core-rs/src/backend_abi.rs with #[repr(C)]; tests/test_backends.py checks both views agree.
 *
 * Versioning: DS_BACKEND_ABI_MAJOR changes when any existing field or signature changes;
 * DS_BACKEND_ABI_MINOR grows when fields are appended at the end of the table. Op ids and
 * attribute structs are generated from the op table: new ops get new ids at the end and
 * change no version (a plugin declares the ids it implements; unknown ids are ignored). The core
 * refuses a plugin with another major, or with a minor older than DS_BACKEND_ABI_MINOR_MIN.
 * `struct_size` is sizeof(ds_backend_table) as the plugin was compiled, so a newer core can
 * tell which appended fields an older-minor plugin filled.
 *
 * Conventions:
 *  - Every function returns a ds_status; on anything but DS_OK the plugin keeps a message
 *    for `last_error()` (valid until the next call on the same thread).
 *  - Device pointers are opaque handles (an OpenCL cl_mem, a CUDA device address...): the
 *    core never does arithmetic on them; it passes byte offsets instead.
 *  - A NULL stream means the device's default stream.
 *
 * This header is parsed by cffi's cdef, so it uses no macros except the #defines below and
 * the include guard (lines starting with '#' are dropped before cdef).
 */
#ifndef DEEPSEEK_BACKEND_H
#define DEEPSEEK_BACKEND_H

#include <stdint.h>

#define DS_BACKEND_ABI_MAJOR 2
#define DS_BACKEND_ABI_MINOR 1
/* The oldest minor the core accepts: fields a minor appended are read only when struct_size
 * covers them. */
#define DS_BACKEND_ABI_MINOR_MIN 0

typedef int32_t ds_status;
/* ds_status values */
enum {
    DS_OK = 0,
    DS_ERROR = 1,               /* anything else; see last_error() */
    DS_ERROR_OUT_OF_MEMORY = 2, /* the core frees its cache and retries once */
    DS_ERROR_NOT_IMPLEMENTED = 3, /* the core decomposes the op or falls back to the CPU */
    DS_ERROR_INVALID_ARGUMENT = 4
};

/* ds_tensor_desc.dtype values; the core's dtypes, in this order. */
enum {
    DS_BOOL = 0, DS_UINT8 = 1, DS_INT8 = 2, DS_INT16 = 3, DS_INT32 = 4, DS_INT64 = 5,
    DS_FLOAT16 = 6, DS_BFLOAT16 = 7, DS_FLOAT32 = 8, DS_FLOAT64 = 9
};

/* ds_scalar.kind values */
enum { DS_SCALAR_BOOL = 0, DS_SCALAR_INT = 1, DS_SCALAR_FLOAT = 2 };

/* One tensor argument of a kernel: element (i0, i1, ...) lives at element index
 * offset + sum(i_k * strides[k]) of the buffer `ptr` (strides and offset count elements). */
typedef struct ds_tensor_desc {
    void *ptr;
    int32_t dtype;
    int32_t ndim;
    const int64_t *shape;
    const int64_t *strides;
    int64_t offset;
} ds_tensor_desc;

/* A bool, int or float attribute (a fill value, an arange start...). */
typedef struct ds_scalar {
    int32_t kind;
    int32_t reserved; /* zero */
    union {
        int64_t i; /* DS_SCALAR_BOOL and DS_SCALAR_INT */
        double f;  /* DS_SCALAR_FLOAT */
    } value;
} ds_scalar;

/* BEGIN GENERATED from core-rs/ops/primitives.toml: do not edit */
/* ds_op.id values: every primitive op (deepseek.backends.PRIMITIVE_OP_NAMES). Ids never
 * change; new ops get new ids at the end. */
enum {
    DS_OP_NEG = 0,
    DS_OP_ABS = 1,
    DS_OP_SIGN = 2,
    DS_OP_EXP = 3,
    DS_OP_LOG = 4,
    DS_OP_LOG1P = 5,
    DS_OP_EXPM1 = 6,
    DS_OP_SQRT = 7,
    DS_OP_RSQRT = 8,
    DS_OP_SIN = 9,
    DS_OP_COS = 10,
    DS_OP_TAN = 11,
    DS_OP_TANH = 12,
    DS_OP_SIGMOID = 13,
    DS_OP_ERF = 14,
    DS_OP_FLOOR = 15,
    DS_OP_CEIL = 16,
    DS_OP_ROUND = 17,
    DS_OP_TRUNC = 18,
    DS_OP_RECIPROCAL = 19,
    DS_OP_RELU = 20,
    DS_OP_LOGICAL_NOT = 21,
    DS_OP_BITWISE_NOT = 22,
    DS_OP_ASIN = 23,
    DS_OP_ACOS = 24,
    DS_OP_ATAN = 25,
    DS_OP_SINH = 26,
    DS_OP_COSH = 27,
    DS_OP_LOG2 = 28,
    DS_OP_EXP2 = 29,
    DS_OP_ADD = 30,
    DS_OP_SUB = 31,
    DS_OP_MUL = 32,
    DS_OP_DIV = 33,
    DS_OP_FLOOR_DIVIDE = 34,
    DS_OP_POW = 35,
    DS_OP_MAXIMUM = 36,
    DS_OP_MINIMUM = 37,
    DS_OP_FMOD = 38,
    DS_OP_REMAINDER = 39,
    DS_OP_ATAN2 = 40,
    DS_OP_BITWISE_AND = 41,
    DS_OP_BITWISE_OR = 42,
    DS_OP_BITWISE_XOR = 43,
    DS_OP_EQ = 44,
    DS_OP_NE = 45,
    DS_OP_LT = 46,
    DS_OP_LE = 47,
    DS_OP_GT = 48,
    DS_OP_GE = 49,
    DS_OP_LOGICAL_AND = 50,
    DS_OP_LOGICAL_OR = 51,
    DS_OP_LOGICAL_XOR = 52,
    DS_OP_WHERE = 53,
    DS_OP_CAST = 54,
    DS_OP_COPY = 55,
    DS_OP_FILL = 56,
    DS_OP_ARANGE = 57,
    DS_OP_CAT = 58,
    DS_OP_PAD = 59,
    DS_OP_SUM = 60,
    DS_OP_PROD = 61,
    DS_OP_AMAX = 62,
    DS_OP_AMIN = 63,
    DS_OP_ARGMAX = 64,
    DS_OP_ARGMIN = 65,
    DS_OP_CUMSUM = 66,
    DS_OP_CUMPROD = 67,
    DS_OP_MATMUL = 68,
    DS_OP_CONV2D = 69,
    DS_OP_CONV2D_INPUT_GRAD = 70,
    DS_OP_CONV2D_WEIGHT_GRAD = 71,
    DS_OP_GATHER = 72,
    DS_OP_SCATTER = 73,
    DS_OP_SCATTER_ADD = 74,
    DS_OP_INDEX_SELECT = 75,
    DS_OP_INDEX_ADD = 76,
    DS_OP_INDEX = 77,
    DS_OP_INDEX_PUT = 78,
    DS_OP_SORT = 79,
    DS_OP_TOPK = 80,
    DS_OP_RAND = 81,
    DS_OP_RANDN = 82,
    DS_OP_RANDINT = 83,
    DS_OP_RANDPERM = 84,
    DS_OP_BERNOULLI = 85,
    DS_OP_ERFC = 86,
    DS_OP_LGAMMA = 87,
    DS_OP_DIGAMMA = 88,
    DS_OP_POLYGAMMA = 89,
    DS_N_OPS = 90
};

/* ds_op.attrs of polygamma */
typedef struct ds_polygamma_attrs {
    int64_t n; /* the order, at least 1 (order 0 is the unary op digamma) */
} ds_polygamma_attrs;

/* ds_op.attrs of fill */
typedef struct ds_fill_attrs {
    ds_scalar value; /* bool, int or float, already representable in out's dtype */
} ds_fill_attrs;

/* ds_op.attrs of arange */
typedef struct ds_arange_attrs {
    ds_scalar start; /* int for integer out, else float */
    ds_scalar step; /* as start */
} ds_arange_attrs;

/* ds_op.attrs of cat */
typedef struct ds_cat_attrs {
    int64_t dim; /* the dim to join along */
} ds_cat_attrs;

/* ds_op.attrs of pad */
typedef struct ds_pad_attrs {
    double value; /* the padding value */
    int64_t n_pads;
    const int64_t *pads; /* `before_0, after_0, before_1, after_1, ...` (>= 0, one pair per dim of x, dim 0 first) */
} ds_pad_attrs;

/* ds_op.attrs of argmax, argmin */
typedef struct ds_arg_reduce_attrs {
    int64_t dim; /* the reduced dim */
} ds_arg_reduce_attrs;

/* ds_op.attrs of cumsum, cumprod */
typedef struct ds_cumulative_attrs {
    int64_t dim; /* the scanned dim */
} ds_cumulative_attrs;

/* ds_op.attrs of conv2d, conv2d_input_grad, conv2d_weight_grad */
typedef struct ds_conv_attrs {
    int64_t stride_h;
    int64_t stride_w;
    int64_t pad_h;
    int64_t pad_w;
    int64_t dilation_h;
    int64_t dilation_w;
    int64_t groups;
} ds_conv_attrs;

/* ds_op.attrs of gather */
typedef struct ds_gather_attrs {
    int64_t dim;
} ds_gather_attrs;

/* ds_op.attrs of scatter, scatter_add */
typedef struct ds_scatter_attrs {
    int64_t dim;
} ds_scatter_attrs;

/* ds_op.attrs of index_select */
typedef struct ds_index_select_attrs {
    int64_t dim;
} ds_index_select_attrs;

/* ds_op.attrs of index_add */
typedef struct ds_index_add_attrs {
    int64_t dim;
} ds_index_add_attrs;

/* ds_op.attrs of index_put */
typedef struct ds_index_put_attrs {
    uint8_t accumulate; /* 0 or 1 */
} ds_index_put_attrs;

/* ds_op.attrs of sort */
typedef struct ds_sort_attrs {
    int64_t dim;
    uint8_t descending; /* 0 or 1 */
} ds_sort_attrs;

/* ds_op.attrs of topk */
typedef struct ds_topk_attrs {
    int64_t k;
    int64_t dim;
    uint8_t largest; /* 0 or 1 */
} ds_topk_attrs;

/* ds_op.attrs of rand, randn, randint, randperm, bernoulli */
typedef struct ds_random_attrs {
    uint64_t seed;
    uint64_t offset;
    int64_t low;
    int64_t high;
} ds_random_attrs;
/* END GENERATED */

/* The op a kernel runs: its id and its attributes (the op family's ds_<family>_attrs
 * struct above, NULL for families without attributes). */
typedef struct ds_op {
    int32_t id;       /* DS_OP_* */
    int32_t reserved; /* zero */
    const void *attrs;
} ds_op;

typedef struct ds_backend_table {
    uint64_t struct_size; /* sizeof(ds_backend_table) as the plugin was built */
    int32_t abi_major;    /* DS_BACKEND_ABI_MAJOR the plugin was built against */
    int32_t abi_minor;    /* DS_BACKEND_ABI_MINOR the plugin was built against */
    const char *name;     /* the device type: "opencl", "cuda"... */
    int64_t n_ops;        /* the primitive ops `launch` implements natively */
    const int32_t *ops;   /* their DS_OP_* ids */

    ds_status (*device_count)(int32_t *count);
    ds_status (*alloc)(int32_t device, uint64_t nbytes, void **ptr);
    ds_status (*free)(int32_t device, void *ptr);
    ds_status (*memcpy_h2d)(int32_t device, void *dst, uint64_t dst_offset, const void *src,
                            uint64_t nbytes, void *stream);
    ds_status (*memcpy_d2h)(int32_t device, void *dst, const void *src, uint64_t src_offset,
                            uint64_t nbytes, void *stream);
    ds_status (*memcpy_d2d)(int32_t device, void *dst, uint64_t dst_offset, const void *src,
                            uint64_t src_offset, uint64_t nbytes, void *stream);
    ds_status (*synchronize)(int32_t device);
    ds_status (*stream_create)(int32_t device, void **stream);
    ds_status (*stream_destroy)(int32_t device, void *stream);
    /* Runs primitive op `op` on `device`. Outputs come first in `tensors`, already
     * allocated by the core (docs/backends.md gives each op's tensors and attributes). */
    ds_status (*launch)(int32_t device, const ds_op *op, const ds_tensor_desc *tensors,
                        int32_t n_tensors, void *stream);
    const char *(*last_error)(void);

    /* ABI 2.1: generated elementwise programs (docs/backends.md, section 3). A plugin built
     * against 2.0 has a smaller struct_size and none of these; a 2.1 plugin that compiles no
     * kernels leaves them NULL. Either way the core runs fused elementwise nodes one launch a
     * step. The three are set together or not at all. */
    /* Compiles `body` (portable kernel source, docs/kernels.md: the plugin adds its dialect
     * prelude and compile options) and returns a handle to its kernel `name` in *program.
     * DS_ERROR_NOT_IMPLEMENTED: this device cannot build it (the core falls back); any other
     * failure: last_error() holds the compiler's log. */
    ds_status (*compile_program)(int32_t device, const char *body, const char *name, void **program);
    /* Enqueues the program over tensors[0]'s shape, every tensor of that shape (any strides,
     * 0 for broadcast): kernel arguments are the n_tensors buffers, one MetaN (N = n_tensors)
     * and the element count, 1-d work of roundup(n, LS) items (docs/kernels.md, section 2). */
    ds_status (*launch_program)(int32_t device, void *program, const ds_tensor_desc *tensors,
                                int32_t n_tensors, void *stream);
    ds_status (*release_program)(int32_t device, void *program);
} ds_backend_table;

#endif /* DEEPSEEK_BACKEND_H */
