/* driver.c: device facts, modules, launches and events, for the Python side (api.h) and the
 * launch path. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "plugin.h"

int32_t cuda_driver_version(int32_t *version) {
    int v = 0;
    CU_CHECK(cu.cuDriverGetVersion(&v), NULL, "cuDriverGetVersion");
    *version = v;
    return DS_OK;
}

int32_t cuda_device_name(int32_t device, char *buf, int32_t n) {
    DEVICE(d, device);
    CU_CHECK(cu.cuDeviceGetName(buf, n, d->dev), NULL, "cuDeviceGetName(cuda:%d)", device);
    return DS_OK;
}

int32_t cuda_device_attribute(int32_t device, int32_t attr, int32_t *out) {
    DEVICE(d, device);
    int v = 0;
    CU_CHECK(cu.cuDeviceGetAttribute(&v, attr, d->dev), NULL, "cuDeviceGetAttribute(%d, cuda:%d)", attr, device);
    *out = v;
    return DS_OK;
}

int32_t cuda_total_mem(int32_t device, uint64_t *out) {
    DEVICE(d, device);
    size_t v = 0;
    CU_CHECK(cu.cuDeviceTotalMem_v2(&v, d->dev), NULL, "cuDeviceTotalMem_v2(cuda:%d)", device);
    *out = v;
    return DS_OK;
}

int32_t cuda_mem_get_info(int32_t device, uint64_t *free_bytes, uint64_t *total_bytes) {
    DEVICE(d, device);
    size_t f = 0, t = 0;
    CU_CHECK(cu.cuMemGetInfo_v2(&f, &t), NULL, "cuMemGetInfo_v2(cuda:%d)", device);
    *free_bytes = f;
    *total_bytes = t;
    return DS_OK;
}

int32_t cuda_memset(int32_t device, void *ptr, uint64_t offset, uint8_t value, uint64_t nbytes, void *stream) {
    DEVICE(d, device);
    if (nbytes)
        CU_CHECK(cu.cuMemsetD8Async((CUdeviceptr)(uintptr_t)ptr + offset, value, nbytes, (CUstream)stream), NULL,
                 "cuMemsetD8Async(%llu bytes) on cuda:%d", (unsigned long long)nbytes, device);
    return DS_OK;
}

int32_t cuda_stream_synchronize(int32_t device, void *stream) {
    DEVICE(d, device);
    CU_CHECK(cu.cuStreamSynchronize((CUstream)stream), d, "cuStreamSynchronize on cuda:%d", device);
    return DS_OK;
}

int32_t cuda_stream_query(int32_t device, void *stream, int32_t *idle) {
    DEVICE(d, device);
    CUresult r = cu.cuStreamQuery((CUstream)stream);
    if (r != CUDA_SUCCESS && r != CUDA_ERROR_NOT_READY) return fail_cu(r, d, "cuStreamQuery on cuda:%d", device);
    *idle = r == CUDA_SUCCESS;
    return DS_OK;
}

int32_t cuda_stream_wait_event(int32_t device, void *stream, void *event) {
    DEVICE(d, device);
    CU_CHECK(cu.cuStreamWaitEvent((CUstream)stream, (CUevent)event, 0), NULL, "cuStreamWaitEvent on cuda:%d", device);
    return DS_OK;
}

int32_t cuda_module_load(int32_t device, const void *image, void **module) {
    DEVICE(d, device);
    CUmodule m = NULL;
    CU_CHECK(cu.cuModuleLoadData(&m, image), NULL, "cuModuleLoadData on cuda:%d", device);
    *module = m;
    return DS_OK;
}

int32_t cuda_module_function(int32_t device, void *module, const char *name, void **function) {
    DEVICE(d, device);
    CUfunction f = NULL;
    CU_CHECK(cu.cuModuleGetFunction(&f, (CUmodule)module, name), NULL, "cuModuleGetFunction(%s) on cuda:%d", name,
             device);
    *function = f;
    return DS_OK;
}

int32_t cuda_module_unload(int32_t device, void *module) {
    DEVICE(d, device);
    CU_CHECK(cu.cuModuleUnload((CUmodule)module), NULL, "cuModuleUnload on cuda:%d", device);
    return DS_OK;
}

ds_status cuda_launch_on(cu_device *d, int32_t device, CUfunction f, const char *label, const uint32_t *grid,
                         const uint32_t *block, uint32_t shared_bytes, CUstream stream, void **params) {
    const char *what = label && *label ? label : "a kernel";
    uint64_t threads = (uint64_t)block[0] * block[1] * block[2];
    for (int i = 0; i < 3; i++) {
        if (grid[i] < 1 || grid[i] > (uint32_t)d->max_grid[i] || block[i] < 1 || block[i] > (uint32_t)d->max_block[i])
            return fail(DS_ERROR_INVALID_ARGUMENT,
                        "%s: grid (%u, %u, %u) x block (%u, %u, %u) is outside cuda:%d's limits (grid <= (%d, %d, %d), "
                        "block <= (%d, %d, %d))",
                        what, grid[0], grid[1], grid[2], block[0], block[1], block[2], device, d->max_grid[0],
                        d->max_grid[1], d->max_grid[2], d->max_block[0], d->max_block[1], d->max_block[2]);
    }
    if (threads > (uint64_t)d->max_threads || shared_bytes > (uint32_t)d->max_shared)
        return fail(DS_ERROR_INVALID_ARGUMENT, "%s: %llu threads and %u shared bytes per block exceed cuda:%d's %d and %d",
                    what, (unsigned long long)threads, shared_bytes, device, d->max_threads, d->max_shared);
    snprintf(d->last_launch, sizeof d->last_launch, "%s", what);
    CU_CHECK(cu.cuLaunchKernel(f, grid[0], grid[1], grid[2], block[0], block[1], block[2], shared_bytes, stream, params,
                               NULL),
             NULL, "cuLaunchKernel(%s, grid (%u, %u, %u), block (%u, %u, %u)) on cuda:%d", what, grid[0], grid[1],
             grid[2], block[0], block[1], block[2], device);
    return DS_OK;
}

int32_t cuda_launch_kernel(int32_t device, void *function, const char *label, const uint32_t *grid,
                           const uint32_t *block, uint32_t shared_bytes, void *stream, void **params) {
    DEVICE(d, device);
    return cuda_launch_on(d, device, (CUfunction)function, label, grid, block, shared_bytes, (CUstream)stream, params);
}

const char *cuda_last_launch(int32_t device) {
    ds_status st;
    cu_device *d = device_of(device, &st);
    return d ? d->last_launch : "";
}

int32_t cuda_event_create(int32_t device, uint32_t flags, void **event) {
    DEVICE(d, device);
    CUevent e = NULL;
    CU_CHECK(cu.cuEventCreate(&e, flags), NULL, "cuEventCreate on cuda:%d", device);
    *event = e;
    return DS_OK;
}

int32_t cuda_event_record(int32_t device, void *event, void *stream) {
    DEVICE(d, device);
    CU_CHECK(cu.cuEventRecord((CUevent)event, (CUstream)stream), NULL, "cuEventRecord on cuda:%d", device);
    return DS_OK;
}

int32_t cuda_event_synchronize(int32_t device, void *event) {
    DEVICE(d, device);
    CU_CHECK(cu.cuEventSynchronize((CUevent)event), d, "cuEventSynchronize on cuda:%d", device);
    return DS_OK;
}

int32_t cuda_event_query(int32_t device, void *event, int32_t *done) {
    DEVICE(d, device);
    CUresult r = cu.cuEventQuery((CUevent)event);
    if (r != CUDA_SUCCESS && r != CUDA_ERROR_NOT_READY) return fail_cu(r, d, "cuEventQuery on cuda:%d", device);
    *done = r == CUDA_SUCCESS;
    return DS_OK;
}

int32_t cuda_event_elapsed(int32_t device, void *start, void *end, float *ms) {
    DEVICE(d, device);
    CU_CHECK(cu.cuEventElapsedTime(ms, (CUevent)start, (CUevent)end), NULL, "cuEventElapsedTime on cuda:%d", device);
    return DS_OK;
}

int32_t cuda_event_destroy(int32_t device, void *event) {
    DEVICE(d, device);
    CU_CHECK(cu.cuEventDestroy_v2((CUevent)event), NULL, "cuEventDestroy_v2 on cuda:%d", device);
    return DS_OK;
}
