"""The portable dialect and its preludes: what the shared kernel bodies may use, defined once
per target language.

The bodies (:mod:`.programs`) are written against these names only:

====================================  =============================================================
``DS_KERNEL name(args)``              a kernel (``extern "C"`` in CUDA/HIP, so names are unmangled)
``DS_KERNEL_WG(x, y, z) name(args)``  a kernel that must run with work-groups (blocks) of x*y*z
``DS_FN``                             before a helper function (``__device__`` in CUDA/HIP)
``DS_GLOBAL``, ``DS_LOCAL``           pointer qualifier of device memory; work-group (shared) memory
``DS_GID(d)``, ``DS_LID(d)``,         global id (i64), local id (int), work-group id (i64) along
``DS_GROUP(d)``                       axis d = 0, 1, 2 (a literal)
``DS_BARRIER()``                      work-group barrier over local memory
``i8 u8 i16 u16 i32 u32 i64 u64``     integers by width; ``f16`` is float16's storage type
``DS_LOAD_F16(p, i)``                 float16 ``p[i]`` as float
``DS_STORE_F16(p, i, v)``             ``p[i] = v`` (float or double) rounded to nearest even
``ds_as_f32``, ``ds_as_u32``          bit casts between float and u32
``ds_d2f_rz(d)``                      double to float rounding toward zero
``ds_mulhi_u32(a, b)``                the high 32 bits of a * b
``ds_sat_<int type>(x)``              float or double to an integer type: truncation, saturation,
                                      NaN to 0
``DS_INFINITY``, ``DS_NAN``           float constants
====================================  =============================================================

and otherwise the C subset common to OpenCL C 1.2 and CUDA/HIP C++: structs passed by
value, ``switch``, the math functions of C99 (``exp log fmod pow rint isnan signbit...``),
overloaded on float and double as OpenCL and CUDA both do.
"""
from __future__ import annotations

DIALECTS = ("opencl", "cuda", "hip")

_INT_TYPES = {"i8": "char", "u8": "uchar", "i16": "short", "u16": "ushort", "i32": "int", "u32": "uint",
              "i64": "long", "u64": "ulong"}

OPENCL = r"""/* dialect: OpenCL C 1.2 */
#pragma OPENCL FP_CONTRACT OFF
%(fp64)s#define DS_KERNEL __kernel void
#define DS_KERNEL_WG(x, y, z) __kernel __attribute__((reqd_work_group_size(x, y, z))) void
#define DS_FN
#define DS_GLOBAL __global
#define DS_LOCAL __local
#define DS_GID(d) ((long)get_global_id(d))
#define DS_LID(d) ((int)get_local_id(d))
#define DS_GROUP(d) ((long)get_group_id(d))
#define DS_BARRIER() barrier(CLK_LOCAL_MEM_FENCE)
%(ints)s
typedef half f16;
#define DS_LOAD_F16(p, i) vload_half((i), (p))
#define DS_STORE_F16(p, i, v) vstore_half_rte((v), (i), (p))
#define ds_as_f32(x) as_float(x)
#define ds_as_u32(x) as_uint(x)
#define ds_d2f_rz(x) convert_float_rtz(x)
#define ds_mulhi_u32(a, b) mul_hi((uint)(a), (uint)(b))
%(sat)s
#define DS_INFINITY INFINITY
#define DS_NAN NAN
"""

