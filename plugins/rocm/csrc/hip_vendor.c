/* hip_vendor.c: the HIP runtime under the GPU host layer (deepseek/backends/gpu/csrc).
 *
 * The runtime (libamdhip64.so) is dlopened at run time, never linked: a machine without ROCm
 * still imports the plugin, and its probe says what is missing. This file resolves the hip*
 * functions, adapts them to the layer's vendor table (dsg_vendor.h: HIP's device pointers are
 * void *, the layer's dsg_mem; a device is made current with hipSetDevice) and answers the
 * device queries only HIP has (the gfx target).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsg_internal.h"
#include "hip_api.h"
#include "rocm.h"

static hip_api hip;
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static int opened; /* 0: not tried; 1: ok; -1: failed (open_status, open_message) */
static ds_status open_status;
static char open_message[2048];
static char runtime_path[1024];

/* defined by cffi (extern "Python+C"): compiles and loads dtype's program on device */
int32_t rocm_py_module(int32_t device, int32_t dtype, void **module);
/* defined by cffi too: compiles and loads a generated kernel body (ABI 2.1's compile_program) */
int32_t rocm_py_source(int32_t device, const char *body, const char *name, void **module);

#define P(x) ((void *)(uintptr_t)(x))

static int v_device_count(int *n) { return hip.hipGetDeviceCount(n); }
static int v_device_setup(int device, void **handle) {
    *handle = NULL; /* HIP keeps one context per device itself */
    return hipSuccess;
}
static int v_make_current(int device, void *handle) { return hip.hipSetDevice(device); }
static int v_limits(int device, dsg_limits *l) {
    int r = hip.hipDeviceGetAttribute(&l->max_threads, hipDeviceAttributeMaxThreadsPerBlock, device);
    for (int i = 0; i < 3 && r == hipSuccess; i++) {
        r = hip.hipDeviceGetAttribute(&l->max_block[i], hipDeviceAttributeMaxBlockDimX + i, device);
        if (r == hipSuccess) r = hip.hipDeviceGetAttribute(&l->max_grid[i], hipDeviceAttributeMaxGridDimX + i, device);
    }
    if (r == hipSuccess)
        r = hip.hipDeviceGetAttribute(&l->max_shared, hipDeviceAttributeMaxSharedMemoryPerBlock, device);
    return r;
}
static int v_mem_alloc(dsg_mem *ptr, size_t n) {
    void *p = NULL;
    int r = hip.hipMalloc(&p, n);
    *ptr = (dsg_mem)(uintptr_t)p;
    return r;
}
static int v_mem_free(dsg_mem p) { return hip.hipFree(P(p)); }
static int v_host_alloc(void **p, size_t n) { return hip.hipHostMalloc(p, n, hipHostMallocDefault); }
static int v_host_free(void *p) { return hip.hipHostFree(p); }
static int v_copy_h2d(dsg_mem dst, const void *src, size_t n, void *s) {
    return hip.hipMemcpyHtoDAsync(P(dst), (void *)src, n, s);
}
static int v_copy_d2h(void *dst, dsg_mem src, size_t n, void *s) { return hip.hipMemcpyDtoHAsync(dst, P(src), n, s); }
static int v_copy_d2d(dsg_mem dst, dsg_mem src, size_t n, void *s) {
    return hip.hipMemcpyDtoDAsync(P(dst), P(src), n, s);
}
static int v_memset8(dsg_mem dst, unsigned char v, size_t n, void *s) { return hip.hipMemsetD8Async(P(dst), v, n, s); }
static int v_mem_get_info(size_t *f, size_t *t) { return hip.hipMemGetInfo(f, t); }
static int v_address_range(dsg_mem *base, size_t *size, dsg_mem p) {
    void *b = NULL;
    int r = hip.hipMemGetAddressRange(&b, size, P(p));
    *base = (dsg_mem)(uintptr_t)b;
    return r;
}
static int v_module_load(void **m, const void *image) { return hip.hipModuleLoadData((hipModule_t *)m, image); }
static int v_module_function(void **f, void *m, const char *name) {
    return hip.hipModuleGetFunction((hipFunction_t *)f, m, name);
}
static int v_module_unload(void *m) { return hip.hipModuleUnload(m); }
static int v_launch(void *f, const uint32_t *g, const uint32_t *b, uint32_t shared, void *s, void **params) {
    return hip.hipModuleLaunchKernel(f, g[0], g[1], g[2], b[0], b[1], b[2], shared, s, params, NULL);
}
static int v_stream_create(void **s) { return hip.hipStreamCreateWithFlags((hipStream_t *)s, hipStreamDefault); }
static int v_stream_destroy(void *s) { return hip.hipStreamDestroy(s); }
static int v_stream_synchronize(void *s) { return hip.hipStreamSynchronize(s); }
static int v_stream_query(void *s) { return hip.hipStreamQuery(s); }
static int v_stream_wait_event(void *s, void *e) { return hip.hipStreamWaitEvent(s, e, 0); }
static int v_device_synchronize(void) { return hip.hipDeviceSynchronize(); }
static int v_event_create(void **e, int timing) {
    return hip.hipEventCreateWithFlags((hipEvent_t *)e, timing ? hipEventDefault : hipEventDisableTiming);
}
static int v_event_record(void *e, void *s) { return hip.hipEventRecord(e, s); }
static int v_event_synchronize(void *e) { return hip.hipEventSynchronize(e); }
static int v_event_query(void *e) { return hip.hipEventQuery(e); }
static int v_event_elapsed(float *ms, void *a, void *b) { return hip.hipEventElapsedTime(ms, a, b); }
static int v_event_destroy(void *e) { return hip.hipEventDestroy(e); }
static int v_mem_alloc_async(dsg_mem *ptr, size_t n, void *s) {
    void *p = NULL;
    int r = hip.hipMallocAsync(&p, n, s);
    *ptr = (dsg_mem)(uintptr_t)p;
    return r;
}
static int v_mem_free_async(dsg_mem p, void *s) { return hip.hipFreeAsync(P(p), s); }
static const char *v_error_name(int r) { return hip.hipGetErrorName ? hip.hipGetErrorName(r) : NULL; }
static const char *v_error_string(int r) { return hip.hipGetErrorString ? hip.hipGetErrorString(r) : NULL; }

