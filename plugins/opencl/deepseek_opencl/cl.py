"""The slice of the OpenCL 1.2 C API this backend uses, through cffi's ABI mode (no compiler),
and the library lookup shared by the probe and the loader."""
from __future__ import annotations

import os

import cffi

ffi = cffi.FFI()
ffi.cdef("""
typedef int32_t cl_int;
typedef uint32_t cl_uint;
typedef uint64_t cl_ulong;
typedef uint64_t cl_bitfield;
typedef cl_bitfield cl_device_type;
typedef cl_bitfield cl_mem_flags;
typedef cl_bitfield cl_command_queue_properties;
typedef cl_uint cl_bool;
typedef cl_uint cl_platform_info;
typedef cl_uint cl_device_info;
typedef intptr_t cl_context_properties;
typedef struct _cl_platform_id *cl_platform_id;
typedef struct _cl_device_id *cl_device_id;
typedef struct _cl_context *cl_context;
typedef struct _cl_command_queue *cl_command_queue;
typedef struct _cl_mem *cl_mem;
typedef struct _cl_event *cl_event;
typedef struct _cl_program *cl_program;
typedef struct _cl_kernel *cl_kernel;
typedef cl_uint cl_program_build_info;

cl_int clGetPlatformIDs(cl_uint, cl_platform_id *, cl_uint *);
cl_int clGetPlatformInfo(cl_platform_id, cl_platform_info, size_t, void *, size_t *);
cl_int clGetDeviceIDs(cl_platform_id, cl_device_type, cl_uint, cl_device_id *, cl_uint *);
cl_int clGetDeviceInfo(cl_device_id, cl_device_info, size_t, void *, size_t *);
cl_context clCreateContext(const cl_context_properties *, cl_uint, const cl_device_id *, void *, void *, cl_int *);
cl_int clReleaseContext(cl_context);
cl_command_queue clCreateCommandQueue(cl_context, cl_device_id, cl_command_queue_properties, cl_int *);
cl_int clReleaseCommandQueue(cl_command_queue);
cl_int clFinish(cl_command_queue);
cl_mem clCreateBuffer(cl_context, cl_mem_flags, size_t, void *, cl_int *);
cl_int clReleaseMemObject(cl_mem);
cl_int clEnqueueReadBuffer(cl_command_queue, cl_mem, cl_bool, size_t, size_t, void *, cl_uint, const cl_event *, cl_event *);
cl_int clEnqueueWriteBuffer(cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void *, cl_uint, const cl_event *, cl_event *);
cl_int clEnqueueCopyBuffer(cl_command_queue, cl_mem, cl_mem, size_t, size_t, size_t, cl_uint, const cl_event *, cl_event *);
cl_program clCreateProgramWithSource(cl_context, cl_uint, const char **, const size_t *, cl_int *);
cl_int clBuildProgram(cl_program, cl_uint, const cl_device_id *, const char *, void *, void *);
cl_int clGetProgramBuildInfo(cl_program, cl_device_id, cl_program_build_info, size_t, void *, size_t *);
cl_int clReleaseProgram(cl_program);
cl_kernel clCreateKernel(cl_program, const char *, cl_int *);
cl_int clReleaseKernel(cl_kernel);
cl_int clSetKernelArg(cl_kernel, cl_uint, size_t, const void *);
cl_int clEnqueueNDRangeKernel(cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *, const size_t *, cl_uint, const cl_event *, cl_event *);
cl_int clFlush(cl_command_queue);
cl_int clGetMemObjectInfo(cl_mem, cl_uint, size_t, void *, size_t *);
cl_int clGetKernelWorkGroupInfo(cl_kernel, cl_device_id, cl_uint, size_t, void *, size_t *);
""")

CL_SUCCESS = 0
CL_TRUE = 1
CL_PLATFORM_NAME = 0x0902
CL_PLATFORM_VERSION = 0x0901
CL_DEVICE_TYPE_ALL = 0xFFFFFFFF
CL_DEVICE_NAME = 0x102B
CL_MEM_READ_WRITE = 1
CL_DEVICE_EXTENSIONS = 0x1030
CL_DEVICE_TYPE = 0x1000
CL_DEVICE_TYPE_CPU = 1 << 1
CL_DEVICE_MAX_WORK_GROUP_SIZE = 0x1004
CL_DEVICE_LOCAL_MEM_SIZE = 0x1023
CL_PROGRAM_BUILD_LOG = 0x1183
CL_MEM_SIZE = 0x1102
CL_KERNEL_WORK_GROUP_SIZE = 0x11B0
CL_DEVICE_SINGLE_FP_CONFIG = 0x101B
CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT = 1 << 7

