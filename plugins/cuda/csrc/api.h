/* api.h: what the compiled module deepseek_cuda._launch offers its Python side
 * (deepseek_cuda/table.py). cffi's cdef parses this file too (csrc/build_launch.py), so it
 * holds no macros besides the include guard.
 *
 * Every int32_t result is a ds_status (0 = DS_OK); on failure cuda_error() holds the message
 * (per thread, until the next failing call). Device pointers, modules, functions, streams and
 * events are the driver's handles passed as void *.
 */
#ifndef CUDA_API_H
#define CUDA_API_H

#include <stdint.h>

/* Opens the driver (path NULL: libcuda.so.1), resolves the cu* functions and calls cuInit(0).
 * Once per process: later calls return the first call's status (and message) whatever the path.
 * A missing library answers 5 (no driver), so the probe can say so. */
int32_t cuda_open(const char *path);
/* The path the driver was opened from ("" before a successful cuda_open). */
const char *cuda_driver_path(void);
/* The message of the last failure on this thread. */
const char *cuda_error(void);
/* The ds_backend_table (its address is what the load hook returns). */
void *cuda_table(void);
/* The op ids the table declares native (copied); before the table's registration with the
 * core. Launches of other ops answer not implemented. */
void cuda_set_ops(const int32_t *ops, int64_t n_ops);

/* The shared planner's registry (deepseek.backends.kernels.plan_registry over the core's ops
 * in id order, copied) and the ops' names (for messages). Before the first launch. */
int32_t cuda_set_registry(int32_t n_ops, const uint8_t *kinds, const int32_t *codes, const uint8_t *defined,
                          const uint8_t *acc_sizes, const double *rand_tops, const char *const *names);
/* Keeps `message` as this thread's last error (the Python side's failures). */
void cuda_keep_error(const char *message);
/* How many times C called Python (a program to build): none per launch once warm. */
int64_t cuda_python_calls(void);

/* cuBLAS for matmul: dlopens `path` (once); DS_OK when loaded, else matmul keeps the portable
 * kernel. allow_tf32: float32 matmuls may use TensorFloat-32. cuda_cublas_calls counts GEMMs. */
int32_t cuda_open_cublas(const char *path);
int32_t cuda_cublas_loaded(void);
void cuda_set_allow_tf32(int32_t on);
int64_t cuda_cublas_calls(void);

/* Bytes per pinned staging buffer (two per device), for copies; set before the first copy
 * (0 keeps the default). */
void cuda_set_staging_bytes(uint64_t nbytes);
uint64_t cuda_staging_bytes(void);
/* Frees every device's pinned staging buffers and events (also run at exit). */
int32_t cuda_release_staging(void);

/* Device facts */
int32_t cuda_device_count(int32_t *count);
/* The CUDA version the driver implements (12040 for 12.4). */
int32_t cuda_driver_version(int32_t *version);
int32_t cuda_device_name(int32_t device, char *buf, int32_t n);
int32_t cuda_device_attribute(int32_t device, int32_t attr, int32_t *out);
int32_t cuda_total_mem(int32_t device, uint64_t *out);
int32_t cuda_mem_get_info(int32_t device, uint64_t *free_bytes, uint64_t *total_bytes);

/* Memory and streams beyond the table */
int32_t cuda_memset(int32_t device, void *ptr, uint64_t offset, uint8_t value, uint64_t nbytes, void *stream);
int32_t cuda_stream_synchronize(int32_t device, void *stream);
/* *idle = whether the stream has finished its work (cuStreamQuery), without waiting. */
int32_t cuda_stream_query(int32_t device, void *stream, int32_t *idle);
/* Work queued on `stream` after this waits for `event` (the host does not wait). */
int32_t cuda_stream_wait_event(int32_t device, void *stream, void *event);

/* Modules and launches: image is a cubin (or PTX) in memory. cuda_launch_kernel checks grid
 * and block against the device's limits before launching, and remembers `label` (the op and
 * kernel) as the device's last launch, which fault messages name. */
int32_t cuda_module_load(int32_t device, const void *image, void **module);
int32_t cuda_module_function(int32_t device, void *module, const char *name, void **function);
int32_t cuda_module_unload(int32_t device, void *module);
int32_t cuda_launch_kernel(int32_t device, void *function, const char *label, const uint32_t *grid,
                           const uint32_t *block, uint32_t shared_bytes, void *stream, void **params);
/* What the device last launched ("" when nothing was). */
const char *cuda_last_launch(int32_t device);

/* Events (flags as cuEventCreate's) */
int32_t cuda_event_create(int32_t device, uint32_t flags, void **event);
int32_t cuda_event_record(int32_t device, void *event, void *stream);
int32_t cuda_event_synchronize(int32_t device, void *event);
int32_t cuda_event_query(int32_t device, void *event, int32_t *done);
int32_t cuda_event_elapsed(int32_t device, void *start, void *end, float *ms);
int32_t cuda_event_destroy(int32_t device, void *event);

#endif /* CUDA_API_H */