static dsg_api vendor = {
#define V_FN(name, params) .name = v_##name,
    DSG_CALLS(V_FN)
#undef V_FN
    .names = {.device_count = "hipGetDeviceCount", .device_setup = "(device setup)", .make_current = "hipSetDevice",
              .limits = "hipDeviceGetAttribute", .mem_alloc = "hipMalloc", .mem_free = "hipFree",
              .host_alloc = "hipHostMalloc", .host_free = "hipHostFree", .copy_h2d = "hipMemcpyHtoDAsync",
              .copy_d2h = "hipMemcpyDtoHAsync", .copy_d2d = "hipMemcpyDtoDAsync", .memset8 = "hipMemsetD8Async",
              .mem_get_info = "hipMemGetInfo", .address_range = "hipMemGetAddressRange",
              .module_load = "hipModuleLoadData", .module_function = "hipModuleGetFunction",
              .module_unload = "hipModuleUnload", .launch = "hipModuleLaunchKernel",
              .stream_create = "hipStreamCreateWithFlags", .stream_destroy = "hipStreamDestroy",
              .stream_synchronize = "hipStreamSynchronize", .stream_query = "hipStreamQuery",
              .stream_wait_event = "hipStreamWaitEvent", .device_synchronize = "hipDeviceSynchronize",
              .event_create = "hipEventCreateWithFlags", .event_record = "hipEventRecord",
              .event_synchronize = "hipEventSynchronize", .event_query = "hipEventQuery",
              .event_elapsed = "hipEventElapsedTime", .event_destroy = "hipEventDestroy",
              .mem_alloc_async = "hipMallocAsync", .mem_free_async = "hipFreeAsync"},
    .error_name = v_error_name,
    .error_string = v_error_string,
    .device_type = "rocm",
    .product = "deepseek-rocm",
    .out_of_memory = hipErrorOutOfMemory,
    .not_ready = hipErrorNotReady,
    .not_found = hipErrorNotFound,
};

