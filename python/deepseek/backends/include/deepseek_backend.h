/* deepseek_backend.h: the C ABI between the deepseek core and a hardware backend plugin.
 *
 * A backend fills one `ds_backend_table` and hands it to the core (from Python through the
 * `deepseek_backend_load` hook, usually built with cffi). The core mirrors these structs in
 * core-rs/src/backend_abi.rs with #[repr(C)]; tests/test_backends.py checks both views agree.
 *
 * Versioning: DS_BACKEND_ABI_MAJOR changes when any existing field or signature changes;
 * DS_BACKEND_ABI_MINOR grows when fields are appended at the end of the table. The core
 * refuses a plugin with another major, or with an older minor than the core requires.
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

#define DS_BACKEND_ABI_MAJOR 1
#define DS_BACKEND_ABI_MINOR 0

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

/* One non-tensor argument of a kernel (a dim, an alpha, a keepdim flag...). */
typedef struct ds_scalar {
    int32_t kind;
    int32_t reserved; /* zero */
    union {
        int64_t i; /* DS_SCALAR_BOOL and DS_SCALAR_INT */
        double f;  /* DS_SCALAR_FLOAT */
    } value;
} ds_scalar;

typedef struct ds_backend_table {
    uint64_t struct_size; /* sizeof(ds_backend_table) as the plugin was built */
    int32_t abi_major;    /* DS_BACKEND_ABI_MAJOR the plugin was built against */
    int32_t abi_minor;    /* DS_BACKEND_ABI_MINOR the plugin was built against */
    const char *name;     /* the device type: "opencl", "cuda"... */
    int64_t n_ops;        /* the primitive ops `launch` implements natively */
    const char *const *ops;

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
    /* Runs primitive op `op` (a name from deepseek.backends.PRIMITIVE_OPS) on `device`.
     * Outputs come first in `tensors`, already allocated by the core; the scalars are the
     * op's non-tensor arguments in the order the op's entry in docs/backends.md gives. */
    ds_status (*launch)(int32_t device, const char *op, const ds_tensor_desc *tensors,
                        int32_t n_tensors, const ds_scalar *scalars, int32_t n_scalars,
                        void *stream);
    const char *(*last_error)(void);
} ds_backend_table;

#endif /* DEEPSEEK_BACKEND_H */
