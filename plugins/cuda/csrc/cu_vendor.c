/* cu_vendor.c: the CUDA driver API under the GPU host layer (deepseek/backends/gpu/csrc).
 *
 * The driver (libcuda.so.1, or $DEEPSEEK_CUDA_DRIVER) is dlopened at run time, never linked: a
 * machine without it still imports the plugin, and its probe says why. This file resolves the
 * cu* functions (cu_api.h), adapts them to the layer's vendor table (dsg_vendor.h: a device's
 * handle is its primary context, made current with cuCtxSetCurrent; CUdeviceptr is already the
 * layer's integer dsg_mem) and answers the device queries only the driver has.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "cu_api.h"
#include "dsg_internal.h"

#define CUDA_ERROR_NOT_FOUND 500
#define CU_EVENT_DISABLE_TIMING 2

static cu_api cu;
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static int opened; /* 0: not tried; 1: ok; -1: failed (open_status, open_message) */
static ds_status open_status;
static char open_message[2048];
static char driver_path[512];

/* defined by cffi (extern "Python+C"): compiles and loads dtype's program on device */
int32_t cuda_py_module(int32_t device, int32_t dtype, void **module);
/* defined by cffi too: compiles and loads a generated kernel body (ABI 2.1's compile_program) */
int32_t cuda_py_source(int32_t device, const char *body, const char *name, void **module);
/* blas.c: cuBLAS's GEMM (DS_ERROR_NOT_IMPLEMENTED while cuBLAS is not loaded) */
ds_status cuda_blas_gemm(int32_t device, const dsg_gemm *gemm, void *stream);

/* A CUdevice is the device's ordinal (cuDeviceGet answers it back), so the attribute and name
 * queries below take the layer's device index as it is. */
