/* plugin.h: what the plugin's C files share (table.c: driver, memory, copies, streams;
 * driver.c: device facts, modules, launches, events). */
#ifndef CUDA_PLUGIN_H
#define CUDA_PLUGIN_H

#include <pthread.h>
#include <stdint.h>

#include "cu_api.h"
#include "deepseek_backend.h"
#include "dsk_plan.h"

#define CUDA_MAX_LABEL 160

typedef struct cu_device {
    int ready;
    CUdevice dev;
    CUcontext ctx;
    pthread_mutex_t lock; /* the staging buffers */
    void *staging[2];
    CUevent staged[2];    /* recorded after the copy that last used each buffer */
    int pending[2];
    int next_buffer;      /* the staging buffer the next host-to-device chunk takes */
    int max_threads, max_block[3], max_grid[3], max_shared;
    char last_launch[CUDA_MAX_LABEL];
    /* the kernel programs (one per dtype), loaded on first use by launch.c */
    pthread_mutex_t program_lock;
    CUmodule module[10];
    int program_state[10]; /* 0: not tried; 1: loaded; -1: failed (program_error) */
    char *program_error[10];
    CUfunction function[10][DSK_N_KERNELS];
    uint8_t missing[10][DSK_N_KERNELS]; /* the program has no such kernel */
    int no_pools;                       /* cuMemAllocAsync is not supported: scratch is cuMemAlloc'd */
} cu_device;

/* Keeps the message for last_error and returns st. */
ds_status fail(ds_status st, const char *fmt, ...);
/* The status of a failed driver call (out of memory -> DS_ERROR_OUT_OF_MEMORY, else DS_ERROR),
 * the message "what: CUDA_ERROR_X: description"; a sync point passes its device, and the
 * message then names the device's last launch (a kernel fault surfaces at the next sync). */
ds_status fail_cu(CUresult r, const cu_device *sync_device, const char *fmt, ...);
/* Device `device` with its context current on this thread; NULL with the error kept. */
cu_device *device_of(int32_t device, ds_status *st);

/* launch.c: runs op through the shared planner (deepseek/backends/kernels/csrc). */
ds_status cuda_plan_launch(cu_device *d, int32_t device, const ds_op *op, const ds_tensor_desc *tensors,
                           int32_t n_tensors, void *stream);
/* blas.c: matmul through cuBLAS; DS_ERROR_NOT_IMPLEMENTED when it is not loaded or cannot take
 * the operands as they are. */
ds_status cuda_blas_matmul(cu_device *d, int32_t device, const ds_tensor_desc *tensors, int32_t n_tensors,
                           CUstream stream);
/* driver.c: one kernel launch on d (current), after checking grid and block against its
 * limits; `label` becomes the device's last launch. */
ds_status cuda_launch_on(cu_device *d, int32_t device, CUfunction f, const char *label, const uint32_t *grid,
                         const uint32_t *block, uint32_t shared_bytes, CUstream stream, void **params);

#define CU_CHECK(call, sync_dev, ...)                                         \
    do {                                                                      \
        CUresult r_ = (call);                                                 \
        if (r_ != CUDA_SUCCESS) return fail_cu(r_, sync_dev, __VA_ARGS__);   \
    } while (0)

#define DEVICE(d, device)                   \
    ds_status st_ = DS_OK;                  \
    cu_device *d = device_of(device, &st_); \
    if (!d) return st_;

#endif /* CUDA_PLUGIN_H */
