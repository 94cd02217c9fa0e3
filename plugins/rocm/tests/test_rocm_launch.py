"""The launch path against the fake HIP runtime: primitive ops go through the shared planner
and the GPU host layer's enqueue hook to hipModuleLaunchKernel, with the kernels compiled by
the installed hipRTC for gfx90a. The fake records every launch's parameter bytes (sized by the
code object's metadata); the scripts decode them with rocm_helpers and read, through the
recorded pointers and offsets, the elements each kernel would touch, so the tests compare
values with the tensors rather than addresses."""
from __future__ import annotations

import numpy as np
import pytest

from deepseek.backends import kernels

from rocm_helpers import HERE

# The script's side: the helpers, the backend and the launches so far.
DECODE = f"""
import os, struct, sys
sys.path.insert(0, {str(HERE)!r})
import numpy as np, deepseek as ds
from deepseek.backends import kernels
from rocm_helpers import Log, params, meta, element_offsets
ds.backends.set_strict(True)
be = ds.backends.get_backend("rocm")

def launches(kernel):
    return Log.read(__import__("pathlib").Path(os.environ["FAKE_HIP_LOG"])).launches(kernel)

def ptr(blob):
    return struct.unpack("<Q", blob)[0]

def values(pointer, offsets, dtype):
    size = np.dtype(dtype).itemsize
    return [np.frombuffer(be.copy_to_host(0, pointer, size, src_offset=o * size), dtype=dtype)[0].item()
            for o in offsets]
"""


def test_binary_op_arguments_match_the_tensors(fake):
    """add of a (4, 5) float32 and a broadcast (5,) row: pointers, Meta3, n, the op code."""
    out, log = fake.run(DECODE + """
x = (ds.arange(20, dtype=ds.float32) + 100).reshape(4, 5).to("rocm")
y = (ds.arange(5, dtype=ds.float32) + 1000).to("rocm")
z = x + y
(call,) = launches("k_binary")
o, a, b, m, n, op = params(call)
shape, strides, offs = meta(m, 3, kernels.MAXD)
emit({"n": struct.unpack("<q", n)[0], "op": struct.unpack("<i", op)[0], "grid": call["grid"], "block": call["block"],
      "a": values(ptr(a), element_offsets(shape, strides[1], offs[1]), np.float32),
      "b": values(ptr(b), element_offsets(shape, strides[2], offs[2]), np.float32),
      "o": element_offsets(shape, strides[0], offs[0]), "o_ptr": ptr(o)})
""")
    assert out["n"] == 20 and out["op"] == kernels.BINARY.index("add")
    assert out["a"] == [100.0 + i for i in range(20)]
    assert out["b"] == [1000.0 + i % 5 for i in range(20)]
    assert out["o"] == list(range(out["o"][0], out["o"][0] + 20))  # a fresh contiguous output
    allocated = {int(c["ptr"], 16) for c in log.named("hipMalloc") if c.rc == 0}
    assert out["o_ptr"] in allocated  # element 0 of a block the plugin allocated: offsets travel in Meta
    assert out["block"] == f"{kernels.LS},1,1" and out["grid"] == "1,1,1"
    (get,) = [c for c in log.named("hipModuleGetFunction") if c["name"] == "k_binary"]
    assert get["nparams"] == "6"


def test_views_and_matmul_arguments(fake):
    """A transposed, offset view in a unary op, and matmul's P16 block with a transposed operand."""
    out, _ = fake.run(DECODE + """
base = (ds.arange(30, dtype=ds.float32) + 1).reshape(5, 6).to("rocm")
view = base.t()[1:5, 2:]                    # (4, 3), strides (1, 6), offset 13
r = ds.neg(view)
a = (ds.arange(12, dtype=ds.float32) - 3).reshape(3, 4).to("rocm")
bt = (ds.arange(8, dtype=ds.float32) * 2).reshape(2, 4).to("rocm").t()   # (4, 2)
c = a @ bt
(u,) = launches("k_unary")
p = params(u)
shape, strides, offs = meta(p[2], 2, kernels.MAXD)
(mm,) = launches("k_matmul")
q = params(mm)
v = struct.unpack(f"<{len(q[3]) // 8}q", q[3])
M, N, K = v[:3]
ao, asb, asm, ask, bo, bsb, bsk, bsn = v[3:11]
emit({"x": values(ptr(p[1]), element_offsets(shape, strides[1], offs[1]), np.float32),
      "op": struct.unpack("<i", p[4])[0], "MNK": [M, N, K], "longs": len(v), "grid": mm["grid"], "block": mm["block"],
      "a": [values(ptr(q[1]), [ao + i * asm + k * ask], np.float32)[0] for i in range(M) for k in range(K)],
      "b": [values(ptr(q[2]), [bo + k * bsk + j * bsn], np.float32)[0] for k in range(K) for j in range(N)]})
""")
    want = (np.arange(30, dtype=np.float32) + 1).reshape(5, 6).T[1:5, 2:]
    assert out["x"] == want.ravel().tolist() and out["op"] == kernels.UNARY.index("neg")
    assert out["MNK"] == [3, 2, 4] and out["longs"] == 16
    assert out["a"] == (np.arange(12, dtype=np.float32) - 3).tolist()
    assert out["b"] == (np.arange(8, dtype=np.float32) * 2).reshape(2, 4).T.ravel().tolist()
    assert out["block"] == f"{kernels.MW},{kernels.MW},1" and out["grid"] == "1,1,1"


