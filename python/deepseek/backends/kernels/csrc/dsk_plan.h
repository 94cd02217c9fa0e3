/* dsk_plan.h: the shared C launch planner of the portable kernels (docs/kernels.md, section 3).
 *
 * A backend compiles dsk_planner.c (it includes the planner's other files) into its own C
 * table with this folder and the one of deepseek_backend.h on the include path, and the
 * geometry macros of deepseek.backends.kernels.macros() (DSK_MAXD, DSK_MAXT, DSK_LS, DSK_MW,
 * DSK_MT, DSK_MD, DSK_MDW, DSK_PARAM_SIZES...). The planner knows no driver API: it reads
 * launch's tensor descriptors, checks them, coalesces dims, fills the kernels' argument blocks
 * and picks kernels and work sizes; the backend's hooks enqueue.
 *
 * The contract: dsk_plan either enqueues exactly what the op needs and answers DSK_DONE, or it
 * finds something it does not handle (any invalid operand included) before enqueueing
 * anything and answers DSK_PUNT; the backend then hands the launch to its fallback (the
 * OpenCL plugin: its Python table, whose checks raise the error with its message). So errors
 * have one source.
 *
 * cffi's cdef may parse this file's declarations too; the enums and structs use no macros
 * (see the end of the file for the parts cdef skips).
 */
#ifndef DSK_PLAN_H
#define DSK_PLAN_H

#include <stddef.h>
#include <stdint.h>

/* How the planner runs an op: an op id's entry in the registry the backend fills at load time
 * (deepseek.backends.kernels.plan_registry). DSK_FALLBACK ops are always punted. */
enum dsk_kind {
    DSK_FALLBACK = 0,
    DSK_UNARY = 1,       /* k_unary, code = index in kernels.UNARY */
    DSK_LOGICAL_NOT = 2, /* k_logical_not */
    DSK_BINARY = 3,      /* k_binary, code = index in kernels.BINARY */
    DSK_PREDICATE = 4,   /* k_predicate (compare and logical ops), code = index in kernels.PREDICATES */
    DSK_WHERE = 5,
    DSK_CAST = 6,
    DSK_COPY = 7,
    DSK_FILL = 8,
    DSK_REDUCE = 9,      /* k_red (+ k_redf), code = index in kernels.REDUCE */
    DSK_MATMUL = 10,
    DSK_ARANGE = 11,
    DSK_ARG_REDUCE = 12, /* code 1 for argmin */
    DSK_CUMULATIVE = 13, /* code 1 for cumprod */
    DSK_CAT = 14,
    DSK_PAD = 15,
    DSK_GATHER = 16,
    DSK_INDEX_SELECT = 17,
    DSK_SCATTER = 18,    /* code 1 for scatter_add */
    DSK_INDEX_ADD = 19,
    DSK_RANDOM = 20,     /* code = index in kernels.RANDOM */
    DSK_POLYGAMMA = 21,
    DSK_CONV2D = 22,     /* k_conv2d, or k_im2col + matmul */
    DSK_CONV2D_INPUT_GRAD = 23,  /* k_conv2d_input_grad, or matmul + k_col2im */
    DSK_CONV2D_WEIGHT_GRAD = 24, /* k_conv2d_weight_grad (+ k_redf), or k_im2col + copy + matmul */
    DSK_INDEX = 25,      /* k_index<k> for k index tensors */
    DSK_INDEX_PUT = 26,  /* copy, then k_index_put<k> */
    DSK_SORT = 27,       /* code 1 for topk: k_sort, or k_sort_block + k_sort_merge passes + k_sort_final */
    DSK_N_KINDS = 28
};

/* The kernels the planner enqueues, by id: DSK_KERNEL_NAME(id) is the name in every program. */
enum dsk_kernel {
    DSK_k_unary, DSK_k_logical_not, DSK_k_binary, DSK_k_predicate, DSK_k_where, DSK_k_cast, DSK_k_copy,
    DSK_k_fill, DSK_k_arange_f, DSK_k_arange_i, DSK_k_red, DSK_k_redf, DSK_k_argreduce, DSK_k_cumulative,
    DSK_k_matmul, DSK_k_matmul_direct, DSK_k_take, DSK_k_scatter, DSK_k_rand, DSK_k_randn, DSK_k_randint,
    DSK_k_randperm, DSK_k_bernoulli, DSK_k_polygamma, DSK_k_conv2d, DSK_k_conv2d_input_grad,
    DSK_k_conv2d_weight_grad, DSK_k_im2col, DSK_k_col2im, DSK_k_index1, DSK_k_index2, DSK_k_index3, DSK_k_index4,
    DSK_k_index_put1, DSK_k_index_put2, DSK_k_index_put3, DSK_k_index_put4, DSK_k_sort, DSK_k_sort_block,
    DSK_k_sort_merge, DSK_k_sort_final,
    DSK_N_KERNELS
};

