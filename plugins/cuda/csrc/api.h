/* api.h: what the compiled module deepseek_cuda._launch offers its Python side beyond the GPU
 * host layer's dsg_host.h (memory, streams, events, modules, launches, errors: dsg_*). cffi's
 * cdef parses this file too (csrc/build_launch.py), so it holds no macros besides the include
 * guard.
 *
 * Every int32_t result is a ds_status (0 = DS_OK); on failure dsg_error() holds the message
 * (per thread, until the next failing call).
 */
#ifndef CUDA_API_H
#define CUDA_API_H

#include <stdint.h>

/* Opens the driver (path NULL: libcuda.so.1), resolves the cu* functions, calls cuInit(0) and
 * starts the host layer. Once per process: later calls return the first call's status (and
 * message) whatever the path. A missing library answers 3 (DS_ERROR_NOT_IMPLEMENTED: no
 * driver), so the probe can say so. */
int32_t cuda_open(const char *path);
/* The path the driver was opened from ("" before a successful cuda_open). */
const char *cuda_driver_path(void);
/* The CUDA version the driver implements (12040 for 12.4). */
int32_t cuda_driver_version(int32_t *version);

/* Device facts (attr: a CUdevice_attribute) */
int32_t cuda_device_name(int32_t device, char *buf, int32_t n);
int32_t cuda_device_attribute(int32_t device, int32_t attr, int32_t *out);
int32_t cuda_total_mem(int32_t device, uint64_t *out);

/* cuBLAS for matmul: dlopens `path` (once); DS_OK when loaded, else matmul keeps the portable
 * kernel. allow_tf32: float32 matmuls may use TensorFloat-32. cuda_cublas_calls counts GEMMs. */
int32_t cuda_open_cublas(const char *path);
int32_t cuda_cublas_loaded(void);
void cuda_set_allow_tf32(int32_t on);
int64_t cuda_cublas_calls(void);

#endif /* CUDA_API_H */
