/* dsg_launch.c (included by dsg_host.c): modules, kernel launches and the shared planner's
 * hooks.
 *
 * launch runs primitive ops through the planner of the portable kernels (dsk_plan): it checks
 * the tensor descriptors, fills the argument blocks and picks kernels and work sizes; the
 * hooks here launch them (grid = global / local, block = local, kernelParams pointing at the
 * planner's (size, value) arguments, which the runtime reads during the launch call). A dtype's
 * program is compiled and loaded on its first launch on a device by the plugin's loader (its
 * Python side); after that a launch runs no Python.
 */
static const char *const DTYPE_NAMES[DSG_N_PROGRAMS] = {"bool",  "uint8",   "int8",     "int16",   "int32",
                                                        "int64", "float16", "bfloat16", "float32", "float64"};
static dsk_registry registry;
static int have_registry;
static char **op_names;
static int32_t n_op_names;
static int64_t python_calls;

int32_t dsg_set_registry(int32_t n_ops, const uint8_t *kinds, const int32_t *codes, const uint8_t *defined,
                         const uint8_t *acc_sizes, const double *rand_tops, const char *const *names) {
    size_t n = n_ops > 0 ? (size_t)n_ops : 1;
    uint8_t *k = calloc(n, 1), *def = calloc(n * DSG_N_PROGRAMS, 1);
    int32_t *c = calloc(n, sizeof *c);
    char **nm = calloc(n, sizeof *nm);
    if (!k || !def || !c || !nm) {
        free(k), free(def), free(c), free(nm);
        return dsg_fail(DS_ERROR_OUT_OF_MEMORY, "out of host memory");
    }
    memcpy(k, kinds, n_ops);
    memcpy(def, defined, (size_t)n_ops * DSG_N_PROGRAMS);
    memcpy(c, codes, sizeof *c * n_ops);
    for (int32_t i = 0; i < n_ops; i++) nm[i] = strdup(names[i]);
    registry.n_ops = n_ops;
    registry.kinds = k;
    registry.codes = c;
    registry.defined = def;
    memcpy(registry.acc_size, acc_sizes, sizeof registry.acc_size);
    memcpy(registry.rand_top, rand_tops, sizeof registry.rand_top);
    op_names = nm;
    n_op_names = n_ops;
    have_registry = 1;
    return DS_OK;
}

int64_t dsg_python_calls(void) { return __atomic_load_n(&python_calls, __ATOMIC_RELAXED); }

static const char *op_name(int32_t id) { return id >= 0 && id < n_op_names ? op_names[id] : "an unknown op"; }

int32_t dsg_module_load(int32_t device, const void *image, void **module) {
    DSG_DEVICE(d, device);
    void *m = NULL;
    DSG_CALL(api->module_load(&m, image), NULL, "%s on %s:%d", api->names.module_load, DEV_NAME(d));
    *module = m;
    return DS_OK;
}

int32_t dsg_module_function(int32_t device, void *module, const char *name, void **function) {
    DSG_DEVICE(d, device);
    void *f = NULL;
    DSG_CALL(api->module_function(&f, module, name), NULL, "%s(%s) on %s:%d", api->names.module_function, name,
             DEV_NAME(d));
    *function = f;
    return DS_OK;
}

int32_t dsg_module_unload(int32_t device, void *module) {
    DSG_DEVICE(d, device);
    DSG_CALL(api->module_unload(module), NULL, "%s on %s:%d", api->names.module_unload, DEV_NAME(d));
    return DS_OK;
}

/* DS_OK when grid x block (and the shared bytes) fit the device; else the message, so a bad
 * launch never reaches the runtime. An axis past its limit and a block past the thread or
 * shared-memory budget are told apart: each message names what to change. */
