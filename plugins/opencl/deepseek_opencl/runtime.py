"""Per-device kernel runtime: builds the per-dtype programs on first use, caches them and their
kernels, and enqueues kernels (setting arguments and enqueueing under one lock, since
``clSetKernelArg`` on a shared ``cl_kernel`` is not thread-safe). It is the runtime the core's
Python planner (:mod:`deepseek.backends.kernels.plan`) runs over."""
from __future__ import annotations

import os
import threading

from deepseek.backends import kernels
from deepseek.backends.kernels import LS

from . import cl
from .cl import ffi

BUILD_OPTIONS = "-cl-std=CL1.2"

_ARG_TYPES = {"long": "int64_t", "ulong": "uint64_t", "int": "int32_t", "uint": "uint32_t", "ushort": "uint16_t",
              "uchar": "uint8_t", "double": "double", "float": "float"}
# cffi types resolved once (resolving a type from its string costs more than the launch itself)
_PTR = {k: (ffi.typeof(v + " *"), ffi.sizeof(v)) for k, v in _ARG_TYPES.items()}
_MEM_PTR, _MEM, _MEM_SIZE = ffi.typeof("cl_mem *"), ffi.typeof("cl_mem"), ffi.sizeof("cl_mem")
_SIZE_T_PTR, _SIZE_T = ffi.typeof("size_t *"), ffi.sizeof("size_t")
_SIZES = ffi.typeof("size_t[]")


