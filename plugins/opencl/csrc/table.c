/* table.c: the plugin's ds_backend_table in C, the per-device state behind it, and the
 * OpenCL hooks of the core's shared launch planner (deepseek/backends/kernels/csrc, compiled
 * into this module by csrc/build_launch.py).
 *
 * Every entry first tries C: launch for the op kinds the planner runs, memory, copies and
 * synchronize. Whatever C does not handle, or finds wrong, goes to the table of Python
 * callbacks (deepseek.backends.abi.build_table over deepseek_opencl.device.OpenCLDevices)
 * that the plugin built at load time: it does the same work with the same checks, so the
 * errors and their messages come from one place, and its last_error is copied into this
 * table's thread-local message. Python is also asked, once each, for a device's context and
 * queue and for a kernel C has not seen (programs are generated and built in Python).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "cl_api.h"
#include "dsk_planner.h"

/* Python callbacks (extern "Python+C" in the cdef; defined by cffi, run in table.py) */
int32_t ocl_py_device(int32_t device);
int32_t ocl_py_kernel(int32_t device, int32_t dtype, const char *name, void **kernel, size_t *local);
int32_t ocl_py_program(int32_t device, const char *body, const char *name, void **kernel, size_t *local,
                       char *message, size_t message_size);

/* A kernel call recorded instead of enqueued (for ocl_bench). */
typedef struct ocl_capture {
    cl_kernel kernel;
    cl_command_queue queue;
    int nargs;
    size_t sizes[DSK_MAX_ARGS];
    unsigned char values[DSK_MAX_ARGS][512];
    cl_uint dims;
    size_t global[3], local[3];
} ocl_capture;

struct ocl_device;

/* The hooks' context: one call of launch, once its device and queue check out. */
typedef struct ocl_launch {
    struct ocl_device *dev;
    int32_t device;
    cl_command_queue queue;
    ocl_capture *capture;
} ocl_launch;

ocl_cl_api ocl_cl;

static const char *const cl_names[] = {
#define OCL_CL_NAME(ret, name, params) #name,
    OCL_CL_FUNCTIONS(OCL_CL_NAME)
#undef OCL_CL_NAME
};
#define N_CL_NAMES ((int32_t)(sizeof cl_names / sizeof *cl_names))

typedef struct ocl_kernel {
    cl_kernel kernel; /* published last (release), read with acquire */
    size_t local;     /* the work-group size of 1-d launches */
} ocl_kernel;

typedef struct ocl_device {
    int ready; /* context, queue and features are set (release/acquire) */
    cl_context context;
    cl_command_queue queue;
    int fp64, is_cpu;
    /* Held while a launch sets a kernel's arguments and enqueues it (arguments are state of
     * the shared cl_kernel, so clSetKernelArg is not thread-safe), and around the streams
     * list and kernel cache inserts. C's cl_kernel objects are its own (the Python runtime
     * keeps its own, under its own lock), so the two never share arguments. */
    pthread_mutex_t lock;
    void **streams;
    int n_streams, cap_streams;
    ocl_kernel kernels[DSK_N_DTYPES][DSK_N_KERNELS];
} ocl_device;

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static ds_backend_table *py;  /* the Python callbacks' table */
static ds_backend_table table;
static ocl_device *devices;
static int32_t n_devices;
static dsk_registry registry; /* the planner's op kinds and codes (table.py fills them) */
static int64_t python_calls;
static int64_t kernel_launches, program_launches; /* what C enqueued: family kernels, generated programs */
static _Thread_local char message[8192];

const char *ocl_cl_name(int32_t i) { return i >= 0 && i < N_CL_NAMES ? cl_names[i] : NULL; }

int64_t ocl_python_calls(void) { return __atomic_load_n(&python_calls, __ATOMIC_RELAXED); }

int64_t ocl_kernel_launches(void) { return __atomic_load_n(&kernel_launches, __ATOMIC_RELAXED); }

int64_t ocl_program_launches(void) { return __atomic_load_n(&program_launches, __ATOMIC_RELAXED); }

static void count_python_call(void) { __atomic_fetch_add(&python_calls, 1, __ATOMIC_RELAXED); }

/* A status from the Python table: its message becomes this thread's last_error. */
static ds_status from_python(ds_status s) {
    if (s != DS_OK) {
        const char *m = py->last_error();
        snprintf(message, sizeof message, "%s", m ? m : "");
    }
    return s;
}