static ds_status check_limits(const dsg_device *d, const char *what, const uint32_t *grid, const uint32_t *block,
                              uint32_t shared_bytes) {
    const dsg_limits *lim = &d->limits;
    uint64_t threads = 1;
    int fits = 1;
    for (int i = 0; i < 3; i++) {
        threads *= block[i];
        fits = fits && grid[i] >= 1 && block[i] >= 1 && grid[i] <= (uint32_t)lim->max_grid[i] &&
               block[i] <= (uint32_t)lim->max_block[i];
    }
    if (!fits)
        return dsg_fail(DS_ERROR_INVALID_ARGUMENT,
                        "%s: grid (%u, %u, %u) x block (%u, %u, %u) is outside %s:%d's limits (grid <= (%d, %d, %d), "
                        "block <= (%d, %d, %d))",
                        what, grid[0], grid[1], grid[2], block[0], block[1], block[2], DEV_NAME(d), lim->max_grid[0],
                        lim->max_grid[1], lim->max_grid[2], lim->max_block[0], lim->max_block[1], lim->max_block[2]);
    if (threads > (uint64_t)lim->max_threads || shared_bytes > (uint32_t)lim->max_shared)
        return dsg_fail(DS_ERROR_INVALID_ARGUMENT,
                        "%s: block (%u, %u, %u) has %llu threads and %u shared bytes, which exceed %s:%d's %d threads "
                        "and %d shared bytes per block",
                        what, block[0], block[1], block[2], (unsigned long long)threads, shared_bytes, DEV_NAME(d),
                        lim->max_threads, lim->max_shared);
    return DS_OK;
}

ds_status dsg_launch_on(dsg_device *d, void *f, const char *label, const uint32_t *grid, const uint32_t *block,
                        uint32_t shared_bytes, void *stream, void **params) {
    const char *what = label && *label ? label : "a kernel";
    ds_status st = check_limits(d, what, grid, block, shared_bytes);
    if (st != DS_OK) return st;
    snprintf(d->last_launch, sizeof d->last_launch, "%s", what);
    DSG_CALL(api->launch(f, grid, block, shared_bytes, stream, params), NULL,
             "%s(%s, grid (%u, %u, %u), block (%u, %u, %u)) on %s:%d", api->names.launch, what, grid[0], grid[1],
             grid[2], block[0], block[1], block[2], DEV_NAME(d));
    return DS_OK;
}

int32_t dsg_launch_kernel(int32_t device, void *function, const char *label, const uint32_t *grid,
                          const uint32_t *block, uint32_t shared_bytes, void *stream, void **params) {
    DSG_DEVICE(d, device);
    return dsg_launch_on(d, function, label, grid, block, shared_bytes, stream, params);
}

const char *dsg_last_launch(int32_t device) {
    ds_status st;
    dsg_device *d = dsg_device_of(device, &st);
    return d ? d->last_launch : "";
}

/* One launch's state, handed to every hook. */
typedef struct dsg_ctx {
    dsg_device *d;
    int32_t op;
    void *stream;
    ds_status status; /* an error a hook met (its message is kept) */
} dsg_ctx;

/* Kernel `kernel` of dtype's program on c's device, loading the program on first use; NULL
 * when the program lacks it (c->status stays DS_OK: not implemented) or on an error. */
