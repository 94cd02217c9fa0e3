/* hip_api.h: the slice of the HIP runtime API that deepseek-rocm calls.
 *
 * Declared here from HIP's documented signatures, so that building needs no ROCm headers and
 * nothing links against libamdhip64: hip_vendor.c dlopens the runtime at load time and
 * resolves every function of HIP_FUNCTIONS by name. The attribute and error values are those
 * of hip_runtime_api.h since ROCm 5 (tests/test_rocm_runtime.py checks them against an
 * installed header).
 */
#ifndef HIP_API_H
#define HIP_API_H

#include <stddef.h>
#include <stdint.h>

typedef int hipError_t;
typedef int hipDevice_t;
typedef void *hipDeviceptr_t;
typedef struct ihipStream_t *hipStream_t;
typedef struct ihipEvent_t *hipEvent_t;
typedef struct ihipModule_t *hipModule_t;
typedef struct ihipModuleSymbol_t *hipFunction_t;

/* hipError_t values the plugin treats specially */
#define hipSuccess 0
#define hipErrorOutOfMemory 2
#define hipErrorNoDevice 100
#define hipErrorInvalidDevice 101
#define hipErrorNotFound 500
#define hipErrorNotReady 600

/* hipDeviceAttribute_t values */
#define hipDeviceAttributeIntegrated 16
#define hipDeviceAttributeL2CacheSize 19
#define hipDeviceAttributeMaxBlockDimX 26
#define hipDeviceAttributeMaxGridDimX 29
#define hipDeviceAttributeMaxThreadsPerBlock 56
#define hipDeviceAttributeMaxThreadsPerMultiProcessor 57
#define hipDeviceAttributeMultiprocessorCount 63
#define hipDeviceAttributeMaxSharedMemoryPerBlock 74
#define hipDeviceAttributeWarpSize 87

#define hipEventDefault 0
#define hipEventDisableTiming 2
#define hipHostMallocDefault 0
#define hipStreamDefault 0

/* X(name, parameters): every function returns hipError_t. */
#define HIP_FUNCTIONS(X)                                                                       \
    X(hipInit, (unsigned int))                                                                 \
    X(hipRuntimeGetVersion, (int *))                                                           \
    X(hipGetDeviceCount, (int *))                                                              \
    X(hipDeviceGet, (hipDevice_t *, int))                                                      \
    X(hipDeviceGetName, (char *, int, hipDevice_t))                                            \
    X(hipDeviceGetAttribute, (int *, int, int))                                                \
    X(hipDeviceTotalMem, (size_t *, hipDevice_t))                                              \
    X(hipSetDevice, (int))                                                                     \
    X(hipMalloc, (void **, size_t))                                                            \
    X(hipFree, (void *))                                                                       \
    X(hipHostMalloc, (void **, size_t, unsigned int))                                          \
    X(hipHostFree, (void *))                                                                   \
    X(hipMemcpyHtoDAsync, (hipDeviceptr_t, void *, size_t, hipStream_t))                       \
    X(hipMemcpyDtoHAsync, (void *, hipDeviceptr_t, size_t, hipStream_t))                       \
    X(hipMemcpyDtoDAsync, (hipDeviceptr_t, hipDeviceptr_t, size_t, hipStream_t))               \
    X(hipMemsetD8Async, (hipDeviceptr_t, unsigned char, size_t, hipStream_t))                  \
    X(hipMemGetInfo, (size_t *, size_t *))                                                     \
    X(hipMemGetAddressRange, (hipDeviceptr_t *, size_t *, hipDeviceptr_t))                     \
    X(hipModuleLoadData, (hipModule_t *, const void *))                                        \
    X(hipModuleGetFunction, (hipFunction_t *, hipModule_t, const char *))                      \
    X(hipModuleUnload, (hipModule_t))                                                          \
    X(hipModuleLaunchKernel, (hipFunction_t, unsigned int, unsigned int, unsigned int,         \
                              unsigned int, unsigned int, unsigned int, unsigned int,          \
                              hipStream_t, void **, void **))                                  \
    X(hipStreamCreateWithFlags, (hipStream_t *, unsigned int))                                 \
    X(hipStreamDestroy, (hipStream_t))                                                         \
    X(hipStreamSynchronize, (hipStream_t))                                                     \
    X(hipStreamQuery, (hipStream_t))                                                           \
    X(hipStreamWaitEvent, (hipStream_t, hipEvent_t, unsigned int))                             \
    X(hipDeviceSynchronize, (void))                                                            \
    X(hipEventCreateWithFlags, (hipEvent_t *, unsigned int))                                   \
    X(hipEventRecord, (hipEvent_t, hipStream_t))                                               \
    X(hipEventSynchronize, (hipEvent_t))                                                       \
    X(hipEventQuery, (hipEvent_t))                                                             \
    X(hipEventElapsedTime, (float *, hipEvent_t, hipEvent_t))                                  \
    X(hipEventDestroy, (hipEvent_t))

/* Optional: stream-ordered allocation (ROCm 5.1+); without it scratch memory is freed after
 * a stream sync. The device properties: ROCm 6 exports the R0600 layout under its own name. */
#define HIP_OPTIONAL(X)                                                                        \
    X(hipMallocAsync, (void **, size_t, hipStream_t))                                          \
    X(hipFreeAsync, (void *, hipStream_t))                                                     \
    X(hipGetDevicePropertiesR0600, (void *, int))                                              \
    X(hipGetDeviceProperties, (void *, int))

typedef struct hip_api {
#define HIP_FIELD(name, params) hipError_t(*name) params;
    HIP_FUNCTIONS(HIP_FIELD)
    HIP_OPTIONAL(HIP_FIELD)
#undef HIP_FIELD
    const char *(*hipGetErrorName)(hipError_t);
    const char *(*hipGetErrorString)(hipError_t);
} hip_api;

#endif /* HIP_API_H */
