/* dsk_planner.h: the planner's entry point and what its files share.
 *
 * The geometry macros (DSK_MAXD, DSK_MAXT, DSK_FMAXT, DSK_LS, DSK_MW, DSK_MT, DSK_MD, DSK_MDW,
 * DSK_PARAM_SIZES) come from deepseek.backends.kernels.macros() through the backend's build,
 * so C and the generated kernels share one declaration.
 */
#ifndef DSK_PLANNER_H
#define DSK_PLANNER_H

#include <stdint.h>

#include "deepseek_backend.h"
#include "dsk_plan.h"

#if !defined(DSK_MAXD) || !defined(DSK_MAXT) || !defined(DSK_FMAXT) || !defined(DSK_LS) || !defined(DSK_PARAM_SIZES) || !defined(DSK_MAX_GROUPS_YZ)
#error "build with the macros of deepseek.backends.kernels.macros()"
#endif

#define DSK_N_DTYPES 10
#define DSK_MAX_DIMS 64    /* operands with more dims are punted */
#define DSK_MAX_TENSORS 8  /* as are launches with more tensors */
#define DSK_MAX_ARGS 16
#define DSK_META_LONGS(nt) (DSK_MAXD + (nt) * DSK_MAXD + (nt) + 1)

enum { DSK_DONE = 0, DSK_PUNT = 1 };

/* One operand: a parsed ds_tensor_desc. */
typedef struct dsk_tensor {
    dsk_mem mem;
    int32_t dtype, ndim;
    const int64_t *shape, *strides;
    int64_t offset, numel;
} dsk_tensor;

/* One call of dsk_plan, once its operands check out. */
typedef struct dsk_launch {
    const dsk_hooks *hooks;
    void *ctx;
    const dsk_registry *reg;
    int32_t op, kind, code;
    const void *attrs;
    dsk_tensor t[DSK_MAX_TENSORS];
    int nt;
} dsk_launch;

/* The entry point: parses the n descriptors, checks them against their buffers and runs op
 * through the hooks. DSK_DONE when everything was enqueued; DSK_PUNT, with nothing enqueued,
 * for an op the registry does not give the planner and for anything it does not handle. */
int dsk_plan(const dsk_hooks *hooks, void *ctx, const dsk_registry *reg, const ds_op *op,
             const ds_tensor_desc *tensors, int32_t n);

/* Whether the registry gives op to the planner at all (a cheap test before preparing a launch). */
static inline int dsk_handles(const dsk_registry *reg, const ds_op *op) {
    return op != NULL && op->id >= 0 && op->id < reg->n_ops && reg->kinds[op->id] != DSK_FALLBACK;
}

/* dsk_tensors.c */
extern const int dsk_dtype_size[DSK_N_DTYPES];
extern const int dsk_compute_size[DSK_N_DTYPES]; /* bytes of each dtype's compute type (kernels.D[...].ctsize) */
int dsk_parse(const ds_tensor_desc *d, dsk_tensor *t);
int dsk_in_bounds(dsk_launch *L, const dsk_tensor *t);
int dsk_same_shape(const dsk_tensor *a, const dsk_tensor *b);
int dsk_prod(const int64_t *shape, int n, int64_t *out);
int dsk_make_meta(const int64_t *shape, int ndim, int nt, const int64_t *const *strides, const int64_t *offsets,
                  int64_t *meta);
int dsk_make_params(const int64_t *values, int n, int64_t *params);
size_t dsk_roundup(int64_t n, int64_t m);

/* dsk_ops.c: the dispatch and what the families share */
#define DSK_ANSWER(e)                         \
    do {                                      \
        if ((e) != DSK_DONE) return DSK_PUNT; \
    } while (0)
#define DSK_MEM(t) ((dsk_arg){sizeof(dsk_mem), &(t)->mem})
#define DSK_LONG(v) ((dsk_arg){sizeof(int64_t), &(v)})
#define DSK_INT(v) ((dsk_arg){sizeof(int32_t), &(v)})
int dsk_supports(dsk_launch *L, int32_t dtype);
int dsk_enqueue(dsk_launch *L, int32_t dtype, int32_t kernel, const dsk_arg *args, int nargs, uint32_t dims,
                const size_t *global, const size_t *local);
