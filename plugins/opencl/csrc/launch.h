/* launch.h: what the C launch path's files share.
 *
 * The contract: an op family's run_* function either enqueues exactly what the Python
 * implementation (deepseek_opencl/ops.py) would, with the same kernels, arguments and
 * work sizes, and answers OCL_DONE; or it finds something it does not handle (any invalid
 * operand included) before enqueueing and answers OCL_PUNT, and the launch goes to the
 * Python table, whose checks raise the error with its message. So errors have one source.
 *
 * OCL_MAXD, OCL_MAXT, OCL_LS, OCL_MW, OCL_MT, OCL_MD, OCL_MDW and OCL_PARAM_SIZES come from
 * deepseek_opencl/kernels.py through the build (csrc/build_launch.py).
 */
#ifndef OCL_LAUNCH_H
#define OCL_LAUNCH_H

#include <stdint.h>

#include "api.h"
#include "cl_api.h"
#include "deepseek_backend.h"

#define OCL_N_DTYPES 10
#define OCL_MAX_DIMS 64    /* operands with more dims go to the Python path */
#define OCL_MAX_TENSORS 8  /* as do launches with more tensors */
#define OCL_MAX_ARGS 16
#define OCL_META_LONGS(nt) (OCL_MAXD + (nt) * OCL_MAXD + (nt) + 1)

enum { OCL_DONE = 0, OCL_PUNT = 1 };

/* The kernels C launches (names as in kernels.py). */
#define OCL_KERNELS(X) X(k_unary) X(k_logical_not) X(k_binary) X(k_predicate) X(k_where) \
    X(k_cast) X(k_copy) X(k_fill) X(k_arange_f) X(k_arange_i) X(k_red) X(k_redf)          \
    X(k_argreduce) X(k_cumulative) X(k_matmul) X(k_matmul_direct) X(k_take) X(k_scatter)  \
    X(k_rand) X(k_randn) X(k_randint) X(k_randperm) X(k_bernoulli) X(k_polygamma)
enum ocl_kernel_name {
#define OCL_KERNEL_ENUM(n) OCL_##n,
    OCL_KERNELS(OCL_KERNEL_ENUM)
#undef OCL_KERNEL_ENUM
    OCL_N_KERNELS
};

/* One operand: a parsed ds_tensor_desc. */
typedef struct ocl_tensor {
    cl_mem mem;
    int32_t dtype, ndim;
    const int64_t *shape, *strides;
    int64_t offset, numel;
} ocl_tensor;

/* One kernel argument: `size` bytes at `value` (clSetKernelArg copies them). */
typedef struct ocl_arg {
    size_t size;
    const void *value;
} ocl_arg;

/* A kernel call recorded instead of enqueued (for ocl_bench). */
typedef struct ocl_capture {
    cl_kernel kernel;
    cl_command_queue queue;
    int nargs;
    size_t sizes[OCL_MAX_ARGS];
    unsigned char values[OCL_MAX_ARGS][512];
    cl_uint dims;
    size_t global[3], local[3];
} ocl_capture;

struct ocl_device;

/* One call of launch, once its device, queue and operands check out. */
typedef struct ocl_launch {
    struct ocl_device *dev;
    int32_t device;
    cl_command_queue queue;
    int32_t op, kind, code;
    const void *attrs;
    ocl_tensor t[OCL_MAX_TENSORS];
    int nt;
    ocl_capture *capture;
} ocl_launch;

/* table.c */
extern const uint8_t *ocl_defined; /* [op * OCL_N_DTYPES + dtype] */
extern uint8_t ocl_acc_size[OCL_N_DTYPES];
extern double ocl_rand_top[OCL_N_DTYPES];
int ocl_supports(const ocl_launch *L, int32_t dtype); /* float64 needs cl_khr_fp64 */
int ocl_is_cpu(const ocl_launch *L);
cl_context ocl_context(const ocl_launch *L);
/* Sets the arguments and enqueues kernel `name` of dtype's program under the device's lock;
 * local NULL means the kernel's 1-d work-group size. */
int ocl_enqueue(ocl_launch *L, int32_t dtype, int name, const ocl_arg *args, int nargs, cl_uint dims,
                const size_t *global, const size_t *local);

/* tensors.c */
extern const int ocl_dtype_size[OCL_N_DTYPES];
int ocl_parse(const ds_tensor_desc *d, ocl_tensor *t);
int ocl_in_bounds(const ocl_tensor *t);
int ocl_same_shape(const ocl_tensor *a, const ocl_tensor *b);
int ocl_prod(const int64_t *shape, int n, int64_t *out);
int ocl_make_meta(const int64_t *shape, int ndim, int nt, const int64_t *const *strides,
                  const int64_t *offsets, int64_t *meta);
int ocl_make_params(const int64_t *values, int n, int64_t *params);
size_t ocl_roundup(int64_t n, int64_t m);
uint64_t ocl_fill_bits(int32_t dtype, int32_t kind, int64_t i, double f);

/* ops.c: the dispatch and what the families share (ops.py's Launch helpers) */
#define OCL_ANSWER(e)                    \
    do {                                 \
        if ((e) != OCL_DONE) return OCL_PUNT; \
    } while (0)
#define OCL_MEM(t) ((ocl_arg){sizeof(cl_mem), &(t)->mem})
#define OCL_LONG(v) ((ocl_arg){sizeof(int64_t), &(v)})
#define OCL_INT(v) ((ocl_arg){sizeof(int32_t), &(v)})
int ocl_run(ocl_launch *L);
int ocl_ew(ocl_launch *L, int32_t dtype, int name, ocl_tensor *const *ts, int nt, const int64_t *shape, int ndim,
           const ocl_arg *extra, int nextra);
int ocl_copy(ocl_launch *L, ocl_tensor *out, ocl_tensor *x);
int ocl_cast(ocl_launch *L, ocl_tensor *out, ocl_tensor *x);
int ocl_fill(ocl_launch *L, ocl_tensor *out, int32_t kind, int64_t i, double f);
int ocl_dim(int64_t d, int ndim, int *out);
void ocl_lift(ocl_tensor *t);
int ocl_view(const ocl_tensor *t, const int64_t *shape, int ndim, const int64_t *strides, int64_t offset,
             ocl_tensor *view);

/* the families, by file */
int ocl_run_unary(ocl_launch *L);
int ocl_run_polygamma(ocl_launch *L);
int ocl_run_binary(ocl_launch *L);
int ocl_run_where(ocl_launch *L);
int ocl_run_cast_copy(ocl_launch *L);
int ocl_run_fill(ocl_launch *L);
int ocl_run_arange(ocl_launch *L);
int ocl_run_cat(ocl_launch *L);
int ocl_run_pad(ocl_launch *L);
int ocl_run_random(ocl_launch *L);
int ocl_run_reduce(ocl_launch *L);
int ocl_run_arg_reduce(ocl_launch *L);
int ocl_run_cumulative(ocl_launch *L);
int ocl_run_matmul(ocl_launch *L);
int ocl_run_gather(ocl_launch *L);
int ocl_run_index_select(ocl_launch *L);
int ocl_run_scatter(ocl_launch *L);
int ocl_run_index_add(ocl_launch *L);

/* Python callbacks (extern "Python+C" in the cdef; defined by cffi, run in ctable.py) */
int32_t ocl_py_device(int32_t device);
int32_t ocl_py_kernel(int32_t device, int32_t dtype, const char *name, void **kernel, size_t *local);

#endif /* OCL_LAUNCH_H */
