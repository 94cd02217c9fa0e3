/* fake_cuda.c: a stand-in for libcuda.so.1 that the plugin's tests build with the system C
 * compiler (tests/conftest.py) and point DEEPSEEK_CUDA_DRIVER at.
 *
 * It exports the cu* functions deepseek-cuda resolves, with the driver API's signatures, over
 * the fake core every vendor's fake shares (deepseek/backends/gpu/fake/fake_gpu.c: memory
 * blocks, the call log, failure injection). Device memory is host memory (a device pointer is the host address of its block), so copies
 * and memsets really move bytes; work runs at once, in call order. Launches are recorded, not
 * run. It is strict where the real driver is: calls before cuInit, without a current context,
 * on freed or foreign pointers, copies past a block's end, and launches past the device's
 * grid or block limits all fail with the driver's codes.
 *
 * Environment (read on every call, so a test may change it between calls):
 *   FAKE_CUDA_LOG      file every call is appended to, one line each: "name key=value ... -> code"
 *   FAKE_CUDA_FAIL     "name:code[@n],..." makes `name` return `code` (on its n-th call after the
 *                      variable last changed, or on every call without @n)
 *   FAKE_CUDA_DEVICES  device count (1); FAKE_CUDA_CC compute capability ("8.0");
 *   FAKE_CUDA_MEM      bytes of memory per device (1 GiB)
 *   FAKE_CUDA_HOST_KERNELS  a folder of host builds of kernel programs (host_kernels.py), named
 *                      by the FNV-1a hash of their PTX: a module loaded from that PTX runs its
 *                      launches on the CPU, for real
 * A launch logs the function's name (from cuModuleGetFunction), grid, block, shared bytes,
 * stream and its parameters: the bytes of each kernelParams entry, sized by the .param list of
 * the function's .entry when the module was loaded from PTX, else only the count.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#define FG_ENV "FAKE_CUDA_"
#include "fake_gpu.c" /* deepseek/backends/gpu/fake: memory blocks, the log, injections */

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

enum { OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, NOT_INITIALIZED = 3, INVALID_DEVICE = 101,
       INVALID_IMAGE = 200, INVALID_CONTEXT = 201, INVALID_HANDLE = 400, NOT_FOUND = 500,
       ILLEGAL_ADDRESS = 700, LAUNCH_FAILED = 719 };

#define MAX_PARAMS 64
typedef struct fake_ctx { int device; } fake_ctx;
typedef struct fake_stream { int id; } fake_stream;
typedef struct fake_event { int recorded; double t; } fake_event;
typedef void (*host_launch)(const unsigned *grid, const unsigned *block, void **params);
typedef struct fake_func { char name[128]; int nparams; int sizes[MAX_PARAMS]; host_launch host; } fake_func;
typedef struct fake_module { const char *ptx; int nfuncs; fake_func *funcs[64]; void *host; } fake_module;

static int initialised;
static fake_ctx contexts[16];
static __thread fake_ctx *current;
static int next_stream = 1;

