/* fake_hip.c: a stand-in for libamdhip64.so that deepseek-rocm's tests build with the system C
 * compiler (tests/rocm_helpers.py) and point DEEPSEEK_ROCM_RUNTIME at.
 *
 * It exports the hip* functions the plugin resolves, with HIP's signatures, over the fake core
 * every vendor's fake shares (deepseek/backends/gpu/fake/fake_gpu.c). Device memory is host
 * memory (a device pointer is the host address of its block), so copies and memsets really
 * move bytes; work runs at once, in call order. Launches are recorded, not run: the
 * function, grid, block, stream and the bytes of every kernel parameter, sized by the kernel's
 * argument list in the code object's AMDGPU metadata (a msgpack note, as hipRTC writes it).
 * It is strict where HIP is: calls before hipInit, bad device ordinals, freed or foreign
 * pointers, copies past a block's end and launches past the device's limits fail with HIP's
 * codes.
 *
 * Environment (read on every call, so a test may change it between calls):
 *   FAKE_HIP_LOG      file every call is appended to, one line each: "name key=value ... -> code"
 *   FAKE_HIP_FAIL     "name:code[@n],..." makes `name` return `code` (on its n-th call after the
 *                     variable last changed, or on every call without @n)
 *   FAKE_HIP_DEVICES  device count (1); FAKE_HIP_ARCH gfx target ("gfx90a:sramecc+:xnack-");
 *   FAKE_HIP_MEM      bytes of memory per device (1 GiB)
 */
#define _GNU_SOURCE
#define FG_ENV "FAKE_HIP_"
#include "fake_gpu.c" /* deepseek/backends/gpu/fake: memory blocks, the log, injections */

typedef int hipError_t;

enum { OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, NOT_INITIALIZED = 3, NO_DEVICE = 100, INVALID_DEVICE = 101,
       INVALID_IMAGE = 200, INVALID_HANDLE = 400, NOT_FOUND = 500, NOT_READY = 600, ILLEGAL_ADDRESS = 700,
       LAUNCH_FAILURE = 719 };

#define MAX_DEVICES 16

typedef struct stream { int id, device; } stream;
typedef struct event { int recorded, timing; double t; } event;

static int initialised;
static __thread int current;
static int next_stream = 1;

static const struct { int code; const char *name, *text; } ERRORS[] = {
    {OK, "hipSuccess", "no error"},
    {INVALID_VALUE, "hipErrorInvalidValue", "invalid argument"},
    {OUT_OF_MEMORY, "hipErrorOutOfMemory", "out of memory"},
    {NOT_INITIALIZED, "hipErrorNotInitialized", "initialization error"},
    {NO_DEVICE, "hipErrorNoDevice", "no ROCm-capable device is detected"},
    {INVALID_DEVICE, "hipErrorInvalidDevice", "invalid device ordinal"},
    {INVALID_IMAGE, "hipErrorInvalidImage", "device kernel image is invalid"},
    {209, "hipErrorNoBinaryForGpu", "no kernel image is available for execution on the device"},
    {INVALID_HANDLE, "hipErrorInvalidHandle", "invalid resource handle"},
    {NOT_FOUND, "hipErrorNotFound", "named symbol not found"},
    {NOT_READY, "hipErrorNotReady", "device not ready"},
    {ILLEGAL_ADDRESS, "hipErrorIllegalAddress", "an illegal memory access was encountered"},
    {701, "hipErrorLaunchOutOfResources", "too many resources requested for launch"},
    {LAUNCH_FAILURE, "hipErrorLaunchFailure", "unspecified launch failure"},
    {999, "hipErrorUnknown", "unknown error"},
};

static int n_devices(void) { return (int)fg_env_number(FG_GETENV("DEVICES"), 1); }
static size_t mem_per_device(void) { return (size_t)fg_env_number(FG_GETENV("MEM"), 1LL << 30); }

