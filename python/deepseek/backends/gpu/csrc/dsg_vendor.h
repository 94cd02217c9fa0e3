/* dsg_vendor.h: the function table a GPU vendor fills for the GPU host layer (docs/gpu_host.md).
 *
 * The layer (dsg_host.c) holds everything CUDA's driver API and HIP's runtime do alike: device
 * memory for the ABI's alloc/free, host<->device copies through pinned staging buffers,
 * device-to-device copies, modules and the per-device kernel-function cache, the planner's
 * enqueue hook (dsk_arg list -> kernelParams, global/local -> grid/block), streams, events,
 * error mapping and last_error. A vendor file resolves its own library with dlsym and adapts
 * each call to the signatures below: device pointers are dsg_mem (uint64_t: CUdeviceptr,
 * hipDeviceptr_t), handles void *, and every call answers the vendor's status code (0 is
 * success). Nothing here names a vendor.
 */
#ifndef DSG_VENDOR_H
#define DSG_VENDOR_H

#include <stddef.h>
#include <stdint.h>

#include "deepseek_backend.h"

typedef uint64_t dsg_mem;

/* A device's launch limits, read once when the device is first used. */
typedef struct dsg_limits {
    int max_threads;   /* threads per block */
    int max_block[3];
    int max_grid[3];
    int max_shared;    /* bytes of shared (local) memory per block */
} dsg_limits;

/* X(field, parameters): the calls of a vendor table. All answer the vendor's status code. */
#define DSG_CALLS(X)                                                                           \
    X(device_count, (int *count))                                                              \
    X(device_setup, (int device, void **handle)) /* CUDA: the primary context; HIP: none */    \
    X(make_current, (int device, void *handle))  /* on the calling thread, before each call */ \
    X(limits, (int device, dsg_limits *out))                                                   \
    X(mem_alloc, (dsg_mem *ptr, size_t nbytes))                                                \
    X(mem_free, (dsg_mem ptr))                                                                 \
    X(host_alloc, (void **ptr, size_t nbytes))   /* pinned */                                  \
    X(host_free, (void *ptr))                                                                  \
    X(copy_h2d, (dsg_mem dst, const void *src, size_t nbytes, void *stream))                  \
    X(copy_d2h, (void *dst, dsg_mem src, size_t nbytes, void *stream))                        \
    X(copy_d2d, (dsg_mem dst, dsg_mem src, size_t nbytes, void *stream))                      \
    X(memset8, (dsg_mem dst, unsigned char value, size_t nbytes, void *stream))               \
    X(mem_get_info, (size_t *free_bytes, size_t *total_bytes))                                 \
    X(address_range, (dsg_mem *base, size_t *size, dsg_mem ptr))                               \
    X(module_load, (void **module, const void *image))                                         \
    X(module_function, (void **function, void *module, const char *name))                      \
    X(module_unload, (void *module))                                                           \
    X(launch, (void *function, const uint32_t *grid, const uint32_t *block, uint32_t shared,   \
               void *stream, void **params))                                                   \
    X(stream_create, (void **stream))                                                          \
    X(stream_destroy, (void *stream))                                                          \
    X(stream_synchronize, (void *stream))                                                      \
    X(stream_query, (void *stream))              /* not_ready while busy */                    \
    X(stream_wait_event, (void *stream, void *event))                                          \
    X(device_synchronize, (void))                                                              \
    X(event_create, (void **event, int timing))                                                \
    X(event_record, (void *event, void *stream))                                               \
    X(event_synchronize, (void *event))                                                        \
    X(event_query, (void *event))                /* not_ready until it has happened */         \
    X(event_elapsed, (float *ms, void *start, void *end))                                      \
    X(event_destroy, (void *event))                                                            \
    X(mem_alloc_async, (dsg_mem *ptr, size_t nbytes, void *stream)) /* optional (NULL) */      \
    X(mem_free_async, (dsg_mem ptr, void *stream))                  /* optional (NULL) */

/* The vendor's own name of each call ("cuMemAlloc_v2", "hipMalloc"), for messages. */
typedef struct dsg_call_names {
#define DSG_NAME_FIELD(name, params) const char *name;
    DSG_CALLS(DSG_NAME_FIELD)
#undef DSG_NAME_FIELD
} dsg_call_names;

/* One strided batched GEMM in BLAS's column-major terms: for each batch i,
 * C_i (m x n) = op(A_i) (m x k) * op(B_i) (k x n), op transposing when trans_*; pointers have
 * the operands' offsets applied; strides and leading dimensions count elements. */
typedef struct dsg_gemm {
    int32_t dtype; /* every operand's: DS_FLOAT16, DS_BFLOAT16, DS_FLOAT32 or DS_FLOAT64 */
    int trans_a, trans_b;
    int32_t m, n, k, batch;
    dsg_mem a, b, c;
    int64_t lda, ldb, ldc, stride_a, stride_b, stride_c;
} dsg_gemm;

typedef struct dsg_api {
#define DSG_FN_FIELD(name, params) int(*name) params;
    DSG_CALLS(DSG_FN_FIELD)
#undef DSG_FN_FIELD
    dsg_call_names names;
    /* "HIP_ERROR_X"-style name and description of a status (NULL when unknown) */
    const char *(*error_name)(int status);
    const char *(*error_string)(int status);
    const char *device_type; /* "rocm", "cuda": devices are named "<device_type>:<index>" */
    const char *product;     /* "deepseek-rocm": messages about what the plugin lacks */
    const char *runtime;     /* what messages call the vendor's library ("driver"; NULL: "runtime") */
    int out_of_memory;       /* the status meaning out of memory (-> DS_ERROR_OUT_OF_MEMORY) */
    int not_ready;           /* stream_query/event_query: still running */
    int not_found;           /* module_function: the module has no such kernel */
    /* Optional (NULL: none): a vendor library's route for some launches (a BLAS matmul), tried
     * before the planner with the device current. DS_ERROR_NOT_IMPLEMENTED passes the launch
     * on to the planner; any other status is the launch's (keep a message with dsg_fail). */
    ds_status (*launch_first)(int32_t device, const ds_op *op, const ds_tensor_desc *tensors, int32_t n_tensors,
                              void *stream);
    /* Optional (NULL: none): a vendor BLAS for matmul (cuBLAS, rocBLAS). The layer maps a
     * matmul's operands to one column-major strided batched GEMM when their strides allow
     * (dsg_blas.c) and calls this with the device current; DS_ERROR_NOT_IMPLEMENTED sends the
     * matmul to the portable kernel, any other status is the launch's (message kept). */
    ds_status (*gemm)(int32_t device, const dsg_gemm *gemm, void *stream);
} dsg_api;

#endif /* DSG_VENDOR_H */