static const char *t_last_error(void) { return message; }

/* --- devices, streams, kernels ------------------------------------------------------------ */

void ocl_set_device(int32_t device, void *context, void *queue, int32_t fp64, int32_t is_cpu) {
    if (device < 0 || device >= n_devices) return;
    ocl_device *d = &devices[device];
    pthread_mutex_lock(&d->lock);
    d->context = (cl_context)context;
    d->queue = (cl_command_queue)queue;
    d->fp64 = fp64;
    d->is_cpu = is_cpu;
    __atomic_store_n(&d->ready, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&d->lock);
}

/* The device, its context and default queue created (by Python, on first use); NULL when
 * the index is out of range or creating them failed (Python then reports why). */
static ocl_device *ready_device(int32_t device) {
    if (device < 0 || device >= n_devices) return NULL;
    ocl_device *d = &devices[device];
    if (!__atomic_load_n(&d->ready, __ATOMIC_ACQUIRE)) {
        count_python_call();
        if (ocl_py_device(device) != 0 || !__atomic_load_n(&d->ready, __ATOMIC_ACQUIRE)) return NULL;
    }
    return d;
}

/* The stream's in-order queue (the default queue for NULL); NULL for a stream this device
 * did not create. */
static cl_command_queue stream_queue(ocl_device *d, void *stream) {
    if (stream == NULL) return d->queue;
    cl_command_queue q = NULL;
    pthread_mutex_lock(&d->lock);
    for (int i = 0; i < d->n_streams; ++i)
        if (d->streams[i] == stream) q = (cl_command_queue)stream;
    pthread_mutex_unlock(&d->lock);
    return q;
}

static void stream_add(int32_t device, void *stream) {
    if (device < 0 || device >= n_devices || stream == NULL) return;
    ocl_device *d = &devices[device];
    pthread_mutex_lock(&d->lock);
    if (d->n_streams == d->cap_streams) {
        int cap = d->cap_streams ? 2 * d->cap_streams : 8;
        void **s = realloc(d->streams, sizeof(void *) * cap);
        if (s) {
            d->streams = s;
            d->cap_streams = cap;
        }
    }
    if (d->n_streams < d->cap_streams) d->streams[d->n_streams++] = stream; /* else: launches on it take the Python path */
    pthread_mutex_unlock(&d->lock);
}

static void stream_remove(int32_t device, void *stream) {
    if (device < 0 || device >= n_devices) return;
    ocl_device *d = &devices[device];
    pthread_mutex_lock(&d->lock);
    for (int i = 0; i < d->n_streams; ++i)
        if (d->streams[i] == stream) {
            d->streams[i] = d->streams[--d->n_streams];
            break;
        }
    pthread_mutex_unlock(&d->lock);
}

/* C's own cl_kernel for (dtype, name), asked from Python the first time (never while
 * holding a lock: the Python side takes the GIL and its own locks). */
static cl_kernel kernel_for(ocl_launch *L, int32_t dtype, int32_t name, size_t *local) {
    ocl_device *d = L->dev;
    ocl_kernel *e = &d->kernels[dtype][name];
    cl_kernel k = __atomic_load_n(&e->kernel, __ATOMIC_ACQUIRE);
    if (k == NULL) {
        void *fresh = NULL;
        size_t ls = 0;
        count_python_call();
        if (ocl_py_kernel(L->device, dtype, dsk_kernel_name(name), &fresh, &ls) != 0 || fresh == NULL) return NULL;
        pthread_mutex_lock(&d->lock);
        k = e->kernel;
        if (k == NULL) {
            e->local = ls;
            __atomic_store_n(&e->kernel, (cl_kernel)fresh, __ATOMIC_RELEASE);
            k = (cl_kernel)fresh;
            fresh = NULL;
        }
        pthread_mutex_unlock(&d->lock);
        if (fresh) ocl_cl.clReleaseKernel((cl_kernel)fresh); /* another thread was first */
    }
    *local = e->local;
    return k;
}

/* --- the planner's hooks (dsk_plan.h) ------------------------------------------------------ */

static int h_supports(void *ctx, int32_t dtype) {
    const ocl_launch *L = ctx;
    return dtype != DS_FLOAT64 || L->dev->fp64; /* float64 needs cl_khr_fp64 */
}