/* rocblas.c's GEMM, once rocBLAS is loaded (before the table is registered). */
void rocm_set_gemm(ds_status (*gemm)(int32_t, const dsg_gemm *, void *)) { vendor.gemm = gemm; }

/* "hipErrorX: description" of r, for messages before the layer has started. */
static void describe(hipError_t r, char *out, size_t n) {
    const char *name = v_error_name(r), *text = v_error_string(r);
    if (!name) name = "hipError?";
    if (!text || !strcmp(text, name)) /* some HIP builds describe an error by its name */
        snprintf(out, n, "%s", name);
    else
        snprintf(out, n, "%s: %s", name, text);
}

static ds_status open_library(const char *const *candidates, int32_t n, void **handle) {
    char tried[1536] = "";
    size_t at = 0;
    for (int32_t i = 0; i < n; i++) {
        void *h = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (h) {
            struct link_map *map = NULL;
            if (dlinfo(h, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && *map->l_name)
                snprintf(runtime_path, sizeof runtime_path, "%s", map->l_name);
            else
                snprintf(runtime_path, sizeof runtime_path, "%s", candidates[i]);
            *handle = h;
            return DS_OK;
        }
        const char *why = dlerror();
        if (at < sizeof tried)
            at += snprintf(tried + at, sizeof tried - at, "%s%s (%s)", i ? "; " : "", candidates[i],
                           why ? why : "dlopen failed");
    }
    return dsg_fail(DS_ERROR_NOT_IMPLEMENTED, "no ROCm runtime: %s", n ? tried : "nothing to try");
}

int32_t rocm_open(const char *const *candidates, int32_t n) {
    pthread_mutex_lock(&open_lock);
    if (opened) {
        ds_status st = opened == 1 ? DS_OK : open_status;
        if (st != DS_OK) dsg_keep_error(open_message);
        pthread_mutex_unlock(&open_lock);
        return st;
    }
    void *h = NULL;
    ds_status st = open_library(candidates, n, &h);
#define HIP_RESOLVE(name, params)                                                                          \
    if (st == DS_OK && !(*(void **)&hip.name = dlsym(h, #name)))                                           \
        st = dsg_fail(DS_ERROR, "the ROCm runtime %s has no %s: it is older than this plugin needs (ROCm 5 or later)", \
                      runtime_path, #name);
    HIP_FUNCTIONS(HIP_RESOLVE)
#undef HIP_RESOLVE
    if (st == DS_OK) {
#define HIP_OPTIONAL_RESOLVE(name, params) *(void **)&hip.name = dlsym(h, #name);
        HIP_OPTIONAL(HIP_OPTIONAL_RESOLVE)
#undef HIP_OPTIONAL_RESOLVE
        *(void **)&hip.hipGetErrorName = dlsym(h, "hipGetErrorName");
        *(void **)&hip.hipGetErrorString = dlsym(h, "hipGetErrorString");
        if (!hip.hipMallocAsync || !hip.hipFreeAsync) vendor.mem_alloc_async = NULL, vendor.mem_free_async = NULL;
        int version = 0, count = 0;
        hip.hipRuntimeGetVersion(&version);
        hipError_t r = hip.hipInit(0);
        if (r == hipSuccess) r = hip.hipGetDeviceCount(&count);
        char why[512];
        describe(r, why, sizeof why);
        if (r == hipErrorNoDevice || r == hipErrorInvalidDevice || (r == hipSuccess && count == 0))
            st = dsg_fail(DS_ERROR, "no AMD GPU: the ROCm runtime %s (HIP %d.%d) sees no device (%s)", runtime_path,
                          version / 10000000, version / 100000 % 100, r == hipSuccess ? "hipGetDeviceCount: 0" : why);
        else if (r != hipSuccess)
            st = dsg_fail(DS_ERROR, "the ROCm runtime %s did not start (hipInit: %s)", runtime_path, why);
        else
            st = dsg_start(&vendor, rocm_py_module);
        if (st == DS_OK) dsg_set_source_loader(rocm_py_source);
    }
    if (st != DS_OK) {
        memset(&hip, 0, sizeof hip);
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

const char *rocm_runtime_path(void) { return opened == 1 ? runtime_path : ""; }

int32_t rocm_runtime_version(int32_t *version) {
    if (opened != 1) return dsg_fail(DS_ERROR, "the ROCm runtime is not open");
    int v = 0;
    DSG_CALL(hip.hipRuntimeGetVersion(&v), NULL, "hipRuntimeGetVersion");
    *version = v;
    return DS_OK;
}

int32_t rocm_device_name(int32_t device, char *buf, int32_t n) {
    DSG_DEVICE(d, device);
    DSG_CALL(hip.hipDeviceGetName(buf, n, device), NULL, "hipDeviceGetName(rocm:%d)", device);
    return DS_OK;
}

int32_t rocm_device_attribute(int32_t device, int32_t attr, int32_t *out) {
    DSG_DEVICE(d, device);
    int v = 0;
    DSG_CALL(hip.hipDeviceGetAttribute(&v, attr, device), NULL, "hipDeviceGetAttribute(%d, rocm:%d)", attr, device);
    *out = v;
    return DS_OK;
}

int32_t rocm_total_mem(int32_t device, uint64_t *out) {
    DSG_DEVICE(d, device);
    size_t v = 0;
    DSG_CALL(hip.hipDeviceTotalMem(&v, device), NULL, "hipDeviceTotalMem(rocm:%d)", device);
    *out = v;
    return DS_OK;
}

/* The gfx target from hipGetDeviceProperties. The struct's layout differs between ROCm
 * releases (ROCm 6 added the R0600 layout), so rather than declare one, the properties land in
 * a buffer larger than any layout and the target is found by its form: a string field
 * ("gfx" + hex digits, maybe ":feature+-" suffixes) after the 256-byte name. */
int32_t rocm_device_arch(int32_t device, char *buf, int32_t n) {
    DSG_DEVICE(d, device);
    hipError_t (*props)(void *, int) = hip.hipGetDevicePropertiesR0600 ? hip.hipGetDevicePropertiesR0600
                                                                       : hip.hipGetDeviceProperties;
    if (!props) return dsg_fail(DS_ERROR, "the ROCm runtime %s has no hipGetDeviceProperties", runtime_path);
    enum { SIZE = 16384 };
    unsigned char *p = calloc(1, SIZE);
    if (!p) return dsg_fail(DS_ERROR_OUT_OF_MEMORY, "out of host memory");
    hipError_t r = props(p, device);
    if (r != hipSuccess) {
        free(p);
        return dsg_fail_call(r, NULL, "hipGetDeviceProperties(rocm:%d)", device);
    }
    for (size_t i = 256; i + 4 < SIZE - 64; i++) {
        if (memcmp(p + i, "gfx", 3) || !isxdigit(p[i + 3]) || isalnum(p[i - 1]) || p[i - 1] == '_') continue;
        size_t len = strnlen((const char *)p + i, 64);
        if (len == 64) continue;
        snprintf(buf, n, "%s", (const char *)p + i);
        free(p);
        return DS_OK;
    }
    free(p);
    return dsg_fail(DS_ERROR, "rocm:%d's properties name no gfx target", device);
}
