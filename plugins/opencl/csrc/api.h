/* api.h: what the compiled module deepseek_opencl._launch offers its Python side
 * (deepseek_opencl/ctable.py). cffi's cdef parses this file too (csrc/build_launch.py), so it
 * holds no macros besides the include guard.
 */
#ifndef OCL_API_H
#define OCL_API_H

#include <stdint.h>

/* How C runs an op: an op id's entry in the registry Python fills at load time (from the op
 * families of deepseek_opencl/ops.py and kernels.py). OCL_PYTHON ops go to the Python table. */
enum ocl_kind {
    OCL_PYTHON = 0,
    OCL_UNARY = 1,       /* k_unary, code = index in kernels.UNARY */
    OCL_LOGICAL_NOT = 2, /* k_logical_not */
    OCL_BINARY = 3,      /* k_binary, code = index in kernels.BINARY */
    OCL_PREDICATE = 4,   /* k_predicate (compare and logical ops), code = index in kernels.PREDICATES */
    OCL_WHERE = 5,
    OCL_CAST = 6,
    OCL_COPY = 7,
    OCL_FILL = 8,
    OCL_REDUCE = 9,      /* k_red (+ k_redf), code = index in kernels.REDUCE */
    OCL_MATMUL = 10,
    OCL_ARANGE = 11,
    OCL_ARG_REDUCE = 12, /* code 1 for argmin */
    OCL_CUMULATIVE = 13, /* code 1 for cumprod */
    OCL_CAT = 14,
    OCL_PAD = 15,
    OCL_GATHER = 16,
    OCL_INDEX_SELECT = 17,
    OCL_SCATTER = 18,    /* code 1 for scatter_add */
    OCL_INDEX_ADD = 19,
    OCL_RANDOM = 20,     /* code = index in kernels.RANDOM */
    OCL_POLYGAMMA = 21,
    OCL_N_KINDS = 22
};

/* The name of the i-th OpenCL function ocl_init expects, NULL past the last. */
const char *ocl_cl_name(int32_t i);

/* Fills the table (once per process; later calls return 1 and change nothing).
 * python_table: the ds_backend_table of Python callbacks (deepseek.backends.abi.build_table)
 * that takes what C hands over. kinds/codes: n_ops entries by op id; defined: n_ops * 10
 * flags, whether op (unary or binary) has an expression for dtype; by dtype (10 each):
 * acc_sizes, the size of the reduction accumulator, and rand_tops, the largest uniform
 * number rand stores (floats only). */
int32_t ocl_init(void *python_table, void *const *cl_functions, int32_t n_devices, int32_t n_ops,
                 const uint8_t *kinds, const int32_t *codes, const uint8_t *defined,
                 const uint8_t *acc_sizes, const double *rand_tops);

/* The ds_backend_table (its address is what the load hook returns). */
void *ocl_table(void);

/* Python's answer to ocl_py_device: the device's context and default queue, its features. */
void ocl_set_device(int32_t device, void *context, void *queue, int32_t fp64, int32_t is_cpu);

/* How many times C has called into Python (launches handed over, devices and kernels it
 * had not seen): zero per launch of an op C runs, once warm. */
int64_t ocl_python_calls(void);

/* The stored bits of a fill value (ds_scalar kind, i, f) converted to dtype, as fill stores them. */
uint64_t ocl_fill_bits(int32_t dtype, int32_t kind, int64_t i, double f);

/* Benchmark only: times `iterations` calls of `table`'s launch (a ds_backend_table; NULL for
 * this one) in a C loop (launch_s, seconds per call), then `iterations` bare clSetKernelArg +
 * clEnqueueNDRangeKernel rounds on the kernel, arguments and queue of the last kernel this
 * table's launch enqueues (floor_s, seconds per round). pace_s > 0 starts a round every
 * pace_s seconds and counts only the rounds' own time. op points to a ds_op, tensors to
 * n_tensors ds_tensor_desc. Returns a ds_status. */
int32_t ocl_bench(const void *table, int32_t device, const void *op, const void *tensors, int32_t n_tensors,
                  int64_t iterations, double pace_s, double *launch_s, double *floor_s);

#endif /* OCL_API_H */