ERRORS = {
    -1: "CL_DEVICE_NOT_FOUND", -2: "CL_DEVICE_NOT_AVAILABLE", -4: "CL_MEM_OBJECT_ALLOCATION_FAILURE",
    -5: "CL_OUT_OF_RESOURCES", -6: "CL_OUT_OF_HOST_MEMORY", -30: "CL_INVALID_VALUE",
    -32: "CL_INVALID_PLATFORM", -33: "CL_INVALID_DEVICE", -34: "CL_INVALID_CONTEXT",
    -36: "CL_INVALID_COMMAND_QUEUE", -38: "CL_INVALID_MEM_OBJECT", -11: "CL_BUILD_PROGRAM_FAILURE",
    -44: "CL_INVALID_PROGRAM", -45: "CL_INVALID_PROGRAM_EXECUTABLE", -46: "CL_INVALID_KERNEL_NAME",
    -48: "CL_INVALID_KERNEL", -49: "CL_INVALID_ARG_INDEX", -50: "CL_INVALID_ARG_VALUE",
    -51: "CL_INVALID_ARG_SIZE", -52: "CL_INVALID_KERNEL_ARGS", -53: "CL_INVALID_WORK_DIMENSION",
    -54: "CL_INVALID_WORK_GROUP_SIZE", -55: "CL_INVALID_WORK_ITEM_SIZE", -63: "CL_INVALID_GLOBAL_WORK_SIZE",
    -61: "CL_INVALID_BUFFER_SIZE",
    -1001: "CL_PLATFORM_NOT_FOUND_KHR",
}
# allocation failures, and CL_INVALID_BUFFER_SIZE: a buffer larger than the device allows is
# out of memory too (the core counts it in num_ooms, as an oversize request on any device)
OUT_OF_MEMORY = {-4, -5, -6, -61}

LIBRARY_NAMES = ("OpenCL", "libOpenCL.so.1", "libOpenCL.so", "/System/Library/Frameworks/OpenCL.framework/OpenCL")


class CLError(RuntimeError):
    """An OpenCL call returned an error code."""

    def __init__(self, call: str, code: int):
        super().__init__(f"{call} failed: {ERRORS.get(code, 'OpenCL error')} ({code})")
        self.code = code


def check(code: int, call: str) -> None:
    if code != CL_SUCCESS:
        if code in OUT_OF_MEMORY:
            raise MemoryError(f"{call} failed: {ERRORS[code]} ({code})")
        raise CLError(call, code)


def open_library():
    """``(lib, None)`` for the first OpenCL library that loads, else ``(None, why)``.

    ``DEEPSEEK_OPENCL_LIBRARY`` overrides the names tried.
    """
    override = os.environ.get("DEEPSEEK_OPENCL_LIBRARY")
    names = (override,) if override else LIBRARY_NAMES
    for name in names:
        try:
            return ffi.dlopen(name), None
        except OSError:
            continue
    return None, f"libOpenCL not found (tried {', '.join(names)}): install an ICD loader and a driver, " \
                 "e.g. apt-get install ocl-icd-libopencl1 pocl-opencl-icd"


def _string_info(getter, handle, param) -> str:
    size = ffi.new("size_t *")
    check(getter(handle, param, 0, ffi.NULL, size), "clGet*Info")
    buf = ffi.new("char[]", size[0])
    check(getter(handle, param, size[0], buf, ffi.NULL), "clGet*Info")
    return ffi.string(buf).decode("utf-8", "replace")


def platforms(lib) -> list:
    """``[(platform_id, platform_name)]``; raises CLError (CL_PLATFORM_NOT_FOUND_KHR when none)."""
    n = ffi.new("cl_uint *")
    check(lib.clGetPlatformIDs(0, ffi.NULL, n), "clGetPlatformIDs")
    if n[0] == 0:
        return []
    ids = ffi.new("cl_platform_id[]", n[0])
    check(lib.clGetPlatformIDs(n[0], ids, ffi.NULL), "clGetPlatformIDs")
    return [(ids[i], _string_info(lib.clGetPlatformInfo, ids[i], CL_PLATFORM_NAME)) for i in range(n[0])]


def devices(lib, platform) -> list:
    """``[(device_id, device_name)]`` of every device of ``platform``."""
    n = ffi.new("cl_uint *")
    code = lib.clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, ffi.NULL, n)
    if code == -1:  # CL_DEVICE_NOT_FOUND
        return []
    check(code, "clGetDeviceIDs")
    ids = ffi.new("cl_device_id[]", n[0])
    check(lib.clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, n[0], ids, ffi.NULL), "clGetDeviceIDs")
    return [(ids[i], _string_info(lib.clGetDeviceInfo, ids[i], CL_DEVICE_NAME)) for i in range(n[0])]


def all_devices(lib) -> list:
    """``[(platform_name, device_id, device_name)]`` over every platform, in order."""
    return [(pname, d, dname) for p, pname in platforms(lib) for d, dname in devices(lib, p)]