int dsk_ew(dsk_launch *L, int32_t dtype, int32_t name, dsk_tensor *const *ts, int nt, const int64_t *shape, int ndim,
           const dsk_arg *extra, int nextra);
int dsk_copy(dsk_launch *L, dsk_tensor *out, dsk_tensor *x);
int dsk_cast(dsk_launch *L, dsk_tensor *out, dsk_tensor *x);
int dsk_fill(dsk_launch *L, dsk_tensor *out, int32_t kind, int64_t i, double f);
int dsk_dim(int64_t d, int ndim, int *out);
void dsk_lift(dsk_tensor *t);
int dsk_view(const dsk_tensor *t, const int64_t *shape, int ndim, const int64_t *strides, int64_t offset,
             dsk_tensor *view);

/* the families, by file */
int dsk_run_unary(dsk_launch *L);
int dsk_run_polygamma(dsk_launch *L);
int dsk_run_binary(dsk_launch *L);
int dsk_run_where(dsk_launch *L);
int dsk_run_cast_copy(dsk_launch *L);
int dsk_run_fill(dsk_launch *L);
int dsk_run_arange(dsk_launch *L);
int dsk_run_cat(dsk_launch *L);
int dsk_run_pad(dsk_launch *L);
int dsk_run_random(dsk_launch *L);
int dsk_run_reduce(dsk_launch *L);
int dsk_run_arg_reduce(dsk_launch *L);
int dsk_run_cumulative(dsk_launch *L);
int dsk_run_matmul(dsk_launch *L);
int dsk_run_gather(dsk_launch *L);
int dsk_run_index_select(dsk_launch *L);
int dsk_run_scatter(dsk_launch *L);
int dsk_run_index_add(dsk_launch *L);
int dsk_run_index(dsk_launch *L);
int dsk_run_index_put(dsk_launch *L);
int dsk_run_conv2d(dsk_launch *L);
int dsk_run_conv2d_input_grad(dsk_launch *L);
int dsk_run_conv2d_weight_grad(dsk_launch *L);
int dsk_run_sort(dsk_launch *L);

/* dsk_matmul.c: out (B, M, N) = a (B, M, K) @ b (B, K, N) of one dtype, any strides, unchecked */
int dsk_matmul(dsk_launch *L, dsk_tensor *out, dsk_tensor *a, dsk_tensor *b);
/* scratch memory through the hooks (DSK_PUNT when it cannot be had) and its release */
int dsk_temp(dsk_launch *L, int64_t nbytes, dsk_tensor *t, int32_t dtype);
void dsk_release(dsk_launch *L, dsk_tensor *t);

/* dsk_program.c: the arguments of a generated elementwise program (kernels.fused, ABI 2.1's
 * launch_program): the n buffers (outputs first), Meta<n> and the element count, over
 * tensors[0]'s shape. dsk_program_call fills them after checking every operand (its dtype,
 * that shape, inside its buffer through hooks->buffer_size); DSK_PUNT for anything else
 * (the backend then answers DS_ERROR_NOT_IMPLEMENTED and the core runs the steps one launch
 * each, whose checks report any error). numel 0 means nothing to enqueue. */
typedef struct dsk_program_args {
    dsk_tensor t[DSK_FMAXT];
    int64_t meta[DSK_META_LONGS(DSK_FMAXT)];
    int64_t numel;
    dsk_arg args[DSK_FMAXT + 2];
    int nargs;
    size_t global; /* roundup(numel, DSK_LS) work items */
} dsk_program_args;
int dsk_program_call(const dsk_hooks *hooks, void *ctx, const ds_tensor_desc *tensors, int32_t n,
                     dsk_program_args *a);

#endif /* DSK_PLANNER_H */
