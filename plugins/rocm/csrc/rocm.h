/* rocm.h: what deepseek_rocm._rocm offers its Python side beyond the GPU host layer's
 * dsg_host.h (cffi's cdef parses this file: plain declarations only).
 *
 * Every int32_t result is a ds_status (0 = DS_OK); on failure dsg_error() holds the message.
 */
#ifndef ROCM_H
#define ROCM_H

#include <stdint.h>

/* Opens the HIP runtime: the first of `candidates` (paths or bare library names for the
 * loader) that dlopen accepts; resolves the hip* functions, calls hipInit(0) and starts the
 * host layer. Once per process: later calls return the first call's status and message.
 * Answers 3 (DS_ERROR_NOT_IMPLEMENTED) when no candidate loads, 1 with "no AMD GPU: ..." when
 * the runtime sees no device. */
int32_t rocm_open(const char *const *candidates, int32_t n);
/* The file the runtime was opened from ("" before a successful rocm_open). */
const char *rocm_runtime_path(void);
/* hipRuntimeGetVersion's answer (e.g. 50221153 for HIP 5.2). */
int32_t rocm_runtime_version(int32_t *version);

int32_t rocm_device_name(int32_t device, char *buf, int32_t n);
/* The device's full gfx target ("gfx90a:sramecc+:xnack-"), from its properties. */
int32_t rocm_device_arch(int32_t device, char *buf, int32_t n);
int32_t rocm_device_attribute(int32_t device, int32_t attr, int32_t *out);
int32_t rocm_total_mem(int32_t device, uint64_t *out);

/* Loads rocBLAS (the first of `candidates` that dlopen accepts and that has what the plugin
 * calls) for matmul, after rocm_open; 3 (DS_ERROR_NOT_IMPLEMENTED) when none does: matmul then
 * runs the portable kernel. */
int32_t rocm_open_blas(const char *const *candidates, int32_t n);
/* The rocBLAS library in use ("" when none). */
const char *rocm_blas_path(void);

#endif /* ROCM_H */