# CUDA and HIP share everything but the float16 conversions.
_GPU = r"""/* dialect: %(name)s (no headers needed) */
#define DS_KERNEL extern "C" __global__ void
#define DS_KERNEL_WG(x, y, z) extern "C" __global__ void __launch_bounds__((x) * (y) * (z))
#define DS_FN static __device__ inline
#define DS_GLOBAL
#define DS_LOCAL __shared__
#define DS_AXIS_0 x
#define DS_AXIS_1 y
#define DS_AXIS_2 z
#define DS_GID(d) ((long long)blockIdx.DS_AXIS_##d * blockDim.DS_AXIS_##d + threadIdx.DS_AXIS_##d)
#define DS_LID(d) ((int)threadIdx.DS_AXIS_##d)
#define DS_GROUP(d) ((long long)blockIdx.DS_AXIS_##d)
#define DS_BARRIER() __syncthreads()
typedef signed char i8;
typedef unsigned char u8;
typedef short i16;
typedef unsigned short u16;
typedef int i32;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;
typedef unsigned short f16;
%(half)s
#define DS_LOAD_F16(p, i) ds_h2f((p)[i])
#define DS_STORE_F16(p, i, v) ((p)[i] = ds_f2h(v))
#define ds_as_f32(x) __uint_as_float(x)
#define ds_as_u32(x) __float_as_uint(x)
#define ds_d2f_rz(x) __double2float_rz(x)
#define ds_mulhi_u32(a, b) __umulhi((u32)(a), (u32)(b))
/* OpenCL's convert_<int>_sat_rtz: truncate, saturate, NaN to 0. The bounds converted to the
   float type round up to a power of two for the upper one, so x >= hi catches every value
   past the range and the cast below it is exact. */
#define DS_SAT(T, F, lo, hi) \
    static __device__ inline T ds_sat_##T(F x) { \
        return isnan(x) ? (T)0 : x <= (F)(lo) ? (T)(lo) : x >= (F)(hi) ? (T)(hi) : (T)x; }
#define DS_SATS(T, lo, hi) DS_SAT(T, float, lo, hi) DS_SAT(T, double, lo, hi)
DS_SATS(i8, -128, 127)
DS_SATS(u8, 0, 255)
DS_SATS(i16, -32768, 32767)
DS_SATS(i32, -2147483647 - 1, 2147483647)
DS_SATS(i64, -9223372036854775807LL - 1, 9223372036854775807LL)
#define DS_INFINITY __int_as_float(0x7f800000)
#define DS_NAN __int_as_float(0x7fc00000)
"""

# CUDA: the conversion instructions themselves, as cuda_fp16.h would emit them
_CUDA_HALF = r"""static __device__ inline float ds_h2f(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
static __device__ inline unsigned short ds_f2h(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
static __device__ inline unsigned short ds_f2h(double d) {
    unsigned short h;
    asm("cvt.rn.f16.f64 %0, %1;" : "=h"(h) : "d"(d));
    return h;
}"""

# HIP: clang's _Float16 (one rounding from double as from float)
_HIP_HALF = r"""static __device__ inline float ds_h2f(unsigned short h) { return (float)__builtin_bit_cast(_Float16, h); }
static __device__ inline unsigned short ds_f2h(float f) { return __builtin_bit_cast(unsigned short, (_Float16)f); }
static __device__ inline unsigned short ds_f2h(double d) { return __builtin_bit_cast(unsigned short, (_Float16)d); }"""


def prelude(dialect: str, fp64: bool = True) -> str:
    """The definitions of the portable names in ``dialect`` ("opencl", "cuda" or "hip");
    ``fp64`` enables double precision where the language needs it enabled (OpenCL)."""
    if dialect == "opencl":
        ints = "\n".join(f"typedef {c} {p};" for p, c in _INT_TYPES.items())
        sat = "\n".join(f"#define ds_sat_{p}(x) convert_{c}_sat_rtz(x)" for p, c in _INT_TYPES.items()
                        if p in ("i8", "u8", "i16", "i32", "i64"))
        fp = "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n" if fp64 else ""
        return OPENCL % {"fp64": fp, "ints": ints, "sat": sat}
    if dialect == "cuda":
        return _GPU % {"name": "CUDA C++ for NVRTC", "half": _CUDA_HALF}
    if dialect == "hip":
        return _GPU % {"name": "HIP C++ for hiprtc", "half": _HIP_HALF}
    raise ValueError(f"unknown kernel dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")


def compile_options(dialect: str) -> tuple:
    """Compiler options the kernels assume: no contraction of a * b + c into one rounding (the
    CPU core rounds each operation), IEEE division and square root."""
    if dialect == "opencl":
        return ("-cl-std=CL1.2",)  # FP_CONTRACT OFF is in the prelude
    if dialect == "cuda":
        return ("--fmad=false", "--prec-div=true", "--prec-sqrt=true")
    if dialect == "hip":
        return ("-ffp-contract=off",)
    raise ValueError(f"unknown kernel dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
