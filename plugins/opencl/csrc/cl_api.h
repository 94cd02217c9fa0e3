/* cl_api.h: the slice of the OpenCL 1.2 API that the C launch path calls.
 *
 * Declared here so that building needs no OpenCL headers; nothing links against libOpenCL.
 * ocl_init receives the functions' addresses from the library the Python side opened
 * (deepseek_opencl.cl.open_library, which honours DEEPSEEK_OPENCL_LIBRARY), in the order of
 * OCL_CL_FUNCTIONS; ocl_cl_name(i) tells Python that order.
 */
#ifndef OCL_CL_API_H
#define OCL_CL_API_H

#include <stddef.h>
#include <stdint.h>

typedef int32_t cl_int;
typedef uint32_t cl_uint;
typedef uint64_t cl_bitfield;
typedef struct _cl_context *cl_context;
typedef struct _cl_command_queue *cl_command_queue;
typedef struct _cl_mem *cl_mem;
typedef struct _cl_kernel *cl_kernel;
typedef struct _cl_event *cl_event;

#define CL_SUCCESS 0
#define CL_MEM_READ_WRITE 1
#define CL_MEM_SIZE 0x1102

/* X(return type, name, parameters) */
#define OCL_CL_FUNCTIONS(X)                                                                       \
    X(cl_int, clSetKernelArg, (cl_kernel, cl_uint, size_t, const void *))                        \
    X(cl_int, clEnqueueNDRangeKernel, (cl_command_queue, cl_kernel, cl_uint, const size_t *,      \
                                       const size_t *, const size_t *, cl_uint, const cl_event *, \
                                       cl_event *))                                               \
    X(cl_int, clGetMemObjectInfo, (cl_mem, cl_uint, size_t, void *, size_t *))                   \
    X(cl_mem, clCreateBuffer, (cl_context, cl_bitfield, size_t, void *, cl_int *))              \
    X(cl_int, clReleaseMemObject, (cl_mem))                                                       \
    X(cl_int, clReleaseKernel, (cl_kernel))                                                       \
    X(cl_int, clEnqueueWriteBuffer, (cl_command_queue, cl_mem, cl_uint, size_t, size_t, const void *, \
                                     cl_uint, const cl_event *, cl_event *))                       \
    X(cl_int, clEnqueueReadBuffer, (cl_command_queue, cl_mem, cl_uint, size_t, size_t, void *, cl_uint, \
                                    const cl_event *, cl_event *))                                 \
    X(cl_int, clEnqueueCopyBuffer, (cl_command_queue, cl_mem, cl_mem, size_t, size_t, size_t, cl_uint, \
                                    const cl_event *, cl_event *))                                 \
    X(cl_int, clFinish, (cl_command_queue))

typedef struct ocl_cl_api {
#define OCL_CL_FIELD(ret, name, params) ret(*name) params;
    OCL_CL_FUNCTIONS(OCL_CL_FIELD)
#undef OCL_CL_FIELD
} ocl_cl_api;

extern ocl_cl_api ocl_cl;

#endif /* OCL_CL_API_H */