/* A device buffer as the backend's API names it (cl_mem, CUdeviceptr, hipDeviceptr_t): opaque
 * to the planner, which passes it to kernels as an 8-byte argument and never offsets it
 * (offsets, in elements, travel in the argument blocks). 0 is the empty buffer. */
typedef uint64_t dsk_mem;

/* One kernel argument: `size` bytes at `value` (the hook copies them before returning). */
typedef struct dsk_arg {
    size_t size;
    const void *value;
} dsk_arg;

/* What a backend supplies; `ctx` is its own per-launch state (device, stream...), passed back
 * to every hook unchanged. Hooks answer DSK_DONE (0) or DSK_PUNT (1). */
typedef struct dsk_hooks {
    /* Sets the arguments and enqueues kernel `kernel` (enum dsk_kernel) of the program of
     * `dtype` (ABI dtype code) over `dims` axes: global[d] work items along axis d, a multiple
     * of local[d], the work-group (block) size. local NULL: a 1-d launch whose work-group is
     * the kernel's own size (kernels.LS, or the largest power of two below it the kernel
     * allows; global[0] is then a multiple of kernels.LS). DSK_PUNT only when nothing was
     * enqueued (a kernel the program lacks, a driver error). */
    int (*enqueue)(void *ctx, int32_t dtype, int32_t kernel, const dsk_arg *args, int32_t nargs, uint32_t dims,
                   const size_t *global, const size_t *local);
    /* Whether the device computes dtype (float64 needs fp64 support). */
    int (*supports)(void *ctx, int32_t dtype);
    /* Whether matmul takes k_matmul_direct (no local memory; for CPU devices) rather than the
     * tiled k_matmul. */
    int (*direct_matmul)(void *ctx);
    /* The size in bytes of the buffer `mem` (every operand is checked against it before a
     * launch); DSK_PUNT when it cannot tell. */
    int (*buffer_size)(void *ctx, dsk_mem mem, uint64_t *nbytes);
    /* A scratch buffer of nbytes (> 0) for the kernels enqueued next, and its release, called
     * right after those are enqueued: the backend keeps the memory until they have run
     * (OpenCL's reference counting does; a stream-ordered free does). */
    int (*temp_alloc)(void *ctx, uint64_t nbytes, dsk_mem *mem);
    void (*temp_free)(void *ctx, dsk_mem mem);
    /* Optional (NULL: yes): whether a convolution with one group may run as im2col + matmul
     * rather than the direct kernels (the OpenCL plugin: not with DEEPSEEK_OPENCL_CONV=direct). */
    int (*conv_gemm)(void *ctx);
} dsk_hooks;

/* What the backend's Python side computes at load time (deepseek.backends.kernels.plan_registry),
 * by op id and dtype code; the arrays must outlive the planner's use. */
typedef struct dsk_registry {
    int32_t n_ops;
    const uint8_t *kinds;   /* [n_ops]: enum dsk_kind */
    const int32_t *codes;   /* [n_ops]: the op's code in its kernel */
    const uint8_t *defined; /* [n_ops * 10]: whether unary/binary op has an expression for dtype */
    uint8_t acc_size[10];   /* by dtype: bytes of the reduction accumulator */
    double rand_top[10];    /* by dtype: the largest uniform number rand stores (floats) */
} dsk_registry;

/* The name of kernel id (enum dsk_kernel), NULL past the last. */
const char *dsk_kernel_name(int32_t kernel);

/* The stored bits of a fill value (ds_scalar kind, i, f) converted to dtype, as k_fill stores
 * them: bool is value != 0; a float to an integer truncates and saturates (NaN to 0); integers
 * wrap to the width; floats round to nearest even. */
uint64_t dsk_fill_bits(int32_t dtype, int32_t kind, int64_t i, double f);

#endif /* DSK_PLAN_H */
