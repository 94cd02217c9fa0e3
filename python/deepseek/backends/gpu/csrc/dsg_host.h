/* dsg_host.h: what the GPU host layer offers a plugin's Python side (cffi's cdef parses this
 * file: plain declarations only, no macros besides the include guard).
 *
 * Every int32_t result is a ds_status (0 = DS_OK); on failure dsg_error() holds the message
 * (per thread, until the next failing call). Device pointers, modules, functions, streams and
 * events are the vendor's handles passed as void *. The vendor file starts the layer
 * (dsg_start, dsg_internal.h) once its library is open; before that every call fails.
 */
#ifndef DSG_HOST_H
#define DSG_HOST_H

#include <stdint.h>

/* The message of the last failure on this thread; dsg_keep_error sets it (Python's failures). */
const char *dsg_error(void);
void dsg_keep_error(const char *message);
/* 1 once a vendor started the layer. */
int32_t dsg_started(void);
/* The ds_backend_table (its address is what the load hook returns). */
void *dsg_table(void);
/* The op ids the table declares native (copied); before the table's registration. */
void dsg_set_ops(const int32_t *ops, int64_t n_ops);
/* The planner's registry (deepseek.backends.kernels.plan_registry over the core's ops in id
 * order, copied) and the ops' names (for messages). Before the first launch. */
int32_t dsg_set_registry(int32_t n_ops, const uint8_t *kinds, const int32_t *codes, const uint8_t *defined,
                         const uint8_t *acc_sizes, const double *rand_tops, const char *const *names);
/* How many times C asked Python for a program: none per launch once warm. */
int64_t dsg_python_calls(void);
/* How many generated programs (ABI 2.1's launch_program) the table has launched. */
int64_t dsg_program_launches(void);

/* Bytes per pinned staging buffer (two per device); 0 keeps the default (4 MiB). */
void dsg_set_staging_bytes(uint64_t nbytes);
uint64_t dsg_staging_bytes(void);
/* Frees every device's staging buffers and their events (also run at exit). */
int32_t dsg_release_staging(void);

int32_t dsg_device_count(int32_t *count);
int32_t dsg_mem_get_info(int32_t device, uint64_t *free_bytes, uint64_t *total_bytes);
int32_t dsg_memset(int32_t device, void *ptr, uint64_t offset, uint8_t value, uint64_t nbytes, void *stream);
int32_t dsg_stream_synchronize(int32_t device, void *stream);
/* *idle = whether the stream has finished its work, without waiting. */
int32_t dsg_stream_query(int32_t device, void *stream, int32_t *idle);
/* Work queued on `stream` after this waits for `event` (the host does not wait). */
int32_t dsg_stream_wait_event(int32_t device, void *stream, void *event);

/* Modules and launches. dsg_launch_kernel checks grid and block against the device's limits
 * and remembers `label` as the device's last launch, which fault messages name. */
int32_t dsg_module_load(int32_t device, const void *image, void **module);
int32_t dsg_module_function(int32_t device, void *module, const char *name, void **function);
int32_t dsg_module_unload(int32_t device, void *module);
int32_t dsg_launch_kernel(int32_t device, void *function, const char *label, const uint32_t *grid,
                          const uint32_t *block, uint32_t shared_bytes, void *stream, void **params);
/* What the device last launched ("" when nothing was). */
const char *dsg_last_launch(int32_t device);

/* Events: timing 0 makes a lighter event that elapsed time refuses. */
int32_t dsg_event_create(int32_t device, int32_t timing, void **event);
int32_t dsg_event_record(int32_t device, void *event, void *stream);
int32_t dsg_event_synchronize(int32_t device, void *event);
int32_t dsg_event_query(int32_t device, void *event, int32_t *done);
int32_t dsg_event_elapsed(int32_t device, void *start, void *end, float *ms);
int32_t dsg_event_destroy(int32_t device, void *event);

#endif /* DSG_HOST_H */