/* Every entry: the lock, an injected status, then HIP's precondition (hipInit first). */
#define ENTER(name)                  \
    fg_lock();                       \
    int rc = fg_injected(name);      \
    if (!rc && !initialised && strcmp(name, "hipInit")) rc = NOT_INITIALIZED;
#define LEAVE(fmt, ...)                                       \
    fg_log("%s " fmt " -> %d", __func__, ##__VA_ARGS__, rc); \
    fg_unlock();                                              \
    return rc;

static int device_alloc(void **out, size_t n) {
    return fg_alloc(out, n, current, 0, mem_per_device()) ? OUT_OF_MEMORY : OK;
}

static int stream_id(void *s) { return s ? ((stream *)s)->id : 0; }
static int valid_device(int d) { return d >= 0 && d < n_devices() && d < MAX_DEVICES; }

hipError_t hipInit(unsigned int flags) {
    ENTER("hipInit");
    if (!rc && flags) rc = INVALID_VALUE;
    if (!rc) initialised = 1;
    LEAVE("flags=%u", flags);
}

/* Answers before hipInit, as HIP's does; not logged. */
hipError_t hipRuntimeGetVersion(int *v) {
    *v = 60032830; /* HIP 6.0 */
    return OK;
}

hipError_t hipGetDeviceCount(int *count) {
    ENTER("hipGetDeviceCount");
    if (!rc && n_devices() == 0) rc = NO_DEVICE;
    if (!rc) *count = n_devices();
    LEAVE("count=%d", rc ? -1 : *count);
}

hipError_t hipDeviceGet(int *dev, int ordinal) {
    ENTER("hipDeviceGet");
    if (!rc && !valid_device(ordinal)) rc = INVALID_DEVICE;
    if (!rc) *dev = ordinal;
    LEAVE("ordinal=%d", ordinal);
}

hipError_t hipDeviceGetName(char *name, int len, int dev) {
    ENTER("hipDeviceGetName");
    if (!rc && !valid_device(dev)) rc = INVALID_DEVICE;
    if (!rc) snprintf(name, len, "Fake AMD GPU %d (deepseek tests)", dev);
    LEAVE("device=%d", dev);
}

hipError_t hipDeviceGetAttribute(int *out, int attr, int dev) {
    ENTER("hipDeviceGetAttribute");
    int v;
    switch (attr) {
    case 16: v = 0; break;                               /* integrated */
    case 19: v = 8 << 20; break;                         /* L2 cache */
    case 26: case 27: case 28: v = 1024; break;          /* max block x, y, z */
    case 29: v = 2147483647; break;                      /* max grid x */
    case 30: case 31: v = 65536; break;                  /* max grid y, z */
    case 56: v = 1024; break;                            /* threads per block */
    case 57: v = 2048; break;                            /* threads per multiprocessor */
    case 63: v = 110; break;                             /* multiprocessors (compute units) */
    case 74: v = 65536; break;                           /* shared memory per block */
    case 87: v = 64; break;                              /* warp (wavefront) size */
    default: v = 0; rc = rc ? rc : INVALID_VALUE;        /* an attribute the plugin should not ask */
    }
    if (!rc && !valid_device(dev)) rc = INVALID_DEVICE;
    if (!rc) *out = v;
    LEAVE("attribute=%d device=%d value=%d", attr, dev, rc ? -1 : v);
}

hipError_t hipDeviceTotalMem(size_t *bytes, int dev) {
    ENTER("hipDeviceTotalMem");
    if (!rc && !valid_device(dev)) rc = INVALID_DEVICE;
    if (!rc) *bytes = mem_per_device();
    LEAVE("device=%d", dev);
}

/* The fields of hipDeviceProp_t (ROCm 5 layout) the plugin reads: name and gcnArchName. */
hipError_t hipGetDeviceProperties(void *prop, int dev) {
    ENTER("hipGetDeviceProperties");
    if (!rc && !valid_device(dev)) rc = INVALID_DEVICE;
    if (!rc) {
        const char *arch = FG_GETENV("ARCH");
        memset(prop, 0, 792);
        snprintf(prop, 256, "Fake AMD GPU %d (deepseek tests)", dev);
        size_t total = mem_per_device();
        memcpy((char *)prop + 256, &total, sizeof total);
        snprintf((char *)prop + 396, 256, "%s", arch ? arch : "gfx90a:sramecc+:xnack-");
    }
    LEAVE("device=%d", dev);
}

hipError_t hipSetDevice(int dev) {
    ENTER("hipSetDevice");
    if (!rc && !valid_device(dev)) rc = INVALID_DEVICE;
    if (!rc) current = dev;
    LEAVE("device=%d", dev);
}

hipError_t hipDeviceSynchronize(void) {
    ENTER("hipDeviceSynchronize");
    LEAVE("device=%d", current);
}

hipError_t hipMalloc(void **out, size_t n) {
    ENTER("hipMalloc");
    void *p = NULL;
    if (!rc && n) rc = device_alloc(&p, n);
    if (!rc) *out = p;
    LEAVE("device=%d bytes=%zu ptr=%p", current, n, p);
}

hipError_t hipFree(void *p) {
    ENTER("hipFree");
    if (!rc && p && fg_release(p, 0)) rc = INVALID_VALUE;
    LEAVE("ptr=%p", p);
}

/* Stream-ordered allocations: work runs at once here, so they are plain ones. */
hipError_t hipMallocAsync(void **out, size_t n, void *s) {
    ENTER("hipMallocAsync");
    void *p = NULL;
    if (!rc && n) rc = device_alloc(&p, n);
    if (!rc) *out = p;
    LEAVE("device=%d bytes=%zu ptr=%p stream=%d", current, n, p, stream_id(s));
}

hipError_t hipFreeAsync(void *p, void *s) {
    ENTER("hipFreeAsync");
    if (!rc && p && fg_release(p, 0)) rc = INVALID_VALUE;
    LEAVE("ptr=%p stream=%d", p, stream_id(s));
}

hipError_t hipHostMalloc(void **out, size_t n, unsigned int flags) {
    ENTER("hipHostMalloc");
    void *p = NULL;
    if (!rc && n == 0) rc = INVALID_VALUE;
    if (!rc) rc = fg_alloc(&p, n, current, 1, 0) ? OUT_OF_MEMORY : OK;
    if (!rc) *out = p;
    LEAVE("bytes=%zu flags=%u ptr=%p", n, flags, p);
}

hipError_t hipHostFree(void *p) {
    ENTER("hipHostFree");
    if (!rc && fg_release(p, 1)) rc = INVALID_VALUE;
    LEAVE("ptr=%p", p);
}

hipError_t hipMemcpyHtoDAsync(void *dst, void *src, size_t n, void *s) {
    ENTER("hipMemcpyHtoDAsync");
    int pinned = fg_find(src, n, 1) != NULL;
    if (!rc && !fg_find(dst, n, 0)) rc = INVALID_VALUE;
    if (!rc) memcpy(dst, src, n);
    LEAVE("dst=%p src=%p bytes=%zu pinned=%d stream=%d", dst, src, n, pinned, stream_id(s));
}

hipError_t hipMemcpyDtoHAsync(void *dst, void *src, size_t n, void *s) {
    ENTER("hipMemcpyDtoHAsync");
    int pinned = fg_find(dst, n, 1) != NULL;
    if (!rc && !fg_find(src, n, 0)) rc = INVALID_VALUE;
    if (!rc) memcpy(dst, src, n);
    LEAVE("dst=%p src=%p bytes=%zu pinned=%d stream=%d", dst, src, n, pinned, stream_id(s));
}

hipError_t hipMemcpyDtoDAsync(void *dst, void *src, size_t n, void *s) {
    ENTER("hipMemcpyDtoDAsync");
    if (!rc && (!fg_find(dst, n, 0) || !fg_find(src, n, 0))) rc = INVALID_VALUE;
    if (!rc) memmove(dst, src, n);
    LEAVE("dst=%p src=%p bytes=%zu stream=%d", dst, src, n, stream_id(s));
}

hipError_t hipMemsetD8Async(void *dst, unsigned char value, size_t n, void *s) {
    ENTER("hipMemsetD8Async");
    if (!rc && !fg_find(dst, n, 0)) rc = INVALID_VALUE;
    if (!rc) memset(dst, value, n);
    LEAVE("dst=%p value=%u bytes=%zu stream=%d", dst, value, n, stream_id(s));
}

hipError_t hipMemGetInfo(size_t *free_bytes, size_t *total) {
    ENTER("hipMemGetInfo");
    if (!rc) *total = mem_per_device(), *free_bytes = mem_per_device() - fg_used(current);
    LEAVE("device=%d", current);
}

hipError_t hipMemGetAddressRange(void **base, size_t *size, void *p) {
    ENTER("hipMemGetAddressRange");
    fg_block *b = rc ? NULL : fg_find(p, 1, 0);
    if (!rc && !b) rc = NOT_FOUND;
    if (!rc) *base = b->base, *size = b->size;
    LEAVE("ptr=%p size=%zu", p, b ? b->size : 0);
}

#include "code_object.c" /* module, kernel, read_code_object */

hipError_t hipModuleLoadData(void **out, const void *image) {
    ENTER("hipModuleLoadData");
    module *m = rc ? NULL : calloc(1, sizeof *m);
    if (!rc && (!image || !read_code_object(image, m))) rc = INVALID_IMAGE, free(m), m = NULL;
    if (!rc) *out = m;
    LEAVE("kernels=%d module=%p", m ? m->nkernels : -1, (void *)m);
}

hipError_t hipModuleGetFunction(void **function, void *mod, const char *name) {
    ENTER("hipModuleGetFunction");
    module *m = mod;
    kernel *k = NULL;
    if (!rc && !m) rc = INVALID_HANDLE;
    for (int i = 0; !rc && i < m->nkernels && !k; i++)
        if (!strcmp(m->kernels[i].name, name)) k = &m->kernels[i];
    if (!rc && !k) rc = NOT_FOUND;
    if (!rc) *function = k;
    LEAVE("name=%s nparams=%d", name, k ? k->nparams : -1);
}

hipError_t hipModuleUnload(void *mod) {
    ENTER("hipModuleUnload");
    if (!rc && !mod) rc = INVALID_HANDLE;
    if (!rc) free(mod);
    LEAVE("module=%p", mod);
}

hipError_t hipModuleLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                 unsigned bz, unsigned shared, void *s, void **params, void **extra) {
    ENTER("hipModuleLaunchKernel");
    kernel *k = function;
    if (!rc && !k) rc = INVALID_HANDLE;
    if (!rc && (!bx || !by || !bz || (uint64_t)bx * by * bz > 1024 || bx > 1024 || by > 1024 || bz > 1024))
        rc = INVALID_VALUE;
    if (!rc && (!gx || !gy || !gz || gx > 2147483647u || gy > 65536 || gz > 65536 || shared > 65536))
        rc = INVALID_VALUE;
    if (!rc && (extra || !params)) rc = INVALID_VALUE; /* the plugin passes kernelParams only */
    static char args[16384];
    size_t at = 0;
    args[0] = 0;
    for (int i = 0; !rc && i < k->nparams && at < sizeof args - 80; i++) {
        if (i) args[at++] = '|';
        const unsigned char *b = params[i];
        for (int j = 0; b && j < k->sizes[i] && at < sizeof args - 4; j++) at += sprintf(args + at, "%02x", b[j]);
        args[at] = 0;
    }
    LEAVE("name=%s grid=%u,%u,%u block=%u,%u,%u shared=%u stream=%d device=%d nparams=%d params=%s",
          k ? k->name : "?", gx, gy, gz, bx, by, bz, shared, stream_id(s), current, k ? k->nparams : -1, args);
}