def test_no_python_per_launch_once_warm_and_launches_keep_stream_order(fake):
    out, log = fake.run("""
import deepseek as ds
from deepseek_rocm._rocm import lib
ds.backends.set_strict(True)
x = ds.ones(1000, device="rocm")
y = x * 2
warm = lib.dsg_python_calls()
for _ in range(20):
    y = y + x
host = y.cpu()
emit([warm, lib.dsg_python_calls(), host.tolist()[:2]])
""")
    assert out[0] == out[1] == 1  # the float32 program built once, then no Python per launch
    order = [c.name for c in log if c.name in ("hipModuleLaunchKernel", "hipMemcpyDtoHAsync")]
    assert order.count("hipModuleLaunchKernel") == 22  # fill, mul, 20 adds
    assert order.index("hipMemcpyDtoHAsync") > max(i for i, n in enumerate(order) if n == "hipModuleLaunchKernel")
    launched = log.launches()
    assert all(c["stream"] == "0" and c["device"] == "0" for c in launched)
    assert {c["block"] for c in launched} == {f"{kernels.LS},1,1"}
    assert all(int(c["grid"].split(",")[0]) * kernels.LS >= 1000 for c in launched)


def test_long_reductions_use_stream_ordered_scratch_that_is_freed(fake):
    out, log = fake.run("""
import deepseek as ds
x = ds.ones(1 << 20, device="rocm")
s = x.sum()
emit(str(s.device))
""")
    assert out == "rocm:0"
    names = [c.name for c in log if c.name in ("hipMallocAsync", "hipFreeAsync", "hipModuleLaunchKernel")]
    kernels_run = [c["name"] for c in log.launches()]
    assert "k_red" in kernels_run and "k_redf" in kernels_run
    assert names.count("hipMallocAsync") == names.count("hipFreeAsync") >= 1
    scratch = {c["ptr"] for c in log.named("hipMallocAsync")}
    assert scratch == {c["ptr"] for c in log.named("hipFreeAsync")}
    # freed in stream order after the kernels that use it were enqueued
    assert names.index("hipFreeAsync") > names.index("hipModuleLaunchKernel")


def test_without_stream_ordered_pools_scratch_is_plain_and_freed_after_a_sync(fake):
    """A runtime that refuses hipMallocAsync (hipErrorNotSupported, 801) gets plain scratch
    allocations, freed once the stream has run the kernels that use them."""
    out, log = fake.run("""
import deepseek as ds
x = ds.ones(1 << 20, device="rocm")
emit([str(x.sum().device), str(x.sum().device)])
""", FAKE_HIP_FAIL="hipMallocAsync:801")
    assert out == ["rocm:0", "rocm:0"]
    assert len(log.named("hipMallocAsync")) == 1  # tried once, then the device is marked
    names = [c.name for c in log if c.name in ("hipMalloc", "hipFree", "hipStreamSynchronize", "hipModuleLaunchKernel")]
    scratch = [c["ptr"] for c in log.named("hipMalloc") if c.rc == 0 and int(c["bytes"]) < (1 << 20)]
    assert len(scratch) == 2 and {c["ptr"] for c in log.named("hipFree")} >= set(scratch)
    first_free = next(i for i, c in enumerate(c for c in log if c.name in ("hipMalloc", "hipFree",
                      "hipStreamSynchronize", "hipModuleLaunchKernel")) if c.name == "hipFree")
    assert names[first_free - 1] == "hipStreamSynchronize"


def test_a_kernel_fault_names_the_op_that_ran_last(fake):
    out, _ = fake.run("""
import os, deepseek as ds
x = ds.ones(8, device="rocm")
y = ds.exp(x)
os.environ["FAKE_HIP_FAIL"] = "hipDeviceSynchronize:700"
try:
    ds.rocm.synchronize()
except RuntimeError as e:
    emit(str(e))
""")
    assert "hipDeviceSynchronize(rocm:0): hipErrorIllegalAddress: an illegal memory access was encountered" in out
    assert "the last op launched on this device: exp (k_unary, float32)" in out


