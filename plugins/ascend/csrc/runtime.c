/* runtime.c: CANN's libraries opened at run time, the ds_backend_table, devices, memory,
 * copies and streams over the ACL runtime. The launch path is aclnn_ops.c. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <glob.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ascend.h"

asc_acl ASC;
int32_t asc_way_of[DS_N_OPS];
uint64_t asc_product_bytes = 64ull << 20;

static void *libs[32];
static int n_libs;
static int32_t n_devices = -1;
static aclrtStream streams[ASC_MAX_DEVICES];
static int32_t declared[DS_N_OPS];
static int64_t n_declared;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread char err[2048];

/* ---- errors ---------------------------------------------------------------------------- */

ds_status asc_fail(ds_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, sizeof err, fmt, ap);
    va_end(ap);
    return status;
}

const char *asc_error(void) { return err; }

static const char *recent_message(void) {
    const char *m = ASC.aclGetRecentErrMsg ? ASC.aclGetRecentErrMsg() : NULL;
    return m && *m ? m : "no message from aclGetRecentErrMsg";
}

ds_status asc_acl_check(aclError e, const char *what) {
    if (e == 0)
        return DS_OK;
    return asc_fail(e == ACL_ERROR_RT_MEMORY_ALLOCATION ? DS_ERROR_OUT_OF_MEMORY : DS_ERROR,
                    "%s failed with ACL error %d: %s", what, e, recent_message());
}

/* ---- opening CANN ---------------------------------------------------------------------- */

static int open_one(const char *dir, const char *name) {
    char path[4096];
    if (dir && *dir)
        snprintf(path, sizeof path, "%s/%s", dir, name);
    else
        snprintf(path, sizeof path, "%s", name);
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!h)
        return 0;
    if (n_libs < (int)(sizeof libs / sizeof libs[0]))
        libs[n_libs++] = h;
    return 1;
}

/* The op libraries: libopapi.so, or newer CANN's split libopapi_*.so. */
static int open_op_libraries(const char *dir) {
    if (open_one(dir, "libopapi.so"))
        return 1;
    if (!dir || !*dir)
        return 0;
    char pattern[4096];
    snprintf(pattern, sizeof pattern, "%s/libopapi_*.so", dir);
    glob_t g;
    int found = 0;
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            found += open_one(NULL, g.gl_pathv[i]);
        globfree(&g);
    }
    return found > 0;
}

static void *lookup(const char *name) {
    for (int i = 0; i < n_libs; i++) {
        void *p = dlsym(libs[i], name);
        if (p)
            return p;
    }
    return NULL;
}

