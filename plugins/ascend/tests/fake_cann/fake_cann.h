/* fake_cann.h: what the fake CANN's three libraries share. libascendcl.so (fake_acl.c) holds
 * the state: devices, memory blocks in host RAM, streams whose work runs in order at the next
 * synchronisation, the last error message and the call log ($FAKE_ACL_LOG, one line per call:
 * `name key=value ... -> code`). libnnopbase.so (fake_nnopbase.c) makes and destroys the
 * descriptors; libopapi.so (fake_opapi.c, fake_kernels.c) has the aclnn operators, each
 * computing its result on the CPU from the descriptors it was given. */
#ifndef FAKE_CANN_H
#define FAKE_CANN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FMAX_DIMS 16
enum { M_TENSOR = 0x7e250001, M_SCALAR = 0x7e250002, M_INTS = 0x7e250003, M_BOOLS = 0x7e250004,
       M_LIST = 0x7e250005, M_EXEC = 0x7e250006 };

/* aclDataType values the fake knows */
enum { F_FLOAT = 0, F_FLOAT16 = 1, F_INT8 = 2, F_INT32 = 3, F_UINT8 = 4, F_INT16 = 6, F_INT64 = 9,
       F_DOUBLE = 11, F_BOOL = 12, F_BF16 = 27 };
enum { E_NULLPTR = 161001, E_INVALID = 161002, E_RUNTIME = 361001, E_RT_PARAM = 107000, E_RT_MEM = 207001 };

typedef struct FTensor {
    uint32_t magic;
    int32_t id, alive, in_list;
    int32_t ndim, dtype, format;
    int64_t dims[FMAX_DIMS], strides[FMAX_DIMS], offset, storage;
    void *data;
} FTensor;

typedef struct FScalar { uint32_t magic; int32_t id, alive, dtype; double f; int64_t i; } FScalar;
typedef struct FIntArray { uint32_t magic; int32_t id, alive; int64_t n; int64_t v[64]; } FIntArray;
typedef struct FBoolArray { uint32_t magic; int32_t id, alive; int64_t n; bool v[16]; } FBoolArray;
typedef struct FTensorList { uint32_t magic; int32_t id, alive; int64_t n; FTensor *v[256]; } FTensorList;

/* fake_acl.c (libascendcl.so) */
void fake_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* keeps `code` and its message for aclGetRecentErrMsg; returns code */
int fake_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int32_t fake_next_id(void);
/* 1 when [p, p + nbytes) lies in one live device block */
int fake_in_block(const void *p, uint64_t nbytes);
int fake_stream_ok(void *stream);
int fake_stream_id(void *stream); /* -1 for an invalid stream */
/* queues fn(arg) on stream, to run at its next synchronisation; `uses`: the device blocks it
 * touches (aclrtFree of one of them before it ran fails) */
void fake_enqueue(void *stream, void (*fn)(void *), void *arg, const char *what, void *const *uses, int n_uses);
int fake_dtype_size(int32_t dtype); /* 0 for an unknown dtype */

#endif /* FAKE_CANN_H */
