/* launch.c: launch runs primitive ops through the shared planner of the portable kernels
 * (deepseek/backends/kernels/csrc, compiled into this module): the planner checks the tensor
 * descriptors, fills the kernels' argument blocks and picks kernels and work sizes; the hooks
 * here launch them with cuLaunchKernel (grid = global / local, block = local, kernelParams
 * pointing at the planner's (size, value) arguments). A dtype's program (every kernel serving
 * that dtype) is compiled and loaded on its first launch on a device, by the Python side
 * (NVRTC, deepseek_cuda/runtime.py); after that a launch runs no Python.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dsk_planner.h"
#include "plugin.h"

#define CUDA_ERROR_NOT_FOUND 500
#define CUDA_ERROR_NOT_SUPPORTED 801

/* defined by cffi (extern "Python+C"): compiles and loads dtype's program on device */
int32_t cuda_py_module(int32_t device, int32_t dtype, void **module);

static const char *const DTYPE_NAMES[10] = {"bool", "uint8", "int8", "int16", "int32",
                                            "int64", "float16", "bfloat16", "float32", "float64"};
static dsk_registry registry;
static int have_registry;
static char **op_names;
static int32_t n_op_names;
static int64_t python_calls;

int32_t cuda_set_registry(int32_t n_ops, const uint8_t *kinds, const int32_t *codes, const uint8_t *defined,
                          const uint8_t *acc_sizes, const double *rand_tops, const char *const *names) {
    uint8_t *k = malloc(n_ops ? n_ops : 1), *def = malloc(n_ops ? n_ops * 10 : 1);
    int32_t *c = malloc(sizeof *c * (n_ops ? n_ops : 1));
    char **nm = calloc(n_ops ? n_ops : 1, sizeof *nm);
    if (!k || !def || !c || !nm) return fail(DS_ERROR_OUT_OF_MEMORY, "out of host memory");
    memcpy(k, kinds, n_ops);
    memcpy(def, defined, (size_t)n_ops * 10);
    memcpy(c, codes, sizeof *c * n_ops);
    for (int32_t i = 0; i < n_ops; i++) nm[i] = strdup(names[i]);
    registry.n_ops = n_ops;
    registry.kinds = k;
    registry.codes = c;
    registry.defined = def;
    memcpy(registry.acc_size, acc_sizes, 10);
    memcpy(registry.rand_top, rand_tops, sizeof registry.rand_top);
    op_names = nm;
    n_op_names = n_ops;
    have_registry = 1;
    return DS_OK;
}

int64_t cuda_python_calls(void) { return __atomic_load_n(&python_calls, __ATOMIC_RELAXED); }

static const char *op_name(int32_t id) { return id >= 0 && id < n_op_names ? op_names[id] : "an unknown op"; }

/* One launch's state, handed to every hook. */
typedef struct cu_ctx {
    cu_device *d;
    int32_t device, op;
    CUstream stream;
    ds_status status; /* a driver or compile error a hook met (its message is kept) */
} cu_ctx;

/* Kernel `kernel` of dtype's program on c's device, loading the program on first use; NULL
 * when the program lacks it (c->status stays DS_OK: not implemented) or on an error. */
