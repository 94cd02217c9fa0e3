/* dsg_internal.h: what the GPU host layer's files and a vendor file share.
 *
 * A vendor file includes this header, fills a dsg_api from its library (dsg_vendor.h) and
 * calls dsg_start; it may then use dsg_fail/dsg_fail_call for its own messages and
 * dsg_device_of for its device queries (names, attributes), which need the device current.
 */
#ifndef DSG_INTERNAL_H
#define DSG_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "deepseek_backend.h"
#include "dsg_host.h"
#include "dsg_vendor.h"
#include "dsk_plan.h"

#define DSG_MAX_LABEL 160
#define DSG_N_PROGRAMS 10 /* one kernel program per ABI dtype */

typedef struct dsg_device {
    int ready, index;
    int no_pools;         /* stream-ordered allocation failed once: plain scratch allocations */
    void *handle;         /* the vendor's (CUDA: primary context) */
    dsg_limits limits;
    pthread_mutex_t lock; /* the staging buffers */
    void *staging[2];
    void *staged[2];      /* events recorded after the copy that last used each buffer */
    int pending[2];
    char last_launch[DSG_MAX_LABEL];
    /* the kernel programs, loaded on first use (dsg_launch.c) */
    pthread_mutex_t program_lock;
    void *module[DSG_N_PROGRAMS];
    int program_state[DSG_N_PROGRAMS]; /* 0: not tried; 1: loaded; -1: failed (program_error) */
    char *program_error[DSG_N_PROGRAMS];
    void *function[DSG_N_PROGRAMS][DSK_N_KERNELS];
    uint8_t missing[DSG_N_PROGRAMS][DSK_N_KERNELS];
} dsg_device;

/* Compiles and loads dtype's program on device into *module (0 on success; else the message
 * is kept with dsg_keep_error). The plugin's Python side, through cffi's extern "Python+C". */
typedef int32_t (*dsg_program_loader)(int32_t device, int32_t dtype, void **module);

/* Compiles a generated kernel body (deepseek.backends.kernels.fused; the plugin adds its
 * dialect prelude and options) and loads it into *module (0 on success; else the message is
 * kept with dsg_keep_error). The plugin's Python side, through cffi's extern "Python+C". */
typedef int32_t (*dsg_source_loader)(int32_t device, const char *body, const char *name, void **module);

/* Gives the layer its source loader: the table's compile_program, launch_program and
 * release_program (ABI 2.1) then run generated programs; without one they are left NULL. */
void dsg_set_source_loader(dsg_source_loader loader);

/* Starts the layer over `api` (which must outlive the process): counts the devices. Once; the
 * vendor file has opened its library and initialised it. */
ds_status dsg_start(const dsg_api *api, dsg_program_loader loader);
/* The vendor table the layer runs on (NULL before dsg_start). */
const dsg_api *dsg_vendor(void);

/* Keeps the message for last_error and returns st. */
ds_status dsg_fail(ds_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The status of a failed vendor call: out of memory -> DS_ERROR_OUT_OF_MEMORY, else DS_ERROR,
 * with the message "what: NAME: description". A sync point passes its device: the message then
 * names the device's last launch (a kernel fault surfaces at the next sync). */
ds_status dsg_fail_call(int status, const dsg_device *sync_device, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Device `device`, set up and current on this thread; NULL with the error kept. */
dsg_device *dsg_device_of(int32_t device, ds_status *st);

/* dsg_launch.c: op through the shared planner on d (current). */
ds_status dsg_plan_launch(dsg_device *d, const ds_op *op, const ds_tensor_desc *tensors, int32_t n_tensors,
                          void *stream);
/* One kernel launch on d (current) after checking grid and block against its limits. */
ds_status dsg_launch_on(dsg_device *d, void *function, const char *label, const uint32_t *grid, const uint32_t *block,
                        uint32_t shared_bytes, void *stream, void **params);

/* A vendor call that must succeed, else the function returns its status with the message. */
#define DSG_CALL(call, sync_dev, ...)                                          \
    do {                                                                       \
        int r_ = (call);                                                       \
        if (r_ != 0) return dsg_fail_call(r_, sync_dev, __VA_ARGS__);          \
    } while (0)

/* d: device `device` current on this thread, or return its error. */
#define DSG_DEVICE(d, device)                    \
    ds_status st_ = DS_OK;                       \
    dsg_device *d = dsg_device_of(device, &st_); \
    if (!d) return st_;

#endif /* DSG_INTERNAL_H */