int32_t asc_open(const char *const *dirs, int32_t n_dirs) {
    pthread_mutex_lock(&lock);
    if (ASC.aclInit) {
        pthread_mutex_unlock(&lock);
        return DS_OK;
    }
    const char *dir = NULL;
    int ok = 0;
    for (int i = 0; i < n_dirs && !ok; i++)
        if (open_one(dirs[i], "libascendcl.so")) {
            dir = dirs[i];
            ok = 1;
        }
    if (!ok && open_one(NULL, "libascendcl.so"))
        ok = 1;
    if (!ok) {
        pthread_mutex_unlock(&lock);
        return asc_fail(DS_ERROR_NOT_IMPLEMENTED, "libascendcl.so not found");
    }
    if (!open_one(dir, "libnnopbase.so") || !open_op_libraries(dir)) {
        pthread_mutex_unlock(&lock);
        return asc_fail(DS_ERROR_NOT_IMPLEMENTED, "CANN's operator libraries (libnnopbase.so, libopapi.so or "
                        "libopapi_*.so) not found beside %s/libascendcl.so", dir ? dir : "the loader path's");
    }
    asc_acl a;
    memset(&a, 0, sizeof a);
    const char *missing = NULL;
#define ASC_RESOLVE(ret, name, args) \
    if (!(a.name = (ret(*) args)lookup(#name)) && !missing) missing = #name;
    ASC_ACL_FUNCTIONS(ASC_RESOLVE)
#undef ASC_RESOLVE
    if (missing) {
        pthread_mutex_unlock(&lock);
        return asc_fail(DS_ERROR, "the CANN install lacks %s", missing);
    }
    for (int i = 0; i < ASC_N_OPERATORS; i++) {
        char name[256];
        snprintf(name, sizeof name, "%sGetWorkspaceSize", ASC_OPERATORS[i]);
        a.workspace_fn[i] = lookup(name);
        a.run_fn[i] = (aclnn_run_fn)lookup(ASC_OPERATORS[i]);
        if (!a.run_fn[i])
            a.workspace_fn[i] = NULL;
    }
    ASC = a;
    pthread_mutex_unlock(&lock);
    return DS_OK;
}

int32_t asc_operator_found(int32_t i) { return i >= 0 && i < ASC_N_OPERATORS && ASC.workspace_fn[i] != NULL; }
const char *asc_operator_name(int32_t i) { return i >= 0 && i < ASC_N_OPERATORS ? ASC_OPERATORS[i] : NULL; }
int32_t asc_op_way(int32_t op) { return op >= 0 && op < DS_N_OPS ? asc_way_of[op] : -1; }

/* ---- the table ------------------------------------------------------------------------- */

static ds_status t_device_count(int32_t *count) {
    *count = n_devices < 0 ? 0 : n_devices;
    return DS_OK;
}

/* The device's context is made current on the calling thread only when another one is (the
 * runtime counts aclrtSetDevice calls); its stream is created on its first use. */
ds_status asc_use_device(int32_t device) {
    if (device < 0 || device >= n_devices)
        return asc_fail(DS_ERROR_INVALID_ARGUMENT, "ascend:%d does not exist (%d device(s))", device, n_devices);
    int32_t current = -1;
    ds_status st = DS_OK;
    if (ASC.aclrtGetDevice(&current) != 0 || current != device)
        st = asc_acl_check(ASC.aclrtSetDevice(device), "aclrtSetDevice");
    if (!st && !streams[device]) {
        pthread_mutex_lock(&lock);
        if (!streams[device])
            st = asc_acl_check(ASC.aclrtCreateStream(&streams[device]), "aclrtCreateStream");
        pthread_mutex_unlock(&lock);
    }
    return st;
}

aclrtStream asc_default_stream(int32_t device) { return streams[device]; }

/* Scratch blocks (workspaces, temporaries) go back with aclrtFree only after the stream has
 * run the work that uses them: they wait here until the next synchronisation, or until the
 * list grows past its bounds, when the stream is synchronised and they are all freed. Until
 * then a later launch on the same stream may take one again (asc_scratch_alloc). */
typedef struct pending { void *ptr; uint64_t nbytes; } pending;
static pending *waiting[ASC_MAX_DEVICES];
static int64_t n_waiting[ASC_MAX_DEVICES], cap_waiting[ASC_MAX_DEVICES];
static uint64_t bytes_waiting[ASC_MAX_DEVICES];
#define ASC_PENDING_BYTES (256ull << 20)
#define ASC_PENDING_BLOCKS 512

static void free_waiting(int32_t device) {
    pthread_mutex_lock(&lock);
    for (int64_t i = 0; i < n_waiting[device]; i++)
        ASC.aclrtFree(waiting[device][i].ptr);
    n_waiting[device] = 0;
    bytes_waiting[device] = 0;
    pthread_mutex_unlock(&lock);
}

static ds_status release_waiting(int32_t device) {
    ds_status st = asc_acl_check(ASC.aclrtSynchronizeStream(streams[device]), "aclrtSynchronizeStream");
    if (!st)
        free_waiting(device);
    return st;
}

ds_status asc_scratch_alloc(int32_t device, uint64_t *nbytes, void **ptr, aclrtStream stream) {
    /* A waiting block served the default stream's earlier work, which runs before anything
     * queued after it there: a launch on that stream may take it again at once. */
    if (stream == streams[device]) {
        pthread_mutex_lock(&lock);
        int64_t best = -1;
        for (int64_t i = 0; i < n_waiting[device]; i++) {
            uint64_t have = waiting[device][i].nbytes;
            if (have >= *nbytes && have <= 2 * *nbytes + 4096 && (best < 0 || have < waiting[device][best].nbytes))
                best = i;
        }
        if (best >= 0) {
            *ptr = waiting[device][best].ptr;
            *nbytes = waiting[device][best].nbytes;
            bytes_waiting[device] -= *nbytes;
            waiting[device][best] = waiting[device][--n_waiting[device]];
        }
        pthread_mutex_unlock(&lock);
        if (best >= 0)
            return DS_OK;
    }
    aclError e = ASC.aclrtMalloc(ptr, *nbytes ? *nbytes : 1, ACL_MEM_MALLOC_HUGE_FIRST);
    if (e == ACL_ERROR_RT_MEMORY_ALLOCATION && n_waiting[device] > 0) {
        release_waiting(device);
        e = ASC.aclrtMalloc(ptr, *nbytes ? *nbytes : 1, ACL_MEM_MALLOC_HUGE_FIRST);
    }
    return asc_acl_check(e, "aclrtMalloc (scratch)");
}

void asc_scratch_release(int32_t device, void *ptr, uint64_t nbytes, aclrtStream stream) {
    int flush;
    if (stream != streams[device]) { /* another stream's work: wait for it here */
        ASC.aclrtSynchronizeStream(stream);
        ASC.aclrtFree(ptr);
        return;
    }
    pthread_mutex_lock(&lock);
    if (n_waiting[device] == cap_waiting[device]) {
        int64_t cap = cap_waiting[device] ? 2 * cap_waiting[device] : 64;
        pending *p = realloc(waiting[device], (size_t)cap * sizeof *p);
        if (!p) { /* no room to wait: synchronise and free now */
            pthread_mutex_unlock(&lock);
            ASC.aclrtSynchronizeStream(streams[device]);
            ASC.aclrtFree(ptr);
            return;
        }
        waiting[device] = p;
        cap_waiting[device] = cap;
    }
    waiting[device][n_waiting[device]++] = (pending){ptr, nbytes};
    bytes_waiting[device] += nbytes;
    flush = bytes_waiting[device] > ASC_PENDING_BYTES || n_waiting[device] > ASC_PENDING_BLOCKS;
    pthread_mutex_unlock(&lock);
    if (flush)
        release_waiting(device);
}

static ds_status t_alloc(int32_t device, uint64_t nbytes, void **ptr) {
    ds_status st = asc_use_device(device);
    if (st)
        return st;
    *ptr = NULL;
    aclError e = ASC.aclrtMalloc(ptr, nbytes ? nbytes : 1, ACL_MEM_MALLOC_HUGE_FIRST);
    if (e == ACL_ERROR_RT_MEMORY_ALLOCATION && n_waiting[device] > 0) {
        release_waiting(device);
        e = ASC.aclrtMalloc(ptr, nbytes ? nbytes : 1, ACL_MEM_MALLOC_HUGE_FIRST);
    }
    return asc_acl_check(e, "aclrtMalloc");
}

static ds_status t_free(int32_t device, void *ptr) {
    ds_status st = asc_use_device(device);
    if (st)
        return st;
    /* the core frees a block only after its last use was queued: wait for it to run */
    st = asc_acl_check(ASC.aclrtSynchronizeStream(streams[device]), "aclrtSynchronizeStream");
    return st ? st : asc_acl_check(ASC.aclrtFree(ptr), "aclrtFree");
}

/* Host copies: the stream first runs what is queued before them, then a synchronous
 * aclrtMemcpy, which takes pageable host memory on every CANN version (aclrtMemcpyAsync from
 * pageable memory is only defined on newer ones) and is done with the host memory on return. */
static ds_status t_h2d(int32_t device, void *dst, uint64_t off, const void *src, uint64_t n, void *stream) {
    ds_status st = asc_use_device(device);
    if (st || n == 0)
        return st;
    aclrtStream s = stream ? stream : streams[device];
    st = asc_acl_check(ASC.aclrtSynchronizeStream(s), "aclrtSynchronizeStream");
    return st ? st : asc_acl_check(ASC.aclrtMemcpy((char *)dst + off, n, src, n, ACL_MEMCPY_HOST_TO_DEVICE), "aclrtMemcpy");
}

static ds_status t_d2h(int32_t device, void *dst, const void *src, uint64_t off, uint64_t n, void *stream) {
    ds_status st = asc_use_device(device);
    if (st || n == 0)
        return st;
    aclrtStream s = stream ? stream : streams[device];
    st = asc_acl_check(ASC.aclrtSynchronizeStream(s), "aclrtSynchronizeStream");
    if (!st && s == streams[device]) /* the default stream ran everything queued so far */
        free_waiting(device);
    return st ? st : asc_acl_check(ASC.aclrtMemcpy(dst, n, (const char *)src + off, n, ACL_MEMCPY_DEVICE_TO_HOST), "aclrtMemcpy");
}

static ds_status t_d2d(int32_t device, void *dst, uint64_t doff, const void *src, uint64_t soff, uint64_t n, void *stream) {
    ds_status st = asc_use_device(device);
    if (st || n == 0)
        return st;
    aclrtStream s = stream ? stream : streams[device];
    return asc_acl_check(ASC.aclrtMemcpyAsync((char *)dst + doff, n, (const char *)src + soff, n,
                                              ACL_MEMCPY_DEVICE_TO_DEVICE, s), "aclrtMemcpyAsync");
}

static ds_status t_synchronize(int32_t device) {
    ds_status st = asc_use_device(device);
    return st ? st : release_waiting(device);
}

static ds_status t_stream_create(int32_t device, void **stream) {
    ds_status st = asc_use_device(device);
    return st ? st : asc_acl_check(ASC.aclrtCreateStream(stream), "aclrtCreateStream");
}

static ds_status t_stream_destroy(int32_t device, void *stream) {
    ds_status st = asc_use_device(device);
    return st ? st : asc_acl_check(ASC.aclrtDestroyStream(stream), "aclrtDestroyStream");
}

static const char *t_last_error(void) { return err; }

static ds_backend_table table = {
    .struct_size = sizeof(ds_backend_table), .abi_major = DS_BACKEND_ABI_MAJOR, .abi_minor = DS_BACKEND_ABI_MINOR,
    .name = "ascend", .device_count = t_device_count, .alloc = t_alloc, .free = t_free, .memcpy_h2d = t_h2d,
    .memcpy_d2h = t_d2h, .memcpy_d2d = t_d2d, .synchronize = t_synchronize, .stream_create = t_stream_create,
    .stream_destroy = t_stream_destroy, .launch = asc_launch, .last_error = t_last_error,
};

/* Each op's first way whose operators all resolved. */
static void choose_ways(void) {
    n_declared = 0;
    for (int op = 0; op < DS_N_OPS; op++) {
        asc_way_of[op] = -1;
        if (op >= ASC_N_MAPPED)
            continue;
        const asc_mapping *m = &ASC_MAPPING[op];
        for (int w = 0; w < m->n_ways && asc_way_of[op] < 0; w++) {
            int ok = 1;
            for (int k = 0; k < m->ways[w].n_needs; k++)
                ok &= ASC.workspace_fn[m->ways[w].needs[k]] != NULL;
            if (ok)
                asc_way_of[op] = w;
        }
        if (asc_way_of[op] >= 0)
            declared[n_declared++] = op;
    }
    table.n_ops = n_declared;
    table.ops = declared;
}

int32_t asc_init(void) {
    pthread_mutex_lock(&lock);
    if (n_devices >= 0) {
        pthread_mutex_unlock(&lock);
        return DS_OK;
    }
    const char *bytes = getenv("DEEPSEEK_ASCEND_PRODUCT_BYTES");
    if (bytes && strtoull(bytes, NULL, 10) > 0)
        asc_product_bytes = strtoull(bytes, NULL, 10);
    ds_status st = asc_acl_check(ASC.aclInit(NULL), "aclInit");
    uint32_t count = 0;
    if (!st)
        st = asc_acl_check(ASC.aclrtGetDeviceCount(&count), "aclrtGetDeviceCount");
    if (count > ASC_MAX_DEVICES)
        count = ASC_MAX_DEVICES;
    if (!st) {
        n_devices = (int32_t)count;
        choose_ways();
    }
    pthread_mutex_unlock(&lock);
    return st;
}

void *asc_table(void) { return &table; }

int32_t asc_device_count(int32_t *count) {
    *count = n_devices < 0 ? 0 : n_devices;
    return n_devices < 0 ? asc_fail(DS_ERROR, "CANN is not initialised") : DS_OK;
}

const char *asc_soc_name(void) {
    const char *s = ASC.aclrtGetSocName ? ASC.aclrtGetSocName() : NULL;
    return s ? s : "";
}

int32_t asc_mem_get_info(int32_t device, uint64_t *free_bytes, uint64_t *total_bytes) {
    ds_status st = asc_use_device(device);
    size_t f = 0, t = 0;
    if (!st)
        st = asc_acl_check(ASC.aclrtGetMemInfo(ACL_HBM_MEM, &f, &t), "aclrtGetMemInfo");
    *free_bytes = f;
    *total_bytes = t;
    return st;
}