/* The direct matmul on CPU drivers; DEEPSEEK_OPENCL_MATMUL=direct or =tiled forces one (read per
 * launch, as ops.py reads os.environ; empty means the default). */
static int h_direct_matmul(void *ctx) {
    const ocl_launch *L = ctx;
    const char *variant = getenv("DEEPSEEK_OPENCL_MATMUL");
    return variant && *variant ? strcmp(variant, "direct") == 0 : L->dev->is_cpu;
}

static int h_buffer_size(void *ctx, dsk_mem mem, uint64_t *nbytes) {
    (void)ctx;
    size_t size = 0;
    if (ocl_cl.clGetMemObjectInfo((cl_mem)mem, CL_MEM_SIZE, sizeof size, &size, NULL) != CL_SUCCESS) return DSK_PUNT;
    *nbytes = size;
    return DSK_DONE;
}

static int h_temp_alloc(void *ctx, uint64_t nbytes, dsk_mem *mem) {
    const ocl_launch *L = ctx;
    cl_int err = CL_SUCCESS;
    cl_mem m = ocl_cl.clCreateBuffer(L->dev->context, CL_MEM_READ_WRITE, (size_t)nbytes, NULL, &err);
    if (err != CL_SUCCESS) return DSK_PUNT;
    *mem = (dsk_mem)m;
    return DSK_DONE;
}

/* OpenCL keeps the buffer until the kernels using it have finished */
static void h_temp_free(void *ctx, dsk_mem mem) {
    (void)ctx;
    ocl_cl.clReleaseMemObject((cl_mem)mem);
}

/* Sets the arguments and enqueues the kernel under the device's lock. */
static int h_enqueue(void *ctx, int32_t dtype, int32_t name, const dsk_arg *args, int32_t nargs, uint32_t dims,
                     const size_t *global, const size_t *local) {
    ocl_launch *L = ctx;
    size_t ls;
    cl_kernel k = kernel_for(L, dtype, name, &ls);
    if (k == NULL) return DSK_PUNT;
    const size_t *lsize = local ? local : &ls;
    if (L->capture && nargs <= DSK_MAX_ARGS) {
        ocl_capture *c = L->capture;
        for (int i = 0; i < nargs; ++i)
            if (args[i].size > sizeof c->values[i]) return DSK_PUNT;
        c->kernel = k;
        c->queue = L->queue;
        c->nargs = nargs;
        for (int i = 0; i < nargs; ++i) {
            c->sizes[i] = args[i].size;
            memcpy(c->values[i], args[i].value, args[i].size);
        }
        c->dims = dims;
        memcpy(c->global, global, sizeof(size_t) * dims);
        memcpy(c->local, lsize, sizeof(size_t) * dims);
    }
    cl_int err = CL_SUCCESS;
    pthread_mutex_lock(&L->dev->lock);
    for (int i = 0; i < nargs && err == CL_SUCCESS; ++i)
        err = ocl_cl.clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].value);
    if (err == CL_SUCCESS)
        err = ocl_cl.clEnqueueNDRangeKernel(L->queue, k, dims, NULL, global, lsize, 0, NULL, NULL);
    pthread_mutex_unlock(&L->dev->lock);
    if (err == CL_SUCCESS) __atomic_fetch_add(&kernel_launches, 1, __ATOMIC_RELAXED);
    return err == CL_SUCCESS ? DSK_DONE : DSK_PUNT;
}

/* Convolutions as im2col + matmul where they fit; DEEPSEEK_OPENCL_CONV=direct forces the direct
 * kernels (read per launch, as ops.py reads it). */
static int h_conv_gemm(void *ctx) {
    (void)ctx;
    const char *mode = getenv("DEEPSEEK_OPENCL_CONV");
    return !(mode && strcmp(mode, "direct") == 0);
}

static const dsk_hooks hooks = {h_enqueue, h_supports,   h_direct_matmul, h_buffer_size,
                                h_temp_alloc, h_temp_free, h_conv_gemm};

/* --- the table ------------------------------------------------------------------------------ */

static ds_status python_launch(int32_t device, const ds_op *op, const ds_tensor_desc *tensors, int32_t n,
                               void *stream) {
    count_python_call();
    return from_python(py->launch(device, op, tensors, n, stream));
}