hipError_t hipStreamCreateWithFlags(void **out, unsigned int flags) {
    ENTER("hipStreamCreateWithFlags");
    stream *s = NULL;
    if (!rc) s = calloc(1, sizeof *s), s->id = next_stream++, s->device = current, *out = s;
    LEAVE("flags=%u stream=%d", flags, s ? s->id : -1);
}

hipError_t hipStreamDestroy(void *s) {
    ENTER("hipStreamDestroy");
    int id = s ? stream_id(s) : -1;
    if (!rc && !s) rc = INVALID_HANDLE;
    if (!rc) free(s);
    LEAVE("stream=%d", id);
}

hipError_t hipStreamSynchronize(void *s) {
    ENTER("hipStreamSynchronize");
    LEAVE("stream=%d", stream_id(s));
}

hipError_t hipStreamQuery(void *s) {
    ENTER("hipStreamQuery");
    LEAVE("stream=%d", stream_id(s));
}

hipError_t hipStreamWaitEvent(void *s, void *e, unsigned int flags) {
    ENTER("hipStreamWaitEvent");
    if (!rc && (!e || flags)) rc = !e ? INVALID_HANDLE : INVALID_VALUE;
    LEAVE("stream=%d event=%p", stream_id(s), e);
}

hipError_t hipEventCreateWithFlags(void **out, unsigned int flags) {
    ENTER("hipEventCreateWithFlags");
    event *e = NULL;
    if (!rc) e = calloc(1, sizeof *e), e->timing = !(flags & 2), *out = e;
    LEAVE("flags=%u event=%p", flags, (void *)e);
}