def test_a_launch_failure_names_the_kernel_and_its_geometry(fake):
    out, _ = fake.run("""
import os, deepseek as ds
x = ds.ones(300, device="rocm")
os.environ["FAKE_HIP_FAIL"] = "hipModuleLaunchKernel:701"
try:
    ds.exp(x)
except RuntimeError as e:
    emit(str(e))
""")
    assert ("hipModuleLaunchKernel(exp (k_unary, float32), grid (3, 1, 1), block (128, 1, 1)) on rocm:0: "
            "hipErrorLaunchOutOfResources: too many resources requested for launch") in out


def test_raw_launches_are_checked_against_the_device_limits(fake):
    """dsg_launch_kernel refuses a block or grid past the device's limits before HIP sees it,
    and packs kernelParams as given."""
    out, log = fake.run("""
import struct, deepseek as ds
from deepseek.backends import kernels
from deepseek_rocm import hiprtc, runtime
ffi, lib = runtime.ffi, runtime.lib
ds.backends.get_backend("rocm")
src = kernels.prelude("hip") + (
    "DS_KERNEL k_probe(float *o, int n, double v) { if (DS_GID(0) < n) o[DS_GID(0)] = (float)v; }")
image = hiprtc.compile_code_object(src, "probe", "gfx90a")
mod, fn = ffi.new("void **"), ffi.new("void **")
runtime.check(lib.dsg_module_load(0, ffi.from_buffer(image), mod))
runtime.check(lib.dsg_module_function(0, mod[0], b"k_probe", fn))
o, n, v = ffi.new("uint64_t *", 0x1000), ffi.new("int32_t *", 77), ffi.new("double *", 2.5)
args = ffi.new("void *[]", [o, n, v])
res = []
for grid, block in (((2, 1, 1), (64, 1, 1)), ((1, 1, 1), (2048, 1, 1)), ((1, 70000, 1), (1, 1, 1)),
                    ((1, 1, 1), (32, 32, 2))):
    st = lib.dsg_launch_kernel(0, fn[0], b"probe", ffi.new("uint32_t[3]", grid), ffi.new("uint32_t[3]", block), 0,
                               ffi.NULL, args)
    res.append([st, ffi.string(lib.dsg_error()).decode() if st else ""])
runtime.check(lib.dsg_module_unload(0, mod[0]))
emit(res)
""")
    assert out[0] == [0, ""]
    assert out[1][0] == 4 and "probe: grid (1, 1, 1) x block (2048, 1, 1) is outside rocm:0's limits" in out[1][1]
    assert out[2][0] == 4 and "grid <= (2147483647, 65536, 65536)" in out[2][1]
    assert out[3][0] == 4 and "block (32, 32, 2)" in out[3][1] and "1024 threads and 65536 shared bytes" in out[3][1]
    (launch,) = log.launches()  # only the first reached the runtime
    assert launch["params"] == "0010000000000000|4d000000|0000000000000440"
    assert launch["grid"] == "2,1,1" and launch["block"] == "64,1,1"


def test_a_program_that_does_not_load_fails_once_with_the_reason(fake):
    out, log = fake.run("""
import deepseek as ds
res = []
for _ in range(2):
    try:
        ds.ones(4, device="rocm")   # fill, in the float32 program
    except RuntimeError as e:
        res.append(str(e))
emit(res)
""", FAKE_HIP_FAIL="hipModuleLoadData:200")
    assert len(out) == 2 and all("building the float32 kernels for rocm:0 failed: hipModuleLoadData on rocm:0: "
                                 "hipErrorInvalidImage: device kernel image is invalid" in m for m in out), out
    assert len(log.named("hipModuleLoadData")) == 1


def test_a_compile_error_names_the_program_and_shows_hiprtc_log(fake, tmp_path):
    out, _ = fake.run("""
import deepseek as ds
from deepseek.backends import kernels
real = kernels.source
kernels.source = lambda program, dialect, fp64=True: real(program, dialect, fp64) + "\\nthis_is_not_hip;\\n"
try:
    ds.ones(4, dtype=ds.int16, device="rocm")
except RuntimeError as e:
    emit(str(e))
""", DEEPSEEK_ROCM_CACHE_DIR=tmp_path / "fresh")
    assert ("building the int16 kernels for rocm:0 failed: "
            "hipRTC could not compile kernel program 'int16' for gfx90a") in out
    assert "this_is_not_hip" in out and "error" in out


@pytest.mark.parametrize("dtype", ["int8", "float16", "bfloat16", "float64", "bool"])
def test_each_dtype_program_builds_and_launches(fake, dtype):
    """Every dtype's program compiles with hipRTC and its kernels are found in the loaded code
    object (the fake reads their argument lists from it)."""
    out, log = fake.run(f"""
import deepseek as ds
x = ds.zeros(10, dtype=ds.{dtype}, device="rocm")
y = (x == x)
emit([str(x.dtype), str(y.device)])
""")
    assert out == [f"deepseek.{dtype}", "rocm:0"]
    names = {c["name"] for c in log.launches()}
    assert {"k_fill", "k_predicate"} <= names
    assert all(c.rc == 0 for c in log.named("hipModuleGetFunction"))