/* DSK_DONE when C enqueued the op. */
static int c_launch(ocl_launch *L, int32_t device, const ds_op *op, const ds_tensor_desc *tensors, int32_t n,
                    void *stream) {
    if (!dsk_handles(&registry, op)) return DSK_PUNT; /* before any device is created */
    L->dev = ready_device(device);
    if (L->dev == NULL) return DSK_PUNT;
    L->queue = stream_queue(L->dev, stream);
    if (L->queue == NULL) return DSK_PUNT;
    L->device = device;
    return dsk_plan(&hooks, L, &registry, op, tensors, n);
}

static ds_status t_launch(int32_t device, const ds_op *op, const ds_tensor_desc *tensors, int32_t n, void *stream) {
    ocl_launch L;
    L.capture = NULL;
    if (c_launch(&L, device, op, tensors, n, stream) == DSK_DONE) return DS_OK;
    return python_launch(device, op, tensors, n, stream);
}

/* --- generated programs (ABI 2.1) ---------------------------------------------------------- */

/* A compiled generated kernel: C's own cl_kernel (Python built its program, once). */
typedef struct ocl_program {
    cl_kernel kernel;
    size_t local;
    int32_t device;
} ocl_program;

/* Python builds the body behind the OpenCL prelude with the device's options (load time,
 * never per launch); its status and message are the answer. */
static ds_status t_compile_program(int32_t device, const char *body, const char *name, void **program) {
    void *k = NULL;
    size_t ls = 0;
    count_python_call();
    int32_t s = ocl_py_program(device, body, name, &k, &ls, message, sizeof message);
    if (s != DS_OK) return s;
    ocl_program *p = malloc(sizeof *p);
    if (p == NULL) {
        ocl_cl.clReleaseKernel((cl_kernel)k);
        snprintf(message, sizeof message, "compile_program: out of host memory");
        return DS_ERROR_OUT_OF_MEMORY;
    }
    p->kernel = (cl_kernel)k;
    p->local = ls;
    p->device = device;
    *program = p;
    return DS_OK;
}

static ds_status t_launch_program(int32_t device, void *program, const ds_tensor_desc *tensors, int32_t n,
                                  void *stream) {
    ocl_program *p = program;
    if (p == NULL || p->device != device) {
        snprintf(message, sizeof message, "launch_program: the program was not compiled for device %d", (int)device);
        return DS_ERROR_INVALID_ARGUMENT;
    }
    ocl_launch L;
    L.capture = NULL;
    L.device = device;
    L.dev = ready_device(device);
    L.queue = L.dev ? stream_queue(L.dev, stream) : NULL;
    dsk_program_args a;
    if (L.queue == NULL || dsk_program_call(&hooks, &L, tensors, n, &a) != DSK_DONE) {
        snprintf(message, sizeof message, "launch_program: operands the generated kernel does not take");
        return DS_ERROR_NOT_IMPLEMENTED; /* the core runs the steps one launch each */
    }
    if (a.numel == 0) return DS_OK;
    size_t local = p->local;
    cl_int err = CL_SUCCESS;
    pthread_mutex_lock(&L.dev->lock); /* the kernel's arguments are shared state */
    for (int i = 0; i < a.nargs && err == CL_SUCCESS; ++i)
        err = ocl_cl.clSetKernelArg(p->kernel, (cl_uint)i, a.args[i].size, a.args[i].value);
    if (err == CL_SUCCESS) err = ocl_cl.clEnqueueNDRangeKernel(L.queue, p->kernel, 1, NULL, &a.global, &local, 0, NULL, NULL);
    pthread_mutex_unlock(&L.dev->lock);
    if (err != CL_SUCCESS) {
        snprintf(message, sizeof message, "launch_program: OpenCL error %d", (int)err);
        return err == -5 || err == -6 ? DS_ERROR_OUT_OF_MEMORY : DS_ERROR; /* CL_OUT_OF_RESOURCES, CL_OUT_OF_HOST_MEMORY */
    }
    __atomic_fetch_add(&program_launches, 1, __ATOMIC_RELAXED);
    return DS_OK;
}

static ds_status t_release_program(int32_t device, void *program) {
    (void)device;
    ocl_program *p = program;
    if (p != NULL) {
        ocl_cl.clReleaseKernel(p->kernel);
        free(p);
    }
    return DS_OK;
}

