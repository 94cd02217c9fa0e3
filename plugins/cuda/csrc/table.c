/* table.c: the plugin's ds_backend_table over the CUDA driver API.
 *
 * The driver is dlopened at run time (cuda_open), never linked: a machine without it still
 * imports the plugin, and its probe says why. Each device gets its primary context, made
 * current on the calling thread by every entry, and two pinned staging buffers for host
 * copies (double-buffered: one is filled or drained by the CPU while the other is in flight).
 * The NULL stream is the device's legacy default stream, which orders work on every other
 * stream created with flags 0, so copies and launches keep the order the core issues them in.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cu_api.h"
#include "deepseek_backend.h"
#include "plugin.h"

cu_api cu;

#define DEFAULT_STAGING (4u << 20)

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static int opened;           /* 0: not tried; 1: ok; -1: failed (open_status, open_message) */
static ds_status open_status;
static char open_message[2048];
static char driver_path[512];
static int n_devices;
static cu_device *devices;
static uint64_t staging_bytes = DEFAULT_STAGING;
static int32_t *declared_ops;
static int64_t n_declared;
static ds_backend_table table;

static __thread char error_buf[2048];

const char *cuda_error(void) { return error_buf; }
void cuda_keep_error(const char *message) { snprintf(error_buf, sizeof error_buf, "%s", message ? message : ""); }
const char *cuda_driver_path(void) { return opened == 1 ? driver_path : ""; }

ds_status fail(ds_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    va_end(ap);
    return st;
}

/* "CUDA_ERROR_X: description" of a CUresult, as the driver names it. */
static void describe(CUresult r, char *out, size_t n) {
    const char *name = NULL, *text = NULL;
    if (cu.cuGetErrorName) cu.cuGetErrorName(r, &name);
    if (cu.cuGetErrorString) cu.cuGetErrorString(r, &text);
    if (name)
        snprintf(out, n, "%s: %s", name, text ? text : "no description");
    else
        snprintf(out, n, "CUresult %d (unknown to this driver)", r);
}

/* The ds_status of a failed driver call, with "what: CUDA_ERROR_X: description" kept for
 * last_error. Out of memory is the one status the core acts on (free its cache, retry). A
 * sync point also names the device's last launch: a kernel fault surfaces there. */
ds_status fail_cu(CUresult r, const cu_device *d, const char *fmt, ...) {
    char what[512], why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    describe(r, why, sizeof why);
    if (d)
        snprintf(error_buf, sizeof error_buf, "%s: %s (the last op launched on this device: %s)", what, why,
                 d->last_launch[0] ? d->last_launch : "none yet");
    else
        snprintf(error_buf, sizeof error_buf, "%s: %s", what, why);
    return r == CUDA_ERROR_OUT_OF_MEMORY ? DS_ERROR_OUT_OF_MEMORY : DS_ERROR;
}


static void release_at_exit(void) { cuda_release_staging(); }

