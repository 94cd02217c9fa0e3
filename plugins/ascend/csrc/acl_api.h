/* acl_api.h: the parts of CANN's C API deepseek-ascend calls, declared from CANN's documentation
 * (acl/acl_base.h, acl/acl_rt.h, aclnn/acl_meta.h, aclnn/aclnn_base.h) so the plugin builds
 * without a CANN install: every function is looked up with dlsym at load time. */
#ifndef ASC_ACL_API_H
#define ASC_ACL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int aclError;           /* ACL_SUCCESS = 0 */
typedef int32_t aclnnStatus;     /* ACLNN_SUCCESS = 0 */
typedef void *aclrtStream;
typedef void *aclrtEvent;
typedef struct aclTensor aclTensor;
typedef struct aclScalar aclScalar;
typedef struct aclIntArray aclIntArray;
typedef struct aclBoolArray aclBoolArray;
typedef struct aclTensorList aclTensorList;
typedef struct aclOpExecutor aclOpExecutor;

/* aclDataType */
enum {
    ACL_FLOAT = 0, ACL_FLOAT16 = 1, ACL_INT8 = 2, ACL_INT32 = 3, ACL_UINT8 = 4, ACL_INT16 = 6,
    ACL_INT64 = 9, ACL_DOUBLE = 11, ACL_BOOL = 12, ACL_BF16 = 27
};
/* aclFormat */
enum { ACL_FORMAT_ND = 2 };
/* aclrtMemMallocPolicy, aclrtMemcpyKind, aclrtMemAttr */
enum { ACL_MEM_MALLOC_HUGE_FIRST = 0 };
enum { ACL_MEMCPY_HOST_TO_HOST = 0, ACL_MEMCPY_HOST_TO_DEVICE = 1, ACL_MEMCPY_DEVICE_TO_HOST = 2,
       ACL_MEMCPY_DEVICE_TO_DEVICE = 3 };
enum { ACL_HBM_MEM = 1 };
/* aclrtEventRecordedStatus */
enum { ACL_EVENT_RECORDED_STATUS_NOT_READY = 0, ACL_EVENT_RECORDED_STATUS_COMPLETE = 1 };
/* status codes the plugin tells apart */
enum { ACL_ERROR_RT_MEMORY_ALLOCATION = 207001, ACLNN_ERR_PARAM_NULLPTR = 161001,
       ACLNN_ERR_PARAM_INVALID = 161002, ACLNN_ERR_RUNTIME_ERROR = 361001, ACLNN_ERR_INNER = 561000 };

/* The runtime (libascendcl.so) and descriptor (libnnopbase.so) functions, by name. X(ret, name, args) */
#define ASC_ACL_FUNCTIONS(X) \
    X(aclError, aclInit, (const char *configPath)) \
    X(aclError, aclrtSetDevice, (int32_t deviceId)) \
    X(aclError, aclrtGetDevice, (int32_t *deviceId)) \
    X(aclError, aclrtGetDeviceCount, (uint32_t *count)) \
    X(aclError, aclrtCreateStream, (aclrtStream *stream)) \
    X(aclError, aclrtDestroyStream, (aclrtStream stream)) \
    X(aclError, aclrtSynchronizeStream, (aclrtStream stream)) \
    X(aclError, aclrtMalloc, (void **devPtr, size_t size, int policy)) \
    X(aclError, aclrtFree, (void *devPtr)) \
    X(aclError, aclrtMemcpy, (void *dst, size_t destMax, const void *src, size_t count, int kind)) \
    X(aclError, aclrtMemcpyAsync, (void *dst, size_t destMax, const void *src, size_t count, int kind, aclrtStream stream)) \
    X(aclError, aclrtGetMemInfo, (int attr, size_t *free, size_t *total)) \
    X(aclError, aclrtCreateEvent, (aclrtEvent *event)) \
    X(aclError, aclrtDestroyEvent, (aclrtEvent event)) \
    X(aclError, aclrtRecordEvent, (aclrtEvent event, aclrtStream stream)) \
    X(aclError, aclrtSynchronizeEvent, (aclrtEvent event)) \
    X(aclError, aclrtQueryEventStatus, (aclrtEvent event, int *status)) \
    X(aclError, aclrtEventElapsedTime, (float *ms, aclrtEvent start, aclrtEvent end)) \
    X(aclError, aclrtStreamWaitEvent, (aclrtStream stream, aclrtEvent event)) \
    X(const char *, aclrtGetSocName, (void)) \
    X(const char *, aclGetRecentErrMsg, (void)) \
    X(aclTensor *, aclCreateTensor, (const int64_t *viewDims, uint64_t viewDimsNum, int dataType, const int64_t *stride, \
                                     int64_t offset, int format, const int64_t *storageDims, uint64_t storageDimsNum, \
                                     void *tensorData)) \
    X(aclScalar *, aclCreateScalar, (void *value, int dataType)) \
    X(aclIntArray *, aclCreateIntArray, (const int64_t *value, uint64_t size)) \
    X(aclBoolArray *, aclCreateBoolArray, (const bool *value, uint64_t size)) \
    X(aclTensorList *, aclCreateTensorList, (const aclTensor *const *value, uint64_t size)) \
    X(aclnnStatus, aclDestroyTensor, (const aclTensor *tensor)) \
    X(aclnnStatus, aclDestroyScalar, (const aclScalar *scalar)) \
    X(aclnnStatus, aclDestroyIntArray, (const aclIntArray *array)) \
    X(aclnnStatus, aclDestroyBoolArray, (const aclBoolArray *array)) \
    X(aclnnStatus, aclDestroyTensorList, (const aclTensorList *array))

/* Every aclnn operator's second phase has this form. */
typedef aclnnStatus (*aclnn_run_fn)(void *workspace, uint64_t workspaceSize, aclOpExecutor *executor, aclrtStream stream);

#endif /* ASC_ACL_API_H */