static int v_device_count(int *n) { return cu.cuDeviceGetCount(n); }
static int v_device_setup(int device, void **handle) {
    CUdevice dev = 0;
    int r = cu.cuDeviceGet(&dev, device);
    return r ? r : cu.cuDevicePrimaryCtxRetain((CUcontext *)handle, dev);
}
static int v_make_current(int device, void *handle) { return cu.cuCtxSetCurrent(handle); }
static int v_limits(int device, dsg_limits *l) {
    /* CUdevice_attribute 1..8: threads per block, block x/y/z, grid x/y/z, shared bytes per block */
    int *out[8] = {&l->max_threads, &l->max_block[0], &l->max_block[1], &l->max_block[2],
                   &l->max_grid[0], &l->max_grid[1],  &l->max_grid[2],  &l->max_shared};
    int r = 0;
    for (int i = 0; i < 8 && r == 0; i++) r = cu.cuDeviceGetAttribute(out[i], i + 1, device);
    return r;
}
static int v_mem_alloc(dsg_mem *p, size_t n) { return cu.cuMemAlloc_v2((CUdeviceptr *)p, n); }
static int v_mem_free(dsg_mem p) { return cu.cuMemFree_v2(p); }
static int v_host_alloc(void **p, size_t n) { return cu.cuMemHostAlloc(p, n, 0); }
static int v_host_free(void *p) { return cu.cuMemFreeHost(p); }
static int v_copy_h2d(dsg_mem dst, const void *src, size_t n, void *s) {
    return cu.cuMemcpyHtoDAsync_v2(dst, src, n, s);
}
static int v_copy_d2h(void *dst, dsg_mem src, size_t n, void *s) { return cu.cuMemcpyDtoHAsync_v2(dst, src, n, s); }
static int v_copy_d2d(dsg_mem dst, dsg_mem src, size_t n, void *s) { return cu.cuMemcpyDtoDAsync_v2(dst, src, n, s); }
static int v_memset8(dsg_mem dst, unsigned char v, size_t n, void *s) { return cu.cuMemsetD8Async(dst, v, n, s); }
static int v_mem_get_info(size_t *f, size_t *t) { return cu.cuMemGetInfo_v2(f, t); }
static int v_address_range(dsg_mem *base, size_t *size, dsg_mem p) {
    return cu.cuMemGetAddressRange_v2((CUdeviceptr *)base, size, p);
}
static int v_module_load(void **m, const void *image) { return cu.cuModuleLoadData((CUmodule *)m, image); }
static int v_module_function(void **f, void *m, const char *name) {
    return cu.cuModuleGetFunction((CUfunction *)f, m, name);
}
static int v_module_unload(void *m) { return cu.cuModuleUnload(m); }
static int v_launch(void *f, const uint32_t *g, const uint32_t *b, uint32_t shared, void *s, void **params) {
    return cu.cuLaunchKernel(f, g[0], g[1], g[2], b[0], b[1], b[2], shared, s, params, NULL);
}
/* flags 0: ordered with the legacy NULL stream, which the core launches on */
static int v_stream_create(void **s) { return cu.cuStreamCreate((CUstream *)s, 0); }
static int v_stream_destroy(void *s) { return cu.cuStreamDestroy_v2(s); }
static int v_stream_synchronize(void *s) { return cu.cuStreamSynchronize(s); }
static int v_stream_query(void *s) { return cu.cuStreamQuery(s); }
static int v_stream_wait_event(void *s, void *e) { return cu.cuStreamWaitEvent(s, e, 0); }
static int v_device_synchronize(void) { return cu.cuCtxSynchronize(); }
static int v_event_create(void **e, int timing) {
    return cu.cuEventCreate((CUevent *)e, timing ? 0 : CU_EVENT_DISABLE_TIMING);
}
static int v_event_record(void *e, void *s) { return cu.cuEventRecord(e, s); }
static int v_event_synchronize(void *e) { return cu.cuEventSynchronize(e); }
static int v_event_query(void *e) { return cu.cuEventQuery(e); }
static int v_event_elapsed(float *ms, void *a, void *b) { return cu.cuEventElapsedTime(ms, a, b); }
static int v_event_destroy(void *e) { return cu.cuEventDestroy_v2(e); }
static int v_mem_alloc_async(dsg_mem *p, size_t n, void *s) { return cu.cuMemAllocAsync((CUdeviceptr *)p, n, s); }
static int v_mem_free_async(dsg_mem p, void *s) { return cu.cuMemFreeAsync(p, s); }
static const char *v_error_name(int r) {
    const char *s = NULL;
    return cu.cuGetErrorName && cu.cuGetErrorName(r, &s) == CUDA_SUCCESS ? s : NULL;
}
static const char *v_error_string(int r) {
    const char *s = NULL;
    return cu.cuGetErrorString && cu.cuGetErrorString(r, &s) == CUDA_SUCCESS ? s : NULL;
}

static const dsg_api vendor = {
#define V_FN(name, params) .name = v_##name,
    DSG_CALLS(V_FN)
#undef V_FN
    .names = {.device_count = "cuDeviceGetCount", .device_setup = "cuDeviceGet, cuDevicePrimaryCtxRetain",
              .make_current = "cuCtxSetCurrent", .limits = "cuDeviceGetAttribute", .mem_alloc = "cuMemAlloc_v2",
              .mem_free = "cuMemFree_v2", .host_alloc = "cuMemHostAlloc", .host_free = "cuMemFreeHost",
              .copy_h2d = "cuMemcpyHtoDAsync_v2", .copy_d2h = "cuMemcpyDtoHAsync_v2",
              .copy_d2d = "cuMemcpyDtoDAsync_v2", .memset8 = "cuMemsetD8Async", .mem_get_info = "cuMemGetInfo_v2",
              .address_range = "cuMemGetAddressRange_v2", .module_load = "cuModuleLoadData",
              .module_function = "cuModuleGetFunction", .module_unload = "cuModuleUnload",
              .launch = "cuLaunchKernel", .stream_create = "cuStreamCreate", .stream_destroy = "cuStreamDestroy_v2",
              .stream_synchronize = "cuStreamSynchronize", .stream_query = "cuStreamQuery",
              .stream_wait_event = "cuStreamWaitEvent", .device_synchronize = "cuCtxSynchronize",
              .event_create = "cuEventCreate", .event_record = "cuEventRecord",
              .event_synchronize = "cuEventSynchronize", .event_query = "cuEventQuery",
              .event_elapsed = "cuEventElapsedTime", .event_destroy = "cuEventDestroy_v2",
              .mem_alloc_async = "cuMemAllocAsync", .mem_free_async = "cuMemFreeAsync"},
    .error_name = v_error_name,
    .error_string = v_error_string,
    .device_type = "cuda",
    .product = "deepseek-cuda",
    .runtime = "driver",
    .out_of_memory = CUDA_ERROR_OUT_OF_MEMORY,
    .not_ready = CUDA_ERROR_NOT_READY,
    .not_found = CUDA_ERROR_NOT_FOUND,
    .gemm = cuda_blas_gemm,
};