int32_t cuda_open(const char *path) {
    pthread_mutex_lock(&open_lock);
    if (opened) {
        ds_status st = opened == 1 ? DS_OK : open_status;
        if (st != DS_OK) snprintf(error_buf, sizeof error_buf, "%s", open_message);
        pthread_mutex_unlock(&open_lock);
        return st;
    }
    const char *p = path && *path ? path : "libcuda.so.1";
    ds_status st = DS_OK;
    void *h = dlopen(p, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        st = fail(DS_ERROR_NOT_IMPLEMENTED, "no NVIDIA driver: %s not found (%s)", p, why ? why : "dlopen failed");
    }
#define CU_RESOLVE(name, params)                                                                        \
    if (st == DS_OK && !(*(void **)&cu.name = dlsym(h, #name)))                                         \
        st = fail(DS_ERROR, "the NVIDIA driver %s has no %s: it is older than this plugin needs (CUDA 11 or later)", p, #name);
    CU_FUNCTIONS(CU_RESOLVE)
#undef CU_RESOLVE
    if (st == DS_OK) {
        CUresult r = cu.cuInit(0);
        int count = 0;
        if (r == CUDA_SUCCESS) r = cu.cuDeviceGetCount(&count);
        if (r != CUDA_SUCCESS)
            st = fail_cu(r, NULL, "the NVIDIA driver %s did not start (cuInit)", p);
        else if (!(devices = calloc(count > 0 ? count : 1, sizeof *devices)))
            st = fail(DS_ERROR_OUT_OF_MEMORY, "out of host memory");
        else {
            n_devices = count;
            for (int i = 0; i < count; i++) {
                pthread_mutex_init(&devices[i].lock, NULL);
                pthread_mutex_init(&devices[i].program_lock, NULL);
            }
            snprintf(driver_path, sizeof driver_path, "%s", p);
            atexit(release_at_exit);
        }
    }
    if (st != DS_OK) {
        memset(&cu, 0, sizeof cu);
        if (h) dlclose(h);
        snprintf(open_message, sizeof open_message, "%s", error_buf);
        open_status = st;
        opened = -1;
    } else {
        opened = 1;
    }
    pthread_mutex_unlock(&open_lock);
    return st;
}

void cuda_set_staging_bytes(uint64_t nbytes) { staging_bytes = nbytes ? nbytes : DEFAULT_STAGING; }
uint64_t cuda_staging_bytes(void) { return staging_bytes; }

/* Device `device`, its context current on this thread; NULL with the error kept. */
cu_device *device_of(int32_t device, ds_status *st) {
    if (opened != 1) {
        *st = fail(DS_ERROR, "the CUDA driver is not open");
        return NULL;
    }
    if (device < 0 || device >= n_devices) {
        *st = fail(DS_ERROR_INVALID_ARGUMENT, "cuda device %d does not exist; the driver sees %d", device, n_devices);
        return NULL;
    }
    cu_device *d = &devices[device];
    CUresult r = CUDA_SUCCESS;
    if (!__atomic_load_n(&d->ready, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&open_lock);
        if (!d->ready) {
            int a[10];
            static const int attrs[10] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 0}; /* threads, block x/y/z, grid x/y/z, shared */
            r = cu.cuDeviceGet(&d->dev, device);
            if (r == CUDA_SUCCESS) r = cu.cuDevicePrimaryCtxRetain(&d->ctx, d->dev);
            for (int i = 0; i < 8 && r == CUDA_SUCCESS; i++) r = cu.cuDeviceGetAttribute(&a[i], attrs[i], d->dev);
            if (r == CUDA_SUCCESS) {
                d->max_threads = a[0];
                for (int i = 0; i < 3; i++) d->max_block[i] = a[1 + i], d->max_grid[i] = a[4 + i];
                d->max_shared = a[7];
                __atomic_store_n(&d->ready, 1, __ATOMIC_RELEASE);
            }
        }
        pthread_mutex_unlock(&open_lock);
        if (r != CUDA_SUCCESS) {
            *st = fail_cu(r, NULL, "setting up cuda:%d (cuDeviceGet, cuDevicePrimaryCtxRetain)", device);
            return NULL;
        }
    }
    r = cu.cuCtxSetCurrent(d->ctx);
    if (r != CUDA_SUCCESS) {
        *st = fail_cu(r, NULL, "cuCtxSetCurrent(cuda:%d)", device);
        return NULL;
    }
    return d;
}


void cuda_set_ops(const int32_t *ops, int64_t n_ops) {
    free(declared_ops);
    declared_ops = NULL;
    n_declared = 0;
    if (n_ops > 0 && (declared_ops = malloc(n_ops * sizeof *declared_ops))) {
        memcpy(declared_ops, ops, n_ops * sizeof *declared_ops);
        n_declared = n_ops;
    }
    table.n_ops = n_declared;
    table.ops = declared_ops;
}

int32_t cuda_device_count(int32_t *count) {
    if (opened != 1) return fail(DS_ERROR, "the CUDA driver is not open");
    *count = n_devices;
    return DS_OK;
}

static ds_status t_device_count(int32_t *count) { return cuda_device_count(count); }

static ds_status t_alloc(int32_t device, uint64_t nbytes, void **ptr) {
    DEVICE(d, device);
    *ptr = NULL;
    if (nbytes == 0) return DS_OK; /* the driver refuses empty allocations; NULL stands for one */
    CUdeviceptr p = 0;
    CU_CHECK(cu.cuMemAlloc_v2(&p, nbytes), NULL, "cuMemAlloc_v2(%llu bytes) on cuda:%d", (unsigned long long)nbytes,
             device);
    *ptr = (void *)(uintptr_t)p;
    return DS_OK;
}

static ds_status t_free(int32_t device, void *ptr) {
    DEVICE(d, device);
    if (ptr) CU_CHECK(cu.cuMemFree_v2((CUdeviceptr)(uintptr_t)ptr), NULL, "cuMemFree_v2 on cuda:%d", device);
    return DS_OK;
}

/* Both staging buffers of `d` (first use); the caller holds d->lock. */
static ds_status staging_ready(cu_device *d, int32_t device) {
    for (int b = 0; b < 2; b++) {
        if (!d->staging[b])
            CU_CHECK(cu.cuMemHostAlloc(&d->staging[b], staging_bytes, 0), NULL,
                     "cuMemHostAlloc(%llu bytes) for cuda:%d's staging", (unsigned long long)staging_bytes, device);
        if (!d->staged[b])
            CU_CHECK(cu.cuEventCreate(&d->staged[b], 2 /* CU_EVENT_DISABLE_TIMING */), NULL, "cuEventCreate on cuda:%d",
                     device);
    }
    return DS_OK;
}

/* Waits until buffer b's last copy is done, so the CPU may touch it. */
static ds_status staging_wait(cu_device *d, int b, int32_t device) {
    if (d->pending[b]) {
        CU_CHECK(cu.cuEventSynchronize(d->staged[b]), d, "cuEventSynchronize (a copy through cuda:%d's staging)", device);
        d->pending[b] = 0;
    }
    return DS_OK;
}

/* Host to device: each chunk goes to a pinned buffer, then an async copy on the stream. It
 * returns once the host memory is read (the ABI's rule); the last chunks may still be in
 * flight, and the staging events keep the buffers from being reused too early. */
static ds_status t_memcpy_h2d(int32_t device, void *dst, uint64_t dst_offset, const void *src, uint64_t nbytes,
                              void *stream) {
    DEVICE(d, device);
    ds_status st = DS_OK;
    pthread_mutex_lock(&d->lock);
    if ((st = staging_ready(d, device)) != DS_OK) goto out;
    CUdeviceptr base = (CUdeviceptr)(uintptr_t)dst + dst_offset;
    for (uint64_t off = 0; off < nbytes; off += staging_bytes) {
        int b = d->next_buffer; /* alternating across calls too: a small copy rarely waits */
        d->next_buffer ^= 1;
        uint64_t n = nbytes - off < staging_bytes ? nbytes - off : staging_bytes;
        if ((st = staging_wait(d, b, device)) != DS_OK) goto out;
        memcpy(d->staging[b], (const char *)src + off, n);
        CUresult r = cu.cuMemcpyHtoDAsync_v2(base + off, d->staging[b], n, (CUstream)stream);
        if (r == CUDA_SUCCESS) r = cu.cuEventRecord(d->staged[b], (CUstream)stream);
        if (r != CUDA_SUCCESS) {
            st = fail_cu(r, NULL, "cuMemcpyHtoDAsync_v2(%llu bytes at offset %llu) on cuda:%d", (unsigned long long)n,
                         (unsigned long long)(dst_offset + off), device);
            goto out;
        }
        d->pending[b] = 1;
    }
out:
    pthread_mutex_unlock(&d->lock);
    return st;
}

/* Device to host: chunk i+1's copy is in flight while the CPU drains chunk i. Returns with
 * every byte in `dst`, which makes it a sync point of the stream (so kernel faults show here). */
static ds_status t_memcpy_d2h(int32_t device, void *dst, const void *src, uint64_t src_offset, uint64_t nbytes,
                              void *stream) {
    DEVICE(d, device);
    ds_status st = DS_OK;
    pthread_mutex_lock(&d->lock);
    if ((st = staging_ready(d, device)) != DS_OK) goto out;
    CUdeviceptr base = (CUdeviceptr)(uintptr_t)src + src_offset;
    uint64_t prev_off = 0, prev_n = 0;
    int prev = -1;
    for (uint64_t off = 0, i = 0;; off += staging_bytes, i++) {
        int b = (int)(i & 1);
        uint64_t n = 0;
        if (off < nbytes) {
            n = nbytes - off < staging_bytes ? nbytes - off : staging_bytes;
            if ((st = staging_wait(d, b, device)) != DS_OK) goto out;
            CUresult r = cu.cuMemcpyDtoHAsync_v2(d->staging[b], base + off, n, (CUstream)stream);
            if (r == CUDA_SUCCESS) r = cu.cuEventRecord(d->staged[b], (CUstream)stream);
            if (r != CUDA_SUCCESS) {
                st = fail_cu(r, d, "cuMemcpyDtoHAsync_v2(%llu bytes at offset %llu) on cuda:%d", (unsigned long long)n,
                             (unsigned long long)(src_offset + off), device);
                goto out;
            }
            d->pending[b] = 1;
        }
        if (prev >= 0) {
            if ((st = staging_wait(d, prev, device)) != DS_OK) goto out;
            memcpy((char *)dst + prev_off, d->staging[prev], prev_n);
        }
        if (off >= nbytes) break;
        prev = b, prev_off = off, prev_n = n;
    }
out:
    pthread_mutex_unlock(&d->lock);
    return st;
}

static ds_status t_memcpy_d2d(int32_t device, void *dst, uint64_t dst_offset, const void *src, uint64_t src_offset,
                              uint64_t nbytes, void *stream) {
    DEVICE(d, device);
    if (nbytes)
        CU_CHECK(cu.cuMemcpyDtoDAsync_v2((CUdeviceptr)(uintptr_t)dst + dst_offset,
                                         (CUdeviceptr)(uintptr_t)src + src_offset, nbytes, (CUstream)stream),
                 NULL, "cuMemcpyDtoDAsync_v2(%llu bytes) on cuda:%d", (unsigned long long)nbytes, device);
    return DS_OK;
}

static ds_status t_synchronize(int32_t device) {
    DEVICE(d, device);
    CU_CHECK(cu.cuCtxSynchronize(), d, "cuCtxSynchronize(cuda:%d)", device);
    return DS_OK;
}

static ds_status t_stream_create(int32_t device, void **stream) {
    DEVICE(d, device);
    CUstream s = NULL;
    CU_CHECK(cu.cuStreamCreate(&s, 0), NULL, "cuStreamCreate on cuda:%d", device);
    *stream = s;
    return DS_OK;
}

static ds_status t_stream_destroy(int32_t device, void *stream) {
    DEVICE(d, device);
    if (!stream) return fail(DS_ERROR_INVALID_ARGUMENT, "stream_destroy: the default stream (NULL) is not destroyed");
    CU_CHECK(cu.cuStreamDestroy_v2((CUstream)stream), NULL, "cuStreamDestroy_v2 on cuda:%d", device);
    return DS_OK;
}

static ds_status t_launch(int32_t device, const ds_op *op, const ds_tensor_desc *tensors, int32_t n_tensors,
                          void *stream) {
    DEVICE(d, device);
    return cuda_plan_launch(d, device, op, tensors, n_tensors, stream);
}

static const char *t_last_error(void) { return error_buf; }

void *cuda_table(void) {
    table.struct_size = sizeof table;
    table.abi_major = DS_BACKEND_ABI_MAJOR;
    table.abi_minor = DS_BACKEND_ABI_MINOR;
    table.name = "cuda";
    table.n_ops = n_declared;
    table.ops = declared_ops;
    table.device_count = t_device_count;
    table.alloc = t_alloc;
    table.free = t_free;
    table.memcpy_h2d = t_memcpy_h2d;
    table.memcpy_d2h = t_memcpy_d2h;
    table.memcpy_d2d = t_memcpy_d2d;
    table.synchronize = t_synchronize;
    table.stream_create = t_stream_create;
    table.stream_destroy = t_stream_destroy;
    table.launch = t_launch;
    table.last_error = t_last_error;
    return &table;
}

int32_t cuda_release_staging(void) {
    ds_status st = DS_OK;
    if (opened != 1) return DS_OK;
    for (int i = 0; i < n_devices; i++) {
        cu_device *d = &devices[i];
        if (!d->ready) continue;
        pthread_mutex_lock(&d->lock);
        if (cu.cuCtxSetCurrent(d->ctx) == CUDA_SUCCESS) {
            for (int b = 0; b < 2; b++) {
                if (d->pending[b]) cu.cuEventSynchronize(d->staged[b]);
                d->pending[b] = 0;
                if (d->staging[b] && cu.cuMemFreeHost(d->staging[b]) != CUDA_SUCCESS) st = DS_ERROR;
                if (d->staged[b] && cu.cuEventDestroy_v2(d->staged[b]) != CUDA_SUCCESS) st = DS_ERROR;
                d->staging[b] = NULL;
                d->staged[b] = NULL;
            }
        }
        pthread_mutex_unlock(&d->lock);
    }
    return st;
}
