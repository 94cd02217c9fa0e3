/* api.h: what the compiled module deepseek_opencl._launch offers its Python side
 * (deepseek_opencl/table.py). cffi's cdef parses this file too (csrc/build_launch.py), so it
 * holds no macros besides the include guard.
 */
#ifndef OCL_API_H
#define OCL_API_H

#include <stdint.h>

/* The name of the i-th OpenCL function ocl_init expects, NULL past the last. */
const char *ocl_cl_name(int32_t i);

/* Fills the table (once per process; later calls return 1 and change nothing).
 * python_table: the ds_backend_table of Python callbacks (deepseek.backends.abi.build_table)
 * that takes what C hands over. The rest is the shared planner's registry
 * (deepseek.backends.kernels.plan_registry, dsk_plan.h): kinds/codes, n_ops entries by op id
 * (a kind of 0 goes to the Python table); defined: n_ops * 10 flags, whether op (unary or
 * binary) has an expression for dtype; by dtype (10 each): acc_sizes, the size of the
 * reduction accumulator, and rand_tops, the largest uniform number rand stores. */
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

/* Kernels C has enqueued: the planner's family kernels, and generated programs
 * (launch_program, one per fused elementwise node run). */
int64_t ocl_kernel_launches(void);
int64_t ocl_program_launches(void);

/* The stored bits of a fill value (ds_scalar kind, i, f) converted to dtype, as fill stores
 * them (the shared planner's, dsk_plan.h). */
uint64_t dsk_fill_bits(int32_t dtype, int32_t kind, int64_t i, double f);

/* Benchmark only: times `iterations` calls of `table`'s launch (a ds_backend_table; NULL for
 * this one) in a C loop (launch_s, seconds per call), then `iterations` bare clSetKernelArg +
 * clEnqueueNDRangeKernel rounds on the kernel, arguments and queue of the last kernel this
 * table's launch enqueues (floor_s, seconds per round). pace_s > 0 starts a round every
 * pace_s seconds and counts only the rounds' own time. op points to a ds_op, tensors to
 * n_tensors ds_tensor_desc. Returns a ds_status. */
int32_t ocl_bench(const void *table, int32_t device, const void *op, const void *tensors, int32_t n_tensors,
                  int64_t iterations, double pace_s, double *launch_s, double *floor_s);

#endif /* OCL_API_H */