static void *function_of(dsg_ctx *c, int32_t dtype, int32_t kernel) {
    dsg_device *d = c->d;
    void *f = __atomic_load_n(&d->function[dtype][kernel], __ATOMIC_ACQUIRE);
    if (f) return f;
    if (__atomic_load_n(&d->program_state[dtype], __ATOMIC_ACQUIRE) == 0) {
        /* The loader (Python) builds the program with no lock held: a thread that holds the GIL
         * while it waits for program_lock would otherwise block the build it waits for. Two
         * threads may both build it; the first keeps its module, the other unloads its own. */
        void *module = NULL;
        __atomic_add_fetch(&python_calls, 1, __ATOMIC_RELAXED);
        dsg_keep_error("");
        int ok = program_loader && program_loader(d->index, dtype, &module) == 0 && module;
        char *why = ok ? NULL : strdup(*dsg_error() ? dsg_error() : "building the kernels failed");
        pthread_mutex_lock(&d->program_lock);
        if (d->program_state[dtype] == 0) {
            if (ok)
                d->module[dtype] = module;
            else
                d->program_error[dtype] = why, why = NULL; /* remembered: not built again at every launch */
            __atomic_store_n(&d->program_state[dtype], ok ? 1 : -1, __ATOMIC_RELEASE);
        } else if (ok) {
            api->module_unload(module);
        }
        pthread_mutex_unlock(&d->program_lock);
        free(why);
    }
    pthread_mutex_lock(&d->program_lock);
    if (d->program_state[dtype] < 0) {
        c->status = dsg_fail(DS_ERROR, "%s", d->program_error[dtype] ? d->program_error[dtype] : "no program");
    } else if (!(f = d->function[dtype][kernel]) && !d->missing[dtype][kernel]) {
        int r = api->module_function(&f, d->module[dtype], dsk_kernel_name(kernel));
        if (r == api->not_found) {
            d->missing[dtype][kernel] = 1;
            f = NULL;
        } else if (r != 0) {
            c->status = dsg_fail_call(r, NULL, "%s(%s) of the %s kernels on %s:%d", api->names.module_function,
                                      dsk_kernel_name(kernel), DTYPE_NAMES[dtype], DEV_NAME(d));
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
    dsg_ctx *c = ctx;
    if (dtype < 0 || dtype >= DSG_N_PROGRAMS || kernel < 0 || kernel >= DSK_N_KERNELS || nargs < 0 ||
        nargs > DSK_MAX_ARGS || dims < 1 || dims > 3)
        return DSK_PUNT;
    uint32_t grid[3] = {1, 1, 1}, block[3] = {1, 1, 1};
    for (uint32_t i = 0; i < dims; i++) {
        size_t l = local ? local[i] : (i == 0 ? DSK_LS : 1);
        if (global[i] == 0) return DSK_DONE; /* no work item: nothing to launch */
        if (l == 0 || global[i] % l || global[i] / l > 0xFFFFFFFFu || l > 0xFFFFFFFFu) return DSK_PUNT;
        block[i] = (uint32_t)l;
        grid[i] = (uint32_t)(global[i] / l);
    }
    void *f = function_of(c, dtype, kernel);
    if (!f) return DSK_PUNT;
    void *params[DSK_MAX_ARGS];
    for (int32_t i = 0; i < nargs; i++) params[i] = (void *)args[i].value;
    char label[DSG_MAX_LABEL];
    snprintf(label, sizeof label, "%s (%s, %s)", op_name(c->op), dsk_kernel_name(kernel), DTYPE_NAMES[dtype]);
    ds_status st = dsg_launch_on(c->d, f, label, grid, block, 0, c->stream, params);
    if (st != DS_OK) {
        c->status = st;
        return DSK_PUNT;
    }
    return DSK_DONE;
}

static int h_supports(void *ctx, int32_t dtype) { return dtype >= 0 && dtype < DSG_N_PROGRAMS; }

static int h_direct_matmul(void *ctx) { return 0; }

static int h_buffer_size(void *ctx, dsk_mem mem, uint64_t *nbytes) {
    if (!mem) {
        *nbytes = 0;
        return DSK_DONE;
    }
    dsg_mem base = 0;
    size_t size = 0;
    if (api->address_range(&base, &size, mem) != 0 || base > mem || mem - base > size) return DSK_PUNT;
    *nbytes = size - (mem - base);
    return DSK_DONE;
}

/* Scratch memory: stream-ordered where the runtime has it (freed after the kernels that use
 * it, without a sync); else a plain allocation, freed after the stream has drained. */
static int h_temp_alloc(void *ctx, uint64_t nbytes, dsk_mem *mem) {
    dsg_ctx *c = ctx;
    dsg_mem p = 0;
    int async = api->mem_alloc_async && !__atomic_load_n(&c->d->no_pools, __ATOMIC_RELAXED);
    int r = async ? api->mem_alloc_async(&p, nbytes, c->stream) : api->mem_alloc(&p, nbytes);
    if (r != 0 && async && r != api->out_of_memory) {
        /* a device without stream-ordered pools: plain allocations from now on */
        __atomic_store_n(&c->d->no_pools, 1, __ATOMIC_RELAXED);
        async = 0;
        r = api->mem_alloc(&p, nbytes);
    }
    if (r != 0) {
        c->status = dsg_fail_call(r, NULL, "%s(%llu bytes of scratch for %s) on %s:%d",
                                  async ? api->names.mem_alloc_async : api->names.mem_alloc, (unsigned long long)nbytes,
                                  op_name(c->op), DEV_NAME(c->d));
        return DSK_PUNT;
    }
    *mem = p;
    return DSK_DONE;
}

static void h_temp_free(void *ctx, dsk_mem mem) {
    dsg_ctx *c = ctx;
    if (!mem) return;
    if (api->mem_free_async && !__atomic_load_n(&c->d->no_pools, __ATOMIC_RELAXED)) {
        api->mem_free_async(mem, c->stream);
    } else { /* the kernels that use it must have run */
        api->stream_synchronize(c->stream);
        api->mem_free(mem);
    }
}

/* dsg_blas.c */
static ds_status dsg_blas_matmul(dsg_device *d, const ds_op *op, const ds_tensor_desc *t, int32_t n, void *stream);

static const dsk_hooks HOOKS = {h_enqueue, h_supports, h_direct_matmul, h_buffer_size, h_temp_alloc, h_temp_free};

ds_status dsg_plan_launch(dsg_device *d, const ds_op *op, const ds_tensor_desc *tensors, int32_t n_tensors,
                          void *stream) {
    if (!op) return dsg_fail(DS_ERROR_INVALID_ARGUMENT, "launch: no op");
    if (!have_registry)
        return dsg_fail(DS_ERROR_NOT_IMPLEMENTED, "%s: the kernel registry is not loaded", api->product);
    if (api->launch_first) {
        ds_status st = api->launch_first(d->index, op, tensors, n_tensors, stream);
        if (st != DS_ERROR_NOT_IMPLEMENTED) return st;
    }
    if (op->id == DS_OP_MATMUL) {
        ds_status st = dsg_blas_matmul(d, op, tensors, n_tensors, stream);
        if (st != DS_ERROR_NOT_IMPLEMENTED) return st;
    }
    if (!dsk_handles(&registry, op))
        return dsg_fail(DS_ERROR_NOT_IMPLEMENTED, "%s has no kernel for '%s'", api->product, op_name(op->id));
    dsg_ctx c = {d, op->id, stream, DS_OK};
    if (dsk_plan(&HOOKS, &c, &registry, op, tensors, n_tensors) == DSK_DONE) return DS_OK;
    if (c.status != DS_OK) return c.status; /* the hook kept the message */
    return dsg_fail(DS_ERROR_NOT_IMPLEMENTED, "%s's planner does not handle this call of '%s' (its operands)",
                    api->product, op_name(op->id));
}

/* --- generated programs (ABI 2.1): compiled by the plugin's source loader, one module each -- */

typedef struct dsg_program {
    void *module, *function;
    int32_t device;
    char name[64];
} dsg_program;

static int64_t program_launches;

int64_t dsg_program_launches(void) { return __atomic_load_n(&program_launches, __ATOMIC_RELAXED); }

static ds_status t_compile_program(int32_t device, const char *body, const char *name, void **program) {
    DSG_DEVICE(d, device);
    if (!source_loader) return dsg_fail(DS_ERROR_NOT_IMPLEMENTED, "%s compiles no generated kernels", api->product);
    if (!body || !name || strlen(name) >= sizeof ((dsg_program *)0)->name)
        return dsg_fail(DS_ERROR_INVALID_ARGUMENT, "compile_program: no body, or no kernel name under 64 bytes");
    void *module = NULL;
    __atomic_add_fetch(&python_calls, 1, __ATOMIC_RELAXED);
    dsg_keep_error("");
    if (source_loader(device, body, name, &module) != 0 || !module) {
        char why[sizeof error_buf]; /* the loader's message is in error_buf, which dsg_fail rewrites */
        snprintf(why, sizeof why, "%s", *dsg_error() ? dsg_error() : "compiling the generated kernel failed");
        return dsg_fail(DS_ERROR, "%s", why);
    }
    void *f = NULL;
    int r = api->module_function(&f, module, name);
    if (r != 0) {
        api->module_unload(module);
        return dsg_fail_call(r, NULL, "%s(%s) of a generated kernel on %s:%d", api->names.module_function, name,
                             DEV_NAME(d));
    }
    dsg_program *p = calloc(1, sizeof *p);
    if (!p) {
        api->module_unload(module);
        return dsg_fail(DS_ERROR_OUT_OF_MEMORY, "out of host memory");
    }
    p->module = module;
    p->function = f;
    p->device = device;
    snprintf(p->name, sizeof p->name, "%s", name);
    *program = p;
    return DS_OK;
}

/* Arguments from the shared planner's dsk_program_call (outputs' and inputs' pointers, MetaN,
 * n) as kernelParams; grid roundup(n, LS) / LS blocks of LS threads. */
static ds_status t_launch_program(int32_t device, void *program, const ds_tensor_desc *tensors, int32_t n,
                                  void *stream) {
    DSG_DEVICE(d, device);
    dsg_program *p = program;
    if (!p || p->device != device)
        return dsg_fail(DS_ERROR_INVALID_ARGUMENT, "launch_program: the program was not compiled for %s:%d",
                        DEV_NAME(d));
    dsg_ctx c = {d, -1, stream, DS_OK};
    dsk_program_args a;
    if (dsk_program_call(&HOOKS, &c, tensors, n, &a) != DSK_DONE)
        return dsg_fail(DS_ERROR_NOT_IMPLEMENTED, "launch_program: operands the generated kernel does not take");
    if (a.numel == 0) return DS_OK;
    if (a.global / DSK_LS > 0xFFFFFFFFu)
        return dsg_fail(DS_ERROR_NOT_IMPLEMENTED, "launch_program: %lld elements exceed one grid",
                        (long long)a.numel);
    void *params[DSK_FMAXT + 2];
    for (int i = 0; i < a.nargs; i++) params[i] = (void *)a.args[i].value;
    uint32_t grid[3] = {(uint32_t)(a.global / DSK_LS), 1, 1}, block[3] = {DSK_LS, 1, 1};
    char label[DSG_MAX_LABEL];
    snprintf(label, sizeof label, "fused elementwise (%s, %s)", p->name,
             a.t[0].dtype >= 0 && a.t[0].dtype < DSG_N_PROGRAMS ? DTYPE_NAMES[a.t[0].dtype] : "?");
    ds_status st = dsg_launch_on(d, p->function, label, grid, block, 0, stream, params);
    if (st == DS_OK) __atomic_add_fetch(&program_launches, 1, __ATOMIC_RELAXED);
    return st;
}

static ds_status t_release_program(int32_t device, void *program) {
    dsg_program *p = program;
    if (!p) return DS_OK;
    DSG_DEVICE(d, device);
    (void)d;
    int r = api->module_unload(p->module);
    free(p);
    if (r != 0) return dsg_fail_call(r, NULL, "%s of a generated kernel", api->names.module_unload);
    return DS_OK;
}