static const struct { int code; const char *name, *text; } ERRORS[] = {
    {OK, "CUDA_SUCCESS", "no error"},
    {INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {35, "CUDA_ERROR_INSUFFICIENT_DRIVER", "CUDA driver version is insufficient for CUDA runtime version"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {209, "CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device"},
    {INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {600, "CUDA_ERROR_NOT_READY", "device not ready"},
    {801, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

static int n_devices(void) { return (int)fg_env_number(FG_GETENV("DEVICES"), 1); }
static size_t mem_per_device(void) { return (size_t)fg_env_number(FG_GETENV("MEM"), 1LL << 30); }

/* The common head of every entry: the lock, an injected code, then the driver's preconditions. */
#define ENTER(name, need_ctx)                                                    \
    fg_lock();                                                                   \
    int rc = fg_injected(name);                                                  \
    if (!rc && !initialised && strcmp(name, "cuInit")) rc = NOT_INITIALIZED;     \
    if (!rc && (need_ctx) && !current) rc = INVALID_CONTEXT;
#define LEAVE(fmt, ...)                                       \
    fg_log("%s " fmt " -> %d", __func__, ##__VA_ARGS__, rc); \
    fg_unlock();                                              \
    return rc;

/* A block of device memory on the current device (within its budget), or pinned host memory. */
static int alloc_block(void **out, size_t n, int pinned) {
    return fg_alloc(out, n, current->device, pinned, mem_per_device()) ? OUT_OF_MEMORY : OK;
}
static int free_block(void *p, int pinned) { return fg_release(p, pinned) ? INVALID_VALUE : OK; }

static int stream_id(void *s) { return s ? ((fake_stream *)s)->id : 0; }

CUresult cuInit(unsigned int flags) {
    ENTER("cuInit", 0);
    if (!rc && flags) rc = INVALID_VALUE;
    if (!rc) initialised = 1;
    LEAVE("flags=%u", flags);
}

CUresult cuDriverGetVersion(int *version) {
    ENTER("cuDriverGetVersion", 0);
    if (!rc) *version = 12090;
    LEAVE("version=%d", rc ? -1 : *version);
}

CUresult cuDeviceGetCount(int *count) {
    ENTER("cuDeviceGetCount", 0);
    if (!rc) *count = n_devices();
    LEAVE("count=%d", rc ? -1 : *count);
}

CUresult cuDeviceGet(CUdevice *dev, int ordinal) {
    ENTER("cuDeviceGet", 0);
    if (!rc && (ordinal < 0 || ordinal >= n_devices() || ordinal >= 16)) rc = INVALID_DEVICE;
    if (!rc) *dev = ordinal;
    LEAVE("ordinal=%d", ordinal);
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
    ENTER("cuDeviceGetName", 0);
    if (!rc && (dev < 0 || dev >= n_devices())) rc = INVALID_DEVICE;
    if (!rc) snprintf(name, len, "Fake NVIDIA GPU %d (deepseek tests)", dev);
    LEAVE("device=%d", dev);
}

CUresult cuDeviceGetAttribute(int *out, int attr, CUdevice dev) {
    ENTER("cuDeviceGetAttribute", 0);
    const char *cc = getenv("FAKE_CUDA_CC");
    int major = 8, minor = 0;
    if (cc && *cc) sscanf(cc, "%d.%d", &major, &minor);
    int v;
    switch (attr) {
    case 1: v = 1024; break;                              /* max threads per block */
    case 2: case 3: v = 1024; break;                      /* max block x, y */
    case 4: v = 64; break;                                /* max block z */
    case 5: v = 2147483647; break;                        /* max grid x */
    case 6: case 7: v = 65535; break;                     /* max grid y, z */
    case 8: v = 49152; break;                             /* shared memory per block */
    case 10: v = 32; break;                               /* warp size */
    case 16: v = 108; break;                              /* multiprocessors */
    case 75: v = major; break;
    case 76: v = minor; break;
    default: v = 0;
    }
    if (!rc && (dev < 0 || dev >= n_devices())) rc = INVALID_DEVICE;
    if (!rc) *out = v;
    LEAVE("attribute=%d device=%d value=%d", attr, dev, rc ? -1 : v);
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) {
    ENTER("cuDeviceTotalMem_v2", 0);
    if (!rc && (dev < 0 || dev >= n_devices())) rc = INVALID_DEVICE;
    if (!rc) *bytes = mem_per_device();
    LEAVE("device=%d", dev);
}

CUresult cuDevicePrimaryCtxRetain(void **ctx, CUdevice dev) {
    ENTER("cuDevicePrimaryCtxRetain", 0);
    if (!rc && (dev < 0 || dev >= n_devices() || dev >= 16)) rc = INVALID_DEVICE;
    if (!rc) contexts[dev].device = dev, *ctx = &contexts[dev];
    LEAVE("device=%d", dev);
}

CUresult cuCtxSetCurrent(void *ctx) {
    ENTER("cuCtxSetCurrent", 0);
    if (!rc) current = ctx;
    LEAVE("context=%d", ctx ? ((fake_ctx *)ctx)->device : -1);
}

CUresult cuCtxSynchronize(void) {
    ENTER("cuCtxSynchronize", 1);
    LEAVE("device=%d", current ? current->device : -1);
}

CUresult cuMemAlloc_v2(CUdeviceptr *out, size_t n) {
    ENTER("cuMemAlloc_v2", 1);
    void *p = NULL;
    if (!rc && n == 0) rc = INVALID_VALUE;
    if (!rc) rc = alloc_block(&p, n, 0);
    if (!rc) *out = (CUdeviceptr)(uintptr_t)p;
    LEAVE("bytes=%zu ptr=%p", n, p);
}

CUresult cuMemFree_v2(CUdeviceptr p) {
    ENTER("cuMemFree_v2", 1);
    if (!rc) rc = free_block((void *)(uintptr_t)p, 0);
    LEAVE("ptr=%p", (void *)(uintptr_t)p);
}

CUresult cuMemGetAddressRange_v2(CUdeviceptr *base, size_t *size, CUdeviceptr p) {
    ENTER("cuMemGetAddressRange_v2", 1);
    fg_block *b = rc ? NULL : fg_find((void *)(uintptr_t)p, 1, 0);
    if (!rc && !b) rc = NOT_FOUND;
    if (!rc) {
        if (base) *base = (CUdeviceptr)(uintptr_t)b->base;
        if (size) *size = b->size;
    }
    LEAVE("ptr=%p size=%zu", (void *)(uintptr_t)p, b ? b->size : 0);
}

/* Stream-ordered allocations: work runs at once here, so they are plain ones. */
CUresult cuMemAllocAsync(CUdeviceptr *out, size_t n, void *stream) {
    ENTER("cuMemAllocAsync", 1);
    void *p = NULL;
    if (!rc && n == 0) rc = INVALID_VALUE;
    if (!rc) rc = alloc_block(&p, n, 0);
    if (!rc) *out = (CUdeviceptr)(uintptr_t)p;
    LEAVE("bytes=%zu ptr=%p stream=%d", n, p, stream_id(stream));
}

CUresult cuMemFreeAsync(CUdeviceptr p, void *stream) {
    ENTER("cuMemFreeAsync", 1);
    if (!rc) rc = free_block((void *)(uintptr_t)p, 0);
    LEAVE("ptr=%p stream=%d", (void *)(uintptr_t)p, stream_id(stream));
}

CUresult cuMemHostAlloc(void **out, size_t n, unsigned int flags) {
    ENTER("cuMemHostAlloc", 1);
    void *p = NULL;
    if (!rc && n == 0) rc = INVALID_VALUE;
    if (!rc) rc = alloc_block(&p, n, 1);
    if (!rc) *out = p;
    LEAVE("bytes=%zu flags=%u ptr=%p", n, flags, p);
}

CUresult cuMemFreeHost(void *p) {
    ENTER("cuMemFreeHost", 1);
    if (!rc) rc = free_block(p, 1);
    LEAVE("ptr=%p", p);
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *stream) {
    ENTER("cuMemcpyHtoDAsync_v2", 1);
    fg_block *d = rc ? NULL : fg_find((void *)(uintptr_t)dst, n, 0);
    int pinned = fg_find(src, n, 1) != NULL;
    if (!rc && !d) rc = INVALID_VALUE;
    if (!rc) memcpy((void *)(uintptr_t)dst, src, n);
    LEAVE("dst=%p src=%p bytes=%zu pinned=%d stream=%d", (void *)(uintptr_t)dst, src, n, pinned, stream_id(stream));
}

CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, void *stream) {
    ENTER("cuMemcpyDtoHAsync_v2", 1);
    fg_block *s = rc ? NULL : fg_find((void *)(uintptr_t)src, n, 0);
    int pinned = fg_find(dst, n, 1) != NULL;
    if (!rc && !s) rc = INVALID_VALUE;
    if (!rc) memcpy(dst, (void *)(uintptr_t)src, n);
    LEAVE("dst=%p src=%p bytes=%zu pinned=%d stream=%d", dst, (void *)(uintptr_t)src, n, pinned, stream_id(stream));
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void *stream) {
    ENTER("cuMemcpyDtoDAsync_v2", 1);
    if (!rc && (!fg_find((void *)(uintptr_t)dst, n, 0) || !fg_find((void *)(uintptr_t)src, n, 0))) rc = INVALID_VALUE;
    if (!rc) memmove((void *)(uintptr_t)dst, (void *)(uintptr_t)src, n);
    LEAVE("dst=%p src=%p bytes=%zu stream=%d", (void *)(uintptr_t)dst, (void *)(uintptr_t)src, n, stream_id(stream));
}

CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t n, void *stream) {
    ENTER("cuMemsetD8Async", 1);
    if (!rc && !fg_find((void *)(uintptr_t)dst, n, 0)) rc = INVALID_VALUE;
    if (!rc) memset((void *)(uintptr_t)dst, value, n);
    LEAVE("dst=%p value=%u bytes=%zu stream=%d", (void *)(uintptr_t)dst, value, n, stream_id(stream));
}

CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total) {
    ENTER("cuMemGetInfo_v2", 1);
    if (!rc) *total = mem_per_device(), *free_bytes = mem_per_device() - fg_used(current->device);
    LEAVE("device=%d", current ? current->device : -1);
}

/* The .param sizes of `name`'s .entry in PTX text, or -1 when not found. */
static int ptx_params(const char *ptx, const char *name, int *sizes) {
    char head[160];
    snprintf(head, sizeof head, ".entry %s(", name);
    const char *p = strstr(ptx, head);
    if (!p) return -1;
    p += strlen(head);
    const char *end = strchr(p, ')');
    int n = 0;
    while (p && end && p < end && n < MAX_PARAMS) {
        const char *q = strstr(p, ".param");
        if (!q || q > end) break;
        q += 6;
        int size = 0, align = 0, count = 0;
        char ty[16] = {0};
        if (sscanf(q, " .align %d .b8 %*[^[][%d]", &align, &count) == 2) size = count;
        else if (sscanf(q, " .%15[a-z0-9]", ty) == 1) size = atoi(ty + 1) / 8; /* .u64, .f32, .s32, .b16... */
        sizes[n++] = size;
        p = q;
    }
    return n;
}

/* The host build of a PTX module, if FAKE_CUDA_HOST_KERNELS has one. */
static void *host_module(const char *ptx) {
    const char *dir = getenv("FAKE_CUDA_HOST_KERNELS");
    if (!dir || !*dir) return NULL;
    unsigned long long h = 0xcbf29ce484222325ull;
    for (const unsigned char *c = (const unsigned char *)ptx; *c; c++) h = (h ^ *c) * 0x100000001b3ull;
    char path[1200];
    snprintf(path, sizeof path, "%s/%016llx.so", dir, h);
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

CUresult cuModuleLoadData(void **module, const void *image) {
    ENTER("cuModuleLoadData", 1);
    const char *text = image;
    int is_ptx = !rc && image && strstr(text, ".version") && strstr(text, ".target");
    int is_elf = !rc && image && !memcmp(image, "\x7f" "ELF", 4);
    if (!rc && !is_ptx && !is_elf) rc = INVALID_IMAGE;
    fake_module *m = NULL;
    if (!rc) {
        m = calloc(1, sizeof *m);
        m->ptx = is_ptx ? strdup(text) : NULL;
        m->host = is_ptx ? host_module(text) : NULL;
        *module = m;
    }
    unsigned flags = 0; /* a cubin's e_flags hold its SM in the low byte */
    if (is_elf) memcpy(&flags, (const char *)image + 48, 4);
    LEAVE("kind=%s arch=%u module=%p host=%d", is_ptx ? "ptx" : is_elf ? "cubin" : "invalid", flags & 0xff, (void *)m,
          m && m->host);
}

CUresult cuModuleGetFunction(void **function, void *module, const char *name) {
    ENTER("cuModuleGetFunction", 1);
    fake_module *m = module;
    fake_func *f = NULL;
    if (!rc && (!m || m->nfuncs >= 64)) rc = INVALID_HANDLE;
    if (!rc) {
        f = calloc(1, sizeof *f);
        snprintf(f->name, sizeof f->name, "%s", name);
        f->nparams = m->ptx ? ptx_params(m->ptx, name, f->sizes) : -2;
        if (m->host) {
            char sym[160];
            snprintf(sym, sizeof sym, "ds_launch_%s", name);
            *(void **)&f->host = dlsym(m->host, sym);
        }
        if (f->nparams == -1 || (m->host && !f->host)) rc = NOT_FOUND, free(f), f = NULL;
        else m->funcs[m->nfuncs++] = f, *function = f;
    }
    LEAVE("name=%s", name);
}

CUresult cuModuleUnload(void *module) {
    ENTER("cuModuleUnload", 1);
    fake_module *m = module;
    if (!rc && !m) rc = INVALID_HANDLE;
    if (!rc) {
        for (int i = 0; i < m->nfuncs; i++) free(m->funcs[i]);
        if (m->host) dlclose(m->host);
        free((void *)m->ptx);
        free(m);
    }
    LEAVE("module=%p", module);
}

CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void *stream, void **params, void **extra) {
    ENTER("cuLaunchKernel", 1);
    fake_func *f = function;
    if (!rc && !f) rc = INVALID_HANDLE;
    if (!rc && (bx * by * bz > 1024 || bx > 1024 || by > 1024 || bz > 64 || !bx || !by || !bz)) rc = INVALID_VALUE;
    if (!rc && (!gx || !gy || !gz || gx > 2147483647u || gy > 65535 || gz > 65535 || shared > 49152)) rc = INVALID_VALUE;
    if (!rc && extra) rc = INVALID_VALUE; /* the plugin passes kernelParams only */
    char args[8192] = "";
    size_t at = 0;
    if (!rc && f->nparams >= 0) {
        for (int i = 0; i < f->nparams && at < sizeof args - 80; i++) {
            if (i) args[at++] = '|';
            const unsigned char *b = params ? params[i] : NULL;
            for (int k = 0; b && k < f->sizes[i] && at < sizeof args - 4; k++) at += sprintf(args + at, "%02x", b[k]);
        }
    }
    int ran = 0;
    if (!rc && f->host) { /* run on the CPU (work is in call order: the stream is respected) */
        unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
        f->host(grid, block, params);
        ran = 1;
    }
    LEAVE("name=%s grid=%u,%u,%u block=%u,%u,%u shared=%u stream=%d nparams=%d ran=%d params=%s", f ? f->name : "?", gx,
          gy, gz, bx, by, bz, shared, stream_id(stream), f ? f->nparams : -1, ran, args);
}

CUresult cuStreamCreate(void **stream, unsigned int flags) {
    ENTER("cuStreamCreate", 1);
    fake_stream *s = NULL;
    if (!rc) s = calloc(1, sizeof *s), s->id = next_stream++, *stream = s;
    LEAVE("flags=%u stream=%d", flags, s ? s->id : -1);
}

CUresult cuStreamDestroy_v2(void *stream) {
    ENTER("cuStreamDestroy_v2", 1);
    int id = stream ? stream_id(stream) : -1;
    if (!rc && !stream) rc = INVALID_HANDLE;
    if (!rc) free(stream);
    LEAVE("stream=%d", id);
}

CUresult cuStreamSynchronize(void *stream) {
    ENTER("cuStreamSynchronize", 1);
    LEAVE("stream=%d", stream_id(stream));
}

CUresult cuStreamQuery(void *stream) {
    ENTER("cuStreamQuery", 1);
    LEAVE("stream=%d", stream_id(stream));
}

CUresult cuStreamWaitEvent(void *stream, void *event, unsigned int flags) {
    ENTER("cuStreamWaitEvent", 1);
    if (!rc && (!event || flags)) rc = !event ? INVALID_HANDLE : INVALID_VALUE;
    LEAVE("stream=%d event=%p", stream_id(stream), event);
}

CUresult cuEventCreate(void **event, unsigned int flags) {
    ENTER("cuEventCreate", 1);
    fake_event *e = NULL;
    if (!rc) e = calloc(1, sizeof *e), *event = e;
    LEAVE("flags=%u event=%p", flags, (void *)e);
}

CUresult cuEventRecord(void *event, void *stream) {
    ENTER("cuEventRecord", 1);
    fake_event *e = event;
    if (!rc && !e) rc = INVALID_HANDLE;
    if (!rc) e->recorded = 1, e->t = fg_clock_ms();
    LEAVE("event=%p stream=%d", event, stream_id(stream));
}

CUresult cuEventSynchronize(void *event) {
    ENTER("cuEventSynchronize", 1);
    if (!rc && !event) rc = INVALID_HANDLE;
    LEAVE("event=%p", event);
}

CUresult cuEventQuery(void *event) {
    ENTER("cuEventQuery", 1);
    if (!rc && !event) rc = INVALID_HANDLE;
    LEAVE("event=%p", event);
}

CUresult cuEventElapsedTime(float *ms, void *start, void *end) {
    ENTER("cuEventElapsedTime", 1);
    fake_event *a = start, *b = end;
    if (!rc && (!a || !b || !a->recorded || !b->recorded)) rc = INVALID_HANDLE;
    if (!rc) *ms = (float)(b->t - a->t);
    LEAVE("start=%p end=%p", start, end);
}

CUresult cuEventDestroy_v2(void *event) {
    ENTER("cuEventDestroy_v2", 1);
    if (!rc && !event) rc = INVALID_HANDLE;
    if (!rc) free(event);
    LEAVE("event=%p", event);
}

/* Like the real driver, these two answer without cuInit and are not logged. */
CUresult cuGetErrorName(CUresult error, const char **out) {
    for (size_t i = 0; i < sizeof ERRORS / sizeof *ERRORS; i++)
        if (ERRORS[i].code == error) return *out = ERRORS[i].name, OK;
    *out = NULL;
    return INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult error, const char **out) {
    for (size_t i = 0; i < sizeof ERRORS / sizeof *ERRORS; i++)
        if (ERRORS[i].code == error) return *out = ERRORS[i].text, OK;
    *out = NULL;
    return INVALID_VALUE;
}