static ds_status t_device_count(int32_t *count) {
    *count = n_devices;
    return DS_OK;
}

static ds_status t_alloc(int32_t device, uint64_t nbytes, void **ptr) {
    ocl_device *d = ready_device(device);
    if (d != NULL) {
        if (nbytes == 0) { /* OpenCL has no empty buffers; NULL stands for one */
            *ptr = NULL;
            return DS_OK;
        }
        cl_int err = CL_SUCCESS;
        cl_mem m = ocl_cl.clCreateBuffer(d->context, CL_MEM_READ_WRITE, (size_t)nbytes, NULL, &err);
        if (err == CL_SUCCESS) {
            *ptr = m;
            return DS_OK;
        }
    }
    return from_python(py->alloc(device, nbytes, ptr));
}

static ds_status t_free(int32_t device, void *ptr) {
    if (ready_device(device) != NULL && (ptr == NULL || ocl_cl.clReleaseMemObject((cl_mem)ptr) == CL_SUCCESS))
        return DS_OK;
    return from_python(py->free(device, ptr));
}

static cl_command_queue queue_of(int32_t device, void *stream) {
    ocl_device *d = ready_device(device);
    return d ? stream_queue(d, stream) : NULL;
}

static ds_status t_memcpy_h2d(int32_t device, void *dst, uint64_t dst_offset, const void *src, uint64_t nbytes,
                              void *stream) {
    cl_command_queue q = queue_of(device, stream);
    if (q != NULL && (nbytes == 0 || ocl_cl.clEnqueueWriteBuffer(q, (cl_mem)dst, 1, (size_t)dst_offset, (size_t)nbytes,
                                                                  src, 0, NULL, NULL) == CL_SUCCESS))
        return DS_OK;
    return from_python(py->memcpy_h2d(device, dst, dst_offset, src, nbytes, stream));
}

static ds_status t_memcpy_d2h(int32_t device, void *dst, const void *src, uint64_t src_offset, uint64_t nbytes,
                              void *stream) {
    cl_command_queue q = queue_of(device, stream);
    if (q != NULL && (nbytes == 0 || ocl_cl.clEnqueueReadBuffer(q, (cl_mem)src, 1, (size_t)src_offset, (size_t)nbytes,
                                                                 dst, 0, NULL, NULL) == CL_SUCCESS))
        return DS_OK;
    return from_python(py->memcpy_d2h(device, dst, src, src_offset, nbytes, stream));
}

static ds_status t_memcpy_d2d(int32_t device, void *dst, uint64_t dst_offset, const void *src, uint64_t src_offset,
                              uint64_t nbytes, void *stream) {
    cl_command_queue q = queue_of(device, stream);
    if (q != NULL && (nbytes == 0 || ocl_cl.clEnqueueCopyBuffer(q, (cl_mem)src, (cl_mem)dst, (size_t)src_offset,
                                                                 (size_t)dst_offset, (size_t)nbytes, 0, NULL,
                                                                 NULL) == CL_SUCCESS))
        return DS_OK;
    return from_python(py->memcpy_d2d(device, dst, dst_offset, src, src_offset, nbytes, stream));
}

static ds_status t_synchronize(int32_t device) {
    ocl_device *d = ready_device(device);
    if (d != NULL) {
        /* a snapshot: other threads may create or destroy streams meanwhile */
        pthread_mutex_lock(&d->lock);
        int n = d->n_streams;
        void **qs = malloc(sizeof(void *) * (n + 1));
        if (qs) {
            qs[0] = d->queue;
            memcpy(qs + 1, d->streams, sizeof(void *) * n);
        }
        pthread_mutex_unlock(&d->lock);
        int ok = qs != NULL;
        for (int i = 0; ok && i <= n; ++i) ok = ocl_cl.clFinish((cl_command_queue)qs[i]) == CL_SUCCESS;
        free(qs);
        if (ok) return DS_OK;
    }
    return from_python(py->synchronize(device));
}

static ds_status t_stream_create(int32_t device, void **stream) {
    ds_status s = from_python(py->stream_create(device, stream));
    if (s == DS_OK) stream_add(device, *stream);
    return s;
}

static ds_status t_stream_destroy(int32_t device, void *stream) {
    stream_remove(device, stream);
    return from_python(py->stream_destroy(device, stream));
}

