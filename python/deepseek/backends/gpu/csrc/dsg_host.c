/* dsg_host.c: the GPU host layer as one translation unit (it includes dsg_memory.c,
 * dsg_launch.c and dsg_blas.c). A plugin compiles it into its C module beside its vendor
 * file, with this folder, the planner's (deepseek/backends/kernels/csrc) and the one of
 * deepseek_backend.h on the include path and the planner's macros defined (docs/gpu_host.md).
 * The planner itself (dsk_planner.c) is compiled by the plugin too.
 *
 * Here: errors, starting over a vendor table, devices (set up on first use, current on the
 * calling thread at every entry) and the ds_backend_table.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsg_internal.h"
#include "dsk_planner.h"

static const dsg_api *api;
static dsg_program_loader program_loader;
static dsg_source_loader source_loader;
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static int n_devices;
static dsg_device *devices;
static int32_t *declared_ops;
static int64_t n_declared;
static ds_backend_table table;

static __thread char error_buf[2048];

const char *dsg_error(void) { return error_buf; }
void dsg_keep_error(const char *message) { snprintf(error_buf, sizeof error_buf, "%s", message ? message : ""); }
int32_t dsg_started(void) { return api != NULL; }
const dsg_api *dsg_vendor(void) { return api; }

ds_status dsg_fail(ds_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    va_end(ap);
    return st;
}

/* "NAME: description" of a vendor status, as the vendor's library names it. */
static void describe(int status, char *out, size_t n) {
    const char *name = api && api->error_name ? api->error_name(status) : NULL;
    const char *text = api && api->error_string ? api->error_string(status) : NULL;
    if (name && (!text || !strcmp(text, name))) /* some runtimes describe an error by its name */
        snprintf(out, n, "%s", name);
    else if (name)
        snprintf(out, n, "%s: %s", name, text);
    else
        snprintf(out, n, "status %d (unknown to this runtime)", status);
}

ds_status dsg_fail_call(int status, const dsg_device *d, const char *fmt, ...) {
    char what[768], why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    describe(status, why, sizeof why);
    if (d)
        snprintf(error_buf, sizeof error_buf, "%s: %s (the last op launched on this device: %s)", what, why,
                 d->last_launch[0] ? d->last_launch : "none yet");
    else
        snprintf(error_buf, sizeof error_buf, "%s: %s", what, why);
    return api && status == api->out_of_memory ? DS_ERROR_OUT_OF_MEMORY : DS_ERROR;
}

static void release_at_exit(void) { dsg_release_staging(); }

ds_status dsg_start(const dsg_api *vendor, dsg_program_loader loader) {
    pthread_mutex_lock(&start_lock);
    ds_status st = DS_OK;
    if (api) goto out; /* started already */
    int count = 0;
    int r = vendor->device_count(&count);
    if (r != 0) {
        const dsg_api *saved = api;
        api = vendor; /* for the error's name */
        st = dsg_fail_call(r, NULL, "%s", vendor->names.device_count);
        api = saved;
        goto out;
    }
    dsg_device *ds = calloc(count > 0 ? count : 1, sizeof *ds);
    if (!ds) {
        st = dsg_fail(DS_ERROR_OUT_OF_MEMORY, "out of host memory");
        goto out;
    }
    for (int i = 0; i < count; i++) {
        ds[i].index = i;
        pthread_mutex_init(&ds[i].lock, NULL);
        pthread_mutex_init(&ds[i].program_lock, NULL);
    }
    devices = ds;
    n_devices = count;
    program_loader = loader;
    __atomic_store_n(&api, vendor, __ATOMIC_RELEASE);
    atexit(release_at_exit);
out:
    pthread_mutex_unlock(&start_lock);
    return st;
}

dsg_device *dsg_device_of(int32_t device, ds_status *st) {
    const dsg_api *a = __atomic_load_n(&api, __ATOMIC_ACQUIRE);
    if (!a) {
        *st = dsg_fail(DS_ERROR, "the GPU runtime is not open");
        return NULL;
    }
    if (device < 0 || device >= n_devices) {
        *st = dsg_fail(DS_ERROR_INVALID_ARGUMENT, "%s device %d does not exist; the %s sees %d", a->device_type, device,
                       a->runtime ? a->runtime : "runtime", n_devices);
        return NULL;
    }
    dsg_device *d = &devices[device];
    int r = 0;
    if (!__atomic_load_n(&d->ready, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&start_lock);
        const char *what = a->names.device_setup;
        if (!d->ready) {
            r = a->device_setup(device, &d->handle);
            if (r == 0) what = a->names.make_current, r = a->make_current(device, d->handle);
            if (r == 0) what = a->names.limits, r = a->limits(device, &d->limits);
            if (r == 0) __atomic_store_n(&d->ready, 1, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&start_lock);
        if (r != 0) {
            *st = dsg_fail_call(r, NULL, "setting up %s:%d (%s)", a->device_type, device, what);
            return NULL;
        }
    }
    r = a->make_current(device, d->handle);
    if (r != 0) {
        *st = dsg_fail_call(r, NULL, "%s(%s:%d)", a->names.make_current, a->device_type, device);
        return NULL;
    }
    return d;
}

void dsg_set_ops(const int32_t *ops, int64_t n_ops) {
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

int32_t dsg_device_count(int32_t *count) {
    if (!dsg_started()) return dsg_fail(DS_ERROR, "the GPU runtime is not open");
    *count = n_devices;
    return DS_OK;
}

#include "dsg_memory.c"
#include "dsg_launch.c"
#include "dsg_blas.c"

static ds_status t_device_count(int32_t *count) { return dsg_device_count(count); }

static ds_status t_launch(int32_t device, const ds_op *op, const ds_tensor_desc *tensors, int32_t n_tensors,
                          void *stream) {
    DSG_DEVICE(d, device);
    return dsg_plan_launch(d, op, tensors, n_tensors, stream);
}

static const char *t_last_error(void) { return error_buf; }

void dsg_set_source_loader(dsg_source_loader loader) { source_loader = loader; }

void *dsg_table(void) {
    table.struct_size = sizeof table;
    table.abi_major = DS_BACKEND_ABI_MAJOR;
    table.abi_minor = DS_BACKEND_ABI_MINOR;
    table.name = api ? api->device_type : "gpu";
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
    if (source_loader) {
        table.compile_program = t_compile_program;
        table.launch_program = t_launch_program;
        table.release_program = t_release_program;
    }
    return &table;
}