class Runtime:
    name, package = "opencl", "deepseek-opencl"  # in the planner's messages
    fp64_missing = "cl_khr_fp64"

    def __init__(self, lib, ctx, device):
        self.lib, self.ctx, self.device = lib, ctx, device
        self.extensions = self._info_str(cl.CL_DEVICE_EXTENSIONS).split()
        self.fp64 = "cl_khr_fp64" in self.extensions
        dtype = ffi.new("cl_device_type *")
        cl.check(lib.clGetDeviceInfo(device, cl.CL_DEVICE_TYPE, ffi.sizeof("cl_device_type"), dtype, ffi.NULL),
                 "clGetDeviceInfo(CL_DEVICE_TYPE)")
        self.is_cpu = bool(dtype[0] & cl.CL_DEVICE_TYPE_CPU)  # picks the matmul variant
        fp = ffi.new("cl_bitfield *")
        cl.check(lib.clGetDeviceInfo(device, cl.CL_DEVICE_SINGLE_FP_CONFIG, ffi.sizeof("cl_bitfield"), fp, ffi.NULL),
                 "clGetDeviceInfo(CL_DEVICE_SINGLE_FP_CONFIG)")
        self.options = BUILD_OPTIONS
        if fp[0] & cl.CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT:  # float x / y and sqrt as the CPU rounds them
            self.options += " -cl-fp32-correctly-rounded-divide-sqrt"
        self._local = {}  # (dtype, kernel name) -> work-group size for 1-d launches
        self._lock = threading.RLock()
        self._programs = {}  # dtype name -> cl_program
        self._kernels = {}  # (dtype name, kernel name) -> cl_kernel

    def _info_str(self, param) -> str:
        size = ffi.new("size_t *")
        cl.check(self.lib.clGetDeviceInfo(self.device, param, 0, ffi.NULL, size), "clGetDeviceInfo")
        buf = ffi.new("char[]", size[0])
        cl.check(self.lib.clGetDeviceInfo(self.device, param, size[0], buf, ffi.NULL), "clGetDeviceInfo")
        return ffi.string(buf).decode("utf-8", "replace")

    def supports(self, dtype: str) -> bool:
        return dtype != "float64" or self.fp64

    def direct_matmul(self) -> bool:
        """k_matmul_direct on CPU drivers; DEEPSEEK_OPENCL_MATMUL=direct or =tiled forces one
        (read per launch, as the C table's hook reads it)."""
        variant = os.environ.get("DEEPSEEK_OPENCL_MATMUL")
        return variant == "direct" if variant else self.is_cpu

    def conv_gemm(self) -> bool:
        """Convolutions as im2col + matmul where they fit, unless DEEPSEEK_OPENCL_CONV=direct."""
        return os.environ.get("DEEPSEEK_OPENCL_CONV", "") != "direct"

    def _program(self, dtype: str):
        prog = self._programs.get(dtype)
        if isinstance(prog, Exception):
            raise NotImplementedError(str(prog))
        if prog is not None:
            return prog
        if not self.supports(dtype):
            raise NotImplementedError("float64 needs cl_khr_fp64, which this OpenCL device lacks")
        src = kernels.source(dtype, "opencl", self.fp64).encode()
        err = ffi.new("cl_int *")
        s = ffi.new("char[]", src)
        strings = ffi.new("const char *[1]", [s])
        prog = self.lib.clCreateProgramWithSource(self.ctx, 1, strings, ffi.NULL, err)
        cl.check(err[0], "clCreateProgramWithSource")
        dev = ffi.new("cl_device_id[1]", [self.device])
        code = self.lib.clBuildProgram(prog, 1, dev, self.options.encode(), ffi.NULL, ffi.NULL)
        if code != cl.CL_SUCCESS:
            # Not implemented rather than an error: the core then runs this dtype's ops on the
            # CPU (strict mode and the conformance tests still fail on it). Remembered, so a
            # broken driver is not asked again at every launch.
            log = self._build_log(prog)
            self.lib.clReleaseProgram(prog)
            exc = NotImplementedError(f"building the OpenCL {dtype} kernels failed ({cl.ERRORS.get(code, code)}):\n"
                                      f"{log[-4000:]}")
            self._programs[dtype] = exc
            raise exc
        self._programs[dtype] = prog
        return prog

    def _build_log(self, prog) -> str:
        size = ffi.new("size_t *")
        self.lib.clGetProgramBuildInfo(prog, self.device, cl.CL_PROGRAM_BUILD_LOG, 0, ffi.NULL, size)
        buf = ffi.new("char[]", max(size[0], 1))
        self.lib.clGetProgramBuildInfo(prog, self.device, cl.CL_PROGRAM_BUILD_LOG, size[0], buf, ffi.NULL)
        return ffi.string(buf).decode("utf-8", "replace")

    def kernel(self, dtype: str, name: str):
        key = (dtype, name)
        k = self._kernels.get(key)
        if k is not None:
            return k
        with self._lock:
            k = self._kernels.get(key)
            if k is None:
                k, self._local[key] = self.create_kernel(dtype, name)
                self._kernels[key] = k
            return k

    def create_kernel(self, dtype: str, name: str):
        """``(cl_kernel, work-group size of 1-d launches)``: a new kernel ``name`` of the
        ``dtype`` program (built on first use), owned by the caller. The C launch path asks
        for its own, so it never shares a kernel's arguments with this runtime."""
        with self._lock:
            prog = self._program(dtype)
            err = ffi.new("cl_int *")
            k = self.lib.clCreateKernel(prog, name.encode(), err)
            if err[0] == -46:
                raise NotImplementedError(f"no OpenCL kernel {name} for {dtype}")
            cl.check(err[0], f"clCreateKernel({name})")
            wg = ffi.new("size_t *")
            cl.check(self.lib.clGetKernelWorkGroupInfo(k, self.device, cl.CL_KERNEL_WORK_GROUP_SIZE,
                                                       ffi.sizeof("size_t"), wg, ffi.NULL),
                     "clGetKernelWorkGroupInfo")
            ls = LS
            while ls > 1 and ls > wg[0]:
                ls //= 2
            return k, ls

    def create_program_kernel(self, body: str, name: str):
        """``(cl_kernel, work-group size)`` of kernel ``name`` in a generated body
        (:mod:`deepseek.backends.kernels.fused`), built behind the OpenCL prelude with this
        device's options; owned by the caller. A body needing double on a device without
        cl_khr_fp64 raises NotImplementedError, a build failure RuntimeError with the log."""
        if "double" in body and not self.fp64:
            raise NotImplementedError("the generated kernel needs cl_khr_fp64, which this OpenCL device lacks")
        src = ffi.new("char[]", (kernels.prelude("opencl", self.fp64) + body).encode())
        strings = ffi.new("const char *[1]", [src])
        err = ffi.new("cl_int *")
        with self._lock:
            prog = self.lib.clCreateProgramWithSource(self.ctx, 1, strings, ffi.NULL, err)
            cl.check(err[0], "clCreateProgramWithSource")
            try:
                dev = ffi.new("cl_device_id[1]", [self.device])
                code = self.lib.clBuildProgram(prog, 1, dev, self.options.encode(), ffi.NULL, ffi.NULL)
                if code != cl.CL_SUCCESS:
                    raise RuntimeError(f"building the generated OpenCL kernel {name} failed "
                                       f"({cl.ERRORS.get(code, code)}):\n{self._build_log(prog)[-4000:]}")
                k = self.lib.clCreateKernel(prog, name.encode(), err)
                cl.check(err[0], f"clCreateKernel({name})")
            finally:
                self.lib.clReleaseProgram(prog)  # the kernel keeps its program alive
            wg = ffi.new("size_t *")
            cl.check(self.lib.clGetKernelWorkGroupInfo(k, self.device, cl.CL_KERNEL_WORK_GROUP_SIZE,
                                                       ffi.sizeof("size_t"), wg, ffi.NULL),
                     "clGetKernelWorkGroupInfo")
            ls = LS
            while ls > 1 and ls > wg[0]:
                ls //= 2
            return k, ls

    def buffer_size(self, mem: int) -> int:
        out = ffi.new(_SIZE_T_PTR)
        cl.check(self.lib.clGetMemObjectInfo(ffi.cast(_MEM, mem), cl.CL_MEM_SIZE, _SIZE_T, out, ffi.NULL),
                 "clGetMemObjectInfo(CL_MEM_SIZE)")
        return out[0]

    def temp(self, nbytes: int) -> int:
        """A scratch buffer; the caller releases it right after enqueueing (OpenCL keeps it alive
        until the commands using it have finished)."""
        err = ffi.new("cl_int *")
        mem = self.lib.clCreateBuffer(self.ctx, cl.CL_MEM_READ_WRITE, max(nbytes, 1), ffi.NULL, err)
        cl.check(err[0], f"clCreateBuffer({nbytes} bytes)")
        return int(ffi.cast("uintptr_t", mem))

    def release(self, mem: int) -> None:
        self.lib.clReleaseMemObject(ffi.cast("cl_mem", mem))

    def run(self, queue, dtype: str, name: str, args, gsize, lsize) -> None:
        """Enqueues kernel ``name`` of the ``dtype`` program; ``args`` are ``(kind, value)``:
        kind "mem" (a cl_mem as int, 0 for NULL), "bytes" (a cdata array passed by value) or a
        scalar type name (long, ulong, int, double...)."""
        k = self.kernel(dtype, name)
        if lsize == (LS,):  # a 1-d launch with the default size: the kernel may need less
            lsize = (self._local[(dtype, name)],)  # a power of two, so it divides the global size
        prepared = []
        for kind, value in args:
            if kind == "mem":
                prepared.append((_MEM_SIZE, ffi.new(_MEM_PTR, ffi.cast(_MEM, value))))
            elif kind == "bytes":
                prepared.append((ffi.sizeof(value), value))
            else:
                ptr, size = _PTR[kind]
                prepared.append((size, ffi.new(ptr, value)))
        g = ffi.new(_SIZES, list(gsize))
        lc = ffi.new(_SIZES, list(lsize)) if lsize else ffi.NULL
        with self._lock:
            for i, (size, p) in enumerate(prepared):
                cl.check(self.lib.clSetKernelArg(k, i, size, p), f"clSetKernelArg({name}, {i})")
            cl.check(self.lib.clEnqueueNDRangeKernel(queue, k, len(gsize), ffi.NULL, g, lc, 0, ffi.NULL, ffi.NULL),
                     f"clEnqueueNDRangeKernel({name}, global={tuple(gsize)}, local={tuple(lsize or ())})")

    def close(self) -> None:
        for k in self._kernels.values():
            self.lib.clReleaseKernel(k)
        for p in self._programs.values():
            if not isinstance(p, Exception):
                self.lib.clReleaseProgram(p)
        self._kernels.clear()
        self._local.clear()
        self._programs.clear()