int32_t ocl_init(void *python_table, void *const *cl_functions, int32_t n_devices_, int32_t n_ops_,
                 const uint8_t *kinds_, const int32_t *codes_, const uint8_t *defined, const uint8_t *acc_sizes,
                 const double *rand_tops) {
    pthread_mutex_lock(&init_lock);
    if (py != NULL) {
        pthread_mutex_unlock(&init_lock);
        return 1;
    }
    void *const *f = cl_functions;
#define OCL_CL_SET(ret, name, params) ocl_cl.name = (ret(*) params) * f++;
    OCL_CL_FUNCTIONS(OCL_CL_SET)
#undef OCL_CL_SET
    devices = calloc(n_devices_ > 0 ? n_devices_ : 1, sizeof(ocl_device));
    uint8_t *kinds = malloc(n_ops_ > 0 ? n_ops_ : 1);
    int32_t *codes = malloc(sizeof(int32_t) * (n_ops_ > 0 ? n_ops_ : 1));
    uint8_t *def = malloc((size_t)DSK_N_DTYPES * (n_ops_ > 0 ? n_ops_ : 1));
    if (!devices || !kinds || !codes || !def) {
        pthread_mutex_unlock(&init_lock);
        return -1;
    }
    for (int32_t i = 0; i < n_devices_; ++i) pthread_mutex_init(&devices[i].lock, NULL);
    memcpy(kinds, kinds_, n_ops_);
    memcpy(codes, codes_, sizeof(int32_t) * n_ops_);
    memcpy(def, defined, (size_t)DSK_N_DTYPES * n_ops_);
    memcpy(registry.acc_size, acc_sizes, DSK_N_DTYPES);
    memcpy(registry.rand_top, rand_tops, sizeof(double) * DSK_N_DTYPES);
    registry.kinds = kinds;
    registry.codes = codes;
    registry.defined = def;
    registry.n_ops = n_ops_;
    n_devices = n_devices_;
    ds_backend_table *p = python_table;
    table = *p; /* struct_size, ABI version, name and op list as the Python table has them */
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
    table.compile_program = t_compile_program;
    table.launch_program = t_launch_program;
    table.release_program = t_release_program;
    __atomic_store_n(&py, p, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&init_lock);
    return 0;
}

void *ocl_table(void) { return __atomic_load_n(&py, __ATOMIC_ACQUIRE) ? &table : NULL; }

/* --- benchmark ------------------------------------------------------------------------------ */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int32_t ocl_bench(const void *bench_table, int32_t device, const void *op, const void *tensors, int32_t n_tensors,
                  int64_t iterations, double pace_s, double *launch_s, double *floor_s) {
    const ds_backend_table *t = bench_table ? bench_table : &table;
    if (py == NULL || iterations <= 0) return DS_ERROR;
    static ocl_capture c; /* benchmark only; not reentrant */
    ocl_launch L;
    memset(&c, 0, sizeof c);
    L.capture = &c;
    if (c_launch(&L, device, op, tensors, n_tensors, NULL) != DSK_DONE || c.kernel == NULL) return DS_ERROR;
    ocl_cl.clFinish(c.queue); /* each loop starts on an idle queue */
    double t0 = now();
    for (int64_t i = 0; i < iterations; ++i)
        if (t->launch(device, op, tensors, n_tensors, NULL) != DS_OK) return DS_ERROR;
    double t1 = now(), spent = 0;
    ocl_cl.clFinish(c.queue);
    double t2 = now();
    for (int64_t i = 0; i < iterations; ++i) {
        double start = 0;
        if (pace_s > 0) { /* the next round starts pace_s after this one's start */
            while ((start = now()) < t2 + (double)i * pace_s) {
            }
        }
        for (int a = 0; a < c.nargs; ++a) ocl_cl.clSetKernelArg(c.kernel, (cl_uint)a, c.sizes[a], c.values[a]);
        if (ocl_cl.clEnqueueNDRangeKernel(c.queue, c.kernel, c.dims, NULL, c.global, c.local, 0, NULL, NULL))
            return DS_ERROR;
        if (pace_s > 0) spent += now() - start;
    }
    *launch_s = (t1 - t0) / (double)iterations;
    *floor_s = (pace_s > 0 ? spent : now() - t2) / (double)iterations;
    return DS_OK;
}