hipError_t hipEventRecord(void *ev, void *s) {
    ENTER("hipEventRecord");
    event *e = ev;
    if (!rc && !e) rc = INVALID_HANDLE;
    if (!rc) e->recorded = 1, e->t = fg_clock_ms();
    LEAVE("event=%p stream=%d", ev, stream_id(s));
}

hipError_t hipEventSynchronize(void *e) {
    ENTER("hipEventSynchronize");
    if (!rc && !e) rc = INVALID_HANDLE;
    LEAVE("event=%p", e);
}

hipError_t hipEventQuery(void *e) {
    ENTER("hipEventQuery");
    if (!rc && !e) rc = INVALID_HANDLE;
    LEAVE("event=%p", e);
}

hipError_t hipEventElapsedTime(float *ms, void *start, void *end) {
    ENTER("hipEventElapsedTime");
    event *a = start, *b = end;
    if (!rc && (!a || !b || !a->recorded || !b->recorded || !a->timing || !b->timing)) rc = INVALID_HANDLE;
    if (!rc) *ms = (float)(b->t - a->t);
    LEAVE("start=%p end=%p", start, end);
}

hipError_t hipEventDestroy(void *e) {
    ENTER("hipEventDestroy");
    if (!rc && !e) rc = INVALID_HANDLE;
    if (!rc) free(e);
    LEAVE("event=%p", e);
}

/* As HIP's, these two answer without hipInit and are not logged. */
const char *hipGetErrorName(hipError_t error) {
    for (size_t i = 0; i < sizeof ERRORS / sizeof *ERRORS; i++)
        if (ERRORS[i].code == error) return ERRORS[i].name;
    return "hipErrorUnknown";
}

const char *hipGetErrorString(hipError_t error) {
    for (size_t i = 0; i < sizeof ERRORS / sizeof *ERRORS; i++)
        if (ERRORS[i].code == error) return ERRORS[i].text;
    return "unknown error";
}
