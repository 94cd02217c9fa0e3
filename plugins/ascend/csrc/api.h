/* api.h: what deepseek_ascend._ascend offers its Python side (deepseek_ascend/runtime.py).
 * cffi's cdef parses this file too (csrc/build_ascend.py), so it holds no macros besides the
 * include guard. Every int32_t result is a ds_status; asc_error() holds the message. */
#ifndef ASC_API_H
#define ASC_API_H

#include <stdint.h>

/* Opens libascendcl.so from the first of `dirs` that has it (else the loader path), then
 * libnnopbase.so and libopapi.so (or libopapi_*.so) beside it, and resolves the runtime's
 * functions and every aclnn operator. DS_ERROR_NOT_IMPLEMENTED: a library is missing. */
int32_t asc_open(const char *const *dirs, int32_t n_dirs);
/* aclInit, the device count and each op's way to run (once per process; a device's context
 * and stream come on its first use). */
int32_t asc_init(void);
const char *asc_error(void);
/* The ds_backend_table (its address is what the load hook returns). */
void *asc_table(void);
int32_t asc_device_count(int32_t *count);
const char *asc_soc_name(void);
int32_t asc_mem_get_info(int32_t device, uint64_t *free_bytes, uint64_t *total_bytes);
/* The aclnn operators the plugin may call (by index), whether each resolved, and the way
 * (index into the generated mapping's ways) each DS_OP_* id runs, -1 for none. */
const char *asc_operator_name(int32_t i);
int32_t asc_operator_found(int32_t i);
int32_t asc_op_way(int32_t op);

/* Events and streams for deepseek.ascend (a NULL stream is the device's default stream). */
int32_t asc_event_create(int32_t device, void **event);
int32_t asc_event_destroy(int32_t device, void *event);
int32_t asc_event_record(int32_t device, void *event, void *stream);
int32_t asc_event_synchronize(int32_t device, void *event);
int32_t asc_event_query(int32_t device, void *event, int32_t *done);
int32_t asc_event_elapsed(int32_t device, void *start, void *end, float *ms);
int32_t asc_stream_synchronize(int32_t device, void *stream);
int32_t asc_stream_wait_event(int32_t device, void *stream, void *event);

#endif /* ASC_API_H */