static CUfunction function_of(cu_ctx *c, int32_t dtype, int32_t kernel) {
    cu_device *d = c->d;
    CUfunction f = __atomic_load_n(&d->function[dtype][kernel], __ATOMIC_ACQUIRE);
    if (f) return f;
    if (__atomic_load_n(&d->program_state[dtype], __ATOMIC_ACQUIRE) == 0) {
        /* Python builds the program with no lock held: a thread that holds the GIL while it
         * waits here would otherwise block the build it waits for. Two threads may both build
         * it; the first keeps its module. */
        void *module = NULL;
        __atomic_add_fetch(&python_calls, 1, __ATOMIC_RELAXED);
        cuda_keep_error("");
        int ok = cuda_py_module(c->device, dtype, &module) == 0 && module;
        char *why = ok ? NULL : strdup(*cuda_error() ? cuda_error() : "building the kernels failed");
        pthread_mutex_lock(&d->program_lock);
        if (d->program_state[dtype] == 0) {
            if (ok)
                d->module[dtype] = (CUmodule)module;
            else
                d->program_error[dtype] = why, why = NULL; /* remembered: not built again at every launch */
            __atomic_store_n(&d->program_state[dtype], ok ? 1 : -1, __ATOMIC_RELEASE);
        } else if (ok) {
            cu.cuModuleUnload((CUmodule)module);
        }
        pthread_mutex_unlock(&d->program_lock);
        free(why);
    }
    pthread_mutex_lock(&d->program_lock);
    if (d->program_state[dtype] < 0) {
        c->status = fail(DS_ERROR, "%s", d->program_error[dtype] ? d->program_error[dtype] : "no program");
    } else if (!(f = d->function[dtype][kernel]) && !d->missing[dtype][kernel]) {
        CUresult r = cu.cuModuleGetFunction(&f, d->module[dtype], dsk_kernel_name(kernel));
        if (r == CUDA_ERROR_NOT_FOUND) {
            d->missing[dtype][kernel] = 1;
            f = NULL;
        } else if (r != CUDA_SUCCESS) {
            c->status = fail_cu(r, NULL, "cuModuleGetFunction(%s) of the %s kernels on cuda:%d", dsk_kernel_name(kernel),
                                DTYPE_NAMES[dtype], c->device);
            f = NULL;
        } else {
            __atomic_store_n(&d->function[dtype][kernel], f, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&d->program_lock);
    return f;
}

static int h_enqueue(void *ctx, int32_t dtype, int32_t kernel, const dsk_arg *args, int32_t nargs, uint32_t dims,
                     const size_t *global, const size_t *local) {
    cu_ctx *c = ctx;
    if (dtype < 0 || dtype >= 10 || kernel < 0 || kernel >= DSK_N_KERNELS || nargs < 0 || nargs > DSK_MAX_ARGS ||
        dims < 1 || dims > 3)
        return DSK_PUNT;
    uint32_t grid[3] = {1, 1, 1}, block[3] = {1, 1, 1};
    for (uint32_t i = 0; i < dims; i++) {
        size_t l = local ? local[i] : (i == 0 ? DSK_LS : 1);
        if (global[i] == 0) return DSK_DONE; /* no work item: nothing to launch */
        if (l == 0 || global[i] % l || global[i] / l > 0xFFFFFFFFu || l > 0xFFFFFFFFu) return DSK_PUNT;
        block[i] = (uint32_t)l;
        grid[i] = (uint32_t)(global[i] / l);
    }
    CUfunction f = function_of(c, dtype, kernel);
    if (!f) return DSK_PUNT;
    /* cuLaunchKernel reads every parameter's bytes before it returns, as the planner requires */
    void *params[DSK_MAX_ARGS];
    for (int32_t i = 0; i < nargs; i++) params[i] = (void *)args[i].value;
    char label[CUDA_MAX_LABEL];
    snprintf(label, sizeof label, "%s (%s, %s)", op_name(c->op), dsk_kernel_name(kernel), DTYPE_NAMES[dtype]);
    ds_status st = cuda_launch_on(c->d, c->device, f, label, grid, block, 0, c->stream, params);
    if (st != DS_OK) {
        c->status = st;
        return DSK_PUNT;
    }
    return DSK_DONE;
}

static int h_supports(void *ctx, int32_t dtype) { return dtype >= 0 && dtype < 10; }

static int h_direct_matmul(void *ctx) { return 0; }

static int h_buffer_size(void *ctx, dsk_mem mem, uint64_t *nbytes) {
    if (!mem) {
        *nbytes = 0;
        return DSK_DONE;
    }
    CUdeviceptr base = 0;
    size_t size = 0;
    if (cu.cuMemGetAddressRange_v2(&base, &size, (CUdeviceptr)mem) != CUDA_SUCCESS || base > mem) return DSK_PUNT;
    *nbytes = size - (mem - base);
    return DSK_DONE;
}

/* Scratch memory in stream order: freed after the kernels that use it, without a sync. A device
 * without memory pools gets plain allocations (cuMemFree waits for the device). */
static int h_temp_alloc(void *ctx, uint64_t nbytes, dsk_mem *mem) {
    cu_ctx *c = ctx;
    CUdeviceptr p = 0;
    CUresult r = CUDA_ERROR_NOT_SUPPORTED;
    if (!__atomic_load_n(&c->d->no_pools, __ATOMIC_RELAXED)) r = cu.cuMemAllocAsync(&p, nbytes, c->stream);
    if (r == CUDA_ERROR_NOT_SUPPORTED) {
        __atomic_store_n(&c->d->no_pools, 1, __ATOMIC_RELAXED);
        r = cu.cuMemAlloc_v2(&p, nbytes);
    }
    if (r != CUDA_SUCCESS) {
        c->status = fail_cu(r, NULL, "cuMemAllocAsync(%llu bytes of scratch for %s) on cuda:%d", (unsigned long long)nbytes,
                            op_name(c->op), c->device);
        return DSK_PUNT;
    }
    *mem = p;
    return DSK_DONE;
}

static void h_temp_free(void *ctx, dsk_mem mem) {
    cu_ctx *c = ctx;
    if (!mem) return;
    if (__atomic_load_n(&c->d->no_pools, __ATOMIC_RELAXED))
        cu.cuMemFree_v2((CUdeviceptr)mem);
    else
        cu.cuMemFreeAsync((CUdeviceptr)mem, c->stream);
}

static const dsk_hooks HOOKS = {h_enqueue, h_supports, h_direct_matmul, h_buffer_size, h_temp_alloc, h_temp_free};

ds_status cuda_plan_launch(cu_device *d, int32_t device, const ds_op *op, const ds_tensor_desc *tensors,
                           int32_t n_tensors, void *stream) {
    if (!op) return fail(DS_ERROR_INVALID_ARGUMENT, "launch: no op");
    if (!have_registry) return fail(DS_ERROR_NOT_IMPLEMENTED, "deepseek-cuda: the kernel registry is not loaded");
    if (op->id == DS_OP_MATMUL) {
        ds_status st = cuda_blas_matmul(d, device, tensors, n_tensors, (CUstream)stream);
        if (st != DS_ERROR_NOT_IMPLEMENTED) return st;
    }
    if (!dsk_handles(&registry, op))
        return fail(DS_ERROR_NOT_IMPLEMENTED, "deepseek-cuda has no CUDA kernel for '%s'", op_name(op->id));
    cu_ctx c = {d, device, op->id, (CUstream)stream, DS_OK};
    if (dsk_plan(&HOOKS, &c, &registry, op, tensors, n_tensors) == DSK_DONE) return DS_OK;
    if (c.status != DS_OK) return c.status; /* the hook kept the message */
    return fail(DS_ERROR_NOT_IMPLEMENTED, "deepseek-cuda's planner does not handle this call of '%s' (its operands)",
                op_name(op->id));
}