int32_t cuda_open(const char *path) {
    pthread_mutex_lock(&open_lock);
    if (opened) {
        ds_status st = opened == 1 ? DS_OK : open_status;
        if (st != DS_OK) dsg_keep_error(open_message);
        pthread_mutex_unlock(&open_lock);
        return st;
    }
    const char *p = path && *path ? path : "libcuda.so.1";
    ds_status st = DS_OK;
    void *h = dlopen(p, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        st = dsg_fail(DS_ERROR_NOT_IMPLEMENTED, "no NVIDIA driver: %s not found (%s)", p, why ? why : "dlopen failed");
    }
#define CU_RESOLVE(name, params)                                                                                    \
    if (st == DS_OK && !(*(void **)&cu.name = dlsym(h, #name)))                                                     \
        st = dsg_fail(DS_ERROR, "the NVIDIA driver %s has no %s: it is older than this plugin needs (CUDA 11 or later)", \
                      p, #name);
    CU_FUNCTIONS(CU_RESOLVE)
#undef CU_RESOLVE
    if (st == DS_OK) {
        CUresult r = cu.cuInit(0);
        if (r != CUDA_SUCCESS) {
            /* the layer names statuses once started; before that, the same form by hand */
            const char *name = v_error_name(r), *text = v_error_string(r);
            if (name)
                st = dsg_fail(DS_ERROR, "the NVIDIA driver %s did not start (cuInit): %s: %s", p, name,
                              text ? text : "no description");
            else
                st = dsg_fail(DS_ERROR, "the NVIDIA driver %s did not start (cuInit): CUresult %d", p, r);
        } else {
            st = dsg_start(&vendor, cuda_py_module);
            if (st == DS_OK) dsg_set_source_loader(cuda_py_source);
        }
    }
    if (st == DS_OK) snprintf(driver_path, sizeof driver_path, "%s", p);
    if (st != DS_OK) {
        memset(&cu, 0, sizeof cu);
        if (h) dlclose(h);
        snprintf(open_message, sizeof open_message, "%s", dsg_error());
        open_status = st;
        opened = -1;
    } else {
        opened = 1;
    }
    pthread_mutex_unlock(&open_lock);
    return st;
}

const char *cuda_driver_path(void) { return opened == 1 ? driver_path : ""; }

int32_t cuda_driver_version(int32_t *version) {
    if (opened != 1) return dsg_fail(DS_ERROR, "the CUDA driver is not open");
    int v = 0;
    DSG_CALL(cu.cuDriverGetVersion(&v), NULL, "cuDriverGetVersion");
    *version = v;
    return DS_OK;
}

int32_t cuda_device_name(int32_t device, char *buf, int32_t n) {
    DSG_DEVICE(d, device);
    DSG_CALL(cu.cuDeviceGetName(buf, n, device), NULL, "cuDeviceGetName(cuda:%d)", device);
    return DS_OK;
}

int32_t cuda_device_attribute(int32_t device, int32_t attr, int32_t *out) {
    DSG_DEVICE(d, device);
    int v = 0;
    DSG_CALL(cu.cuDeviceGetAttribute(&v, attr, device), NULL, "cuDeviceGetAttribute(%d, cuda:%d)", attr, device);
    *out = v;
    return DS_OK;
}

int32_t cuda_total_mem(int32_t device, uint64_t *out) {
    DSG_DEVICE(d, device);
    size_t v = 0;
    DSG_CALL(cu.cuDeviceTotalMem_v2(&v, device), NULL, "cuDeviceTotalMem_v2(cuda:%d)", device);
    *out = v;
    return DS_OK;
}
