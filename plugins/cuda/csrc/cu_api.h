/* cu_api.h: the slice of the CUDA driver API that the plugin calls.
 *
 * Declared here from the driver API's documented signatures, so that building needs no CUDA
 * headers and nothing links against libcuda: cu_vendor.c dlopens the driver at load time
 * (libcuda.so.1, or $DEEPSEEK_CUDA_DRIVER, which the tests point at their fake driver) and
 * resolves every function of CU_FUNCTIONS by name.
 */
#ifndef CU_API_H
#define CU_API_H

#include <stddef.h>
#include <stdint.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;

/* CUresult values the plugin treats specially */
#define CUDA_SUCCESS 0
#define CUDA_ERROR_INVALID_VALUE 1
#define CUDA_ERROR_OUT_OF_MEMORY 2
#define CUDA_ERROR_NO_DEVICE 100
#define CUDA_ERROR_NOT_READY 600

/* X(name, parameters): every function returns CUresult. */
#define CU_FUNCTIONS(X)                                                                        \
    X(cuInit, (unsigned int))                                                                  \
    X(cuDriverGetVersion, (int *))                                                             \
    X(cuDeviceGetCount, (int *))                                                               \
    X(cuDeviceGet, (CUdevice *, int))                                                          \
    X(cuDeviceGetName, (char *, int, CUdevice))                                                \
    X(cuDeviceGetAttribute, (int *, int, CUdevice))                                            \
    X(cuDeviceTotalMem_v2, (size_t *, CUdevice))                                               \
    X(cuDevicePrimaryCtxRetain, (CUcontext *, CUdevice))                                       \
    X(cuCtxSetCurrent, (CUcontext))                                                            \
    X(cuMemAlloc_v2, (CUdeviceptr *, size_t))                                                  \
    X(cuMemFree_v2, (CUdeviceptr))                                                             \
    X(cuMemHostAlloc, (void **, size_t, unsigned int))                                         \
    X(cuMemFreeHost, (void *))                                                                 \
    X(cuMemcpyHtoDAsync_v2, (CUdeviceptr, const void *, size_t, CUstream))                     \
    X(cuMemcpyDtoHAsync_v2, (void *, CUdeviceptr, size_t, CUstream))                           \
    X(cuMemcpyDtoDAsync_v2, (CUdeviceptr, CUdeviceptr, size_t, CUstream))                      \
    X(cuMemsetD8Async, (CUdeviceptr, unsigned char, size_t, CUstream))                         \
    X(cuMemGetInfo_v2, (size_t *, size_t *))                                                   \
    X(cuMemGetAddressRange_v2, (CUdeviceptr *, size_t *, CUdeviceptr))                         \
    X(cuMemAllocAsync, (CUdeviceptr *, size_t, CUstream))                                      \
    X(cuMemFreeAsync, (CUdeviceptr, CUstream))                                                 \
    X(cuModuleLoadData, (CUmodule *, const void *))                                            \
    X(cuModuleGetFunction, (CUfunction *, CUmodule, const char *))                             \
    X(cuModuleUnload, (CUmodule))                                                              \
    X(cuLaunchKernel, (CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,     \
                       unsigned int, unsigned int, unsigned int, CUstream, void **, void **))  \
    X(cuStreamCreate, (CUstream *, unsigned int))                                              \
    X(cuStreamDestroy_v2, (CUstream))                                                          \
    X(cuStreamSynchronize, (CUstream))                                                         \
    X(cuStreamQuery, (CUstream))                                                               \
    X(cuStreamWaitEvent, (CUstream, CUevent, unsigned int))                                    \
    X(cuCtxSynchronize, (void))                                                                \
    X(cuEventCreate, (CUevent *, unsigned int))                                                \
    X(cuEventRecord, (CUevent, CUstream))                                                      \
    X(cuEventSynchronize, (CUevent))                                                           \
    X(cuEventQuery, (CUevent))                                                                 \
    X(cuEventElapsedTime, (float *, CUevent, CUevent))                                         \
    X(cuEventDestroy_v2, (CUevent))                                                            \
    X(cuGetErrorName, (CUresult, const char **))                                               \
    X(cuGetErrorString, (CUresult, const char **))

typedef struct cu_api {
#define CU_FIELD(name, params) CUresult(*name) params;
    CU_FUNCTIONS(CU_FIELD)
#undef CU_FIELD
} cu_api;


#endif /* CU_API_H */
